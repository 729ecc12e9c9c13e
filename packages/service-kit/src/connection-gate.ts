/**
 * Admission for a listener any local process may connect to (the AESM socket is 0777 by design, the metrics port is
 * open to the pod network): connections that have not yet delivered a complete request cannot take the capacity that
 * complete requests need, and excess connections are cut without starving the others.
 *
 * A connection is *waiting* from accept until the protocol layer calls `complete()` (a whole frame, the request
 * headers, the HTTP/2 preface). Waiting connections sit in one of two lanes:
 *   - `pending`: at most `maxPending` of them, each allowed `pendingTimeoutMs` (if set; otherwise the protocol layer
 *     keeps its own deadline);
 *   - `overflow`: every waiting connection beyond `maxPending`, allowed only `overflowTimeoutMs` — long enough for a
 *     local client that writes its request right after connecting, far too short to hold a slot by trickling bytes.
 *     When a pending slot frees, the oldest overflow connection moves up.
 *   - `probation`: once `maxConnections` are open (waiting or being answered), a new connection is still read, but
 *     only for `probationTimeoutMs` (default 50 ms): a client that wrote its request with its connect is served, a
 *     flood of silent connections beyond the cap costs one short timer each and takes nothing from anyone. Nothing
 *     already admitted is ever closed to make room. At most `maxProbation` (default maxConnections) are on probation;
 *     beyond that a new connection is refused.
 *
 * Deadlines are checked one event-loop turn late (setImmediate after the timer): a request already in the kernel
 * buffer when the deadline passes is read first, so a server busy with other work never drops a client that did send.
 * Without SO_PEERCRED (Node cannot read it without a native addon) there is no per-client accounting: the lanes bound
 * what any number of slow clients can hold, whoever they are.
 */
import type { Socket } from 'node:net';

/** Why the gate closed a connection. */
export type GateDropReason =
  /** In the overflow lane past overflowTimeoutMs. */
  | 'overflow_timeout'
  /** In the pending lane past pendingTimeoutMs. */
  | 'pending_timeout'
  /** Accepted beyond maxConnections and no complete request within probationTimeoutMs. */
  | 'probation_timeout'
  /** Refused: maxConnections open and maxProbation on probation. */
  | 'refused';

export interface ConnectionGateLimits {
  /** Waiting connections with the full deadline. */
  readonly maxPending: number;
  /** Deadline of a waiting connection beyond maxPending, ms. */
  readonly overflowTimeoutMs: number;
  /** Open connections (waiting or being answered) before new ones go on probation; must be above maxPending. */
  readonly maxConnections: number;
  /** Deadline of a connection accepted beyond maxConnections, ms. Default min(50, overflowTimeoutMs). */
  readonly probationTimeoutMs?: number;
  /** Connections on probation at once. Default maxConnections. */
  readonly maxProbation?: number;
  /** Deadline of a pending connection, ms; unset: the protocol layer enforces its own. */
  readonly pendingTimeoutMs?: number;
}

export interface ConnectionGateOptions extends ConnectionGateLimits {
  /** Called before the gate destroys a connection. */
  readonly onDrop?: (socket: Socket, reason: GateDropReason) => void;
}

type Lane = 'pending' | 'overflow' | 'probation';

interface Waiting {
  readonly lane: Lane;
  readonly timer: NodeJS.Timeout | undefined;
}

function checkLimit(value: number, min: number, what: string): void {
  if (!Number.isInteger(value) || value < min || value > 10_000_000) {
    throw new RangeError(`connection gate: ${what} must be an integer >= ${min}, got ${String(value)}`);
  }
}

export class ConnectionGate {
  readonly maxPending: number;
  readonly maxConnections: number;
  readonly overflowTimeoutMs: number;
  readonly pendingTimeoutMs: number | undefined;
  readonly probationTimeoutMs: number;
  readonly maxProbation: number;
  readonly #onDrop: ((socket: Socket, reason: GateDropReason) => void) | undefined;
  /** Insertion order is age order: the first entry is the oldest. */
  readonly #pending = new Map<Socket, Waiting>();
  readonly #overflow = new Map<Socket, Waiting>();
  readonly #probation = new Map<Socket, Waiting>();
  readonly #open = new Set<Socket>();
  #peakPending = 0;

  constructor(options: ConnectionGateOptions) {
    checkLimit(options.maxPending, 1, 'maxPending');
    checkLimit(options.maxConnections, options.maxPending + 1, 'maxConnections (above maxPending)');
    checkLimit(options.overflowTimeoutMs, 1, 'overflowTimeoutMs');
    if (options.pendingTimeoutMs !== undefined) checkLimit(options.pendingTimeoutMs, 1, 'pendingTimeoutMs');
    this.probationTimeoutMs = options.probationTimeoutMs ?? Math.min(50, options.overflowTimeoutMs);
    checkLimit(this.probationTimeoutMs, 1, 'probationTimeoutMs');
    this.maxProbation = options.maxProbation ?? options.maxConnections;
    checkLimit(this.maxProbation, 0, 'maxProbation');
    this.maxPending = options.maxPending;
    this.maxConnections = options.maxConnections;
    this.overflowTimeoutMs = options.overflowTimeoutMs;
    this.pendingTimeoutMs = options.pendingTimeoutMs;
    this.#onDrop = options.onDrop;
  }

  /** Open connections (waiting, being answered, or on probation). */
  get open(): number {
    return this.#open.size;
  }

  /** Connections accepted beyond maxConnections, on their short probation. */
  get probation(): number {
    return this.#probation.size;
  }

  /** Waiting connections in the pending lane (never above maxPending). */
  get pending(): number {
    return this.#pending.size;
  }

  /** Waiting connections in the overflow lane. */
  get overflow(): number {
    return this.#overflow.size;
  }

  /** The most connections the pending lane ever held (≤ maxPending). */
  get peakPending(): number {
    return this.#peakPending;
  }

  /** A new connection. False when it was refused (and destroyed). */
  accept(socket: Socket): boolean {
    const atCap = this.#open.size - this.#probation.size >= this.maxConnections;
    if (atCap && this.#probation.size >= this.maxProbation) {
      this.#drop(socket, 'refused');
      return false;
    }
    this.#open.add(socket);
    socket.once('close', () => this.#forget(socket));
    if (atCap) this.#enter(socket, 'probation');
    else this.#wait(socket);
    return true;
  }

  /** The connection delivered a complete request: it no longer holds a waiting slot or deadline. */
  complete(socket: Socket): void {
    if (this.#leave(socket) === 'pending') this.#promote();
  }

  /**
   * An admitted connection waits for another request (HTTP keep-alive): it takes a waiting slot again. In the pending
   * lane its deadline is `pendingTimeoutMs`, or `timeoutMs` when given (keep-alive idle time plus the head deadline).
   */
  waitAgain(socket: Socket, timeoutMs?: number): void {
    if (!this.#open.has(socket) || this.#isWaiting(socket) || socket.destroyed) return;
    this.#wait(socket, timeoutMs);
  }

  /** Destroys every connection (server stop). */
  closeAll(): void {
    for (const socket of [...this.#open]) {
      this.#leave(socket);
      this.#open.delete(socket);
      socket.destroy();
    }
  }

  #wait(socket: Socket, pendingMs?: number): void {
    if (this.#pending.size < this.maxPending) this.#enter(socket, 'pending', pendingMs);
    else this.#enter(socket, 'overflow');
  }

  #map(lane: Lane): Map<Socket, Waiting> {
    return lane === 'pending' ? this.#pending : lane === 'overflow' ? this.#overflow : this.#probation;
  }

  #isWaiting(socket: Socket): boolean {
    return this.#pending.has(socket) || this.#overflow.has(socket) || this.#probation.has(socket);
  }

  #enter(socket: Socket, lane: Lane, pendingMs?: number): void {
    const ms = lane === 'pending' ? (pendingMs ?? this.pendingTimeoutMs) : lane === 'overflow' ? this.overflowTimeoutMs : this.probationTimeoutMs;
    const reason: GateDropReason =
      lane === 'pending' ? 'pending_timeout' : lane === 'overflow' ? 'overflow_timeout' : 'probation_timeout';
    const map = this.#map(lane);
    let entry: Waiting;
    const timer =
      ms === undefined
        ? undefined
        : setTimeout(() => {
            // One more turn of the event loop: a request already received is read before the deadline applies.
            setImmediate(() => {
              if (map.get(socket) === entry) this.#drop(socket, reason);
            });
          }, ms);
    timer?.unref();
    entry = { lane, timer };
    map.set(socket, entry);
    if (lane === 'pending' && this.#pending.size > this.#peakPending) this.#peakPending = this.#pending.size;
  }

  /** Removes the socket from its waiting lane; returns the lane it was in. */
  #leave(socket: Socket): Lane | undefined {
    const entry = this.#pending.get(socket) ?? this.#overflow.get(socket) ?? this.#probation.get(socket);
    if (entry === undefined) return undefined;
    clearTimeout(entry.timer);
    this.#map(entry.lane).delete(socket);
    return entry.lane;
  }

  #promote(): void {
    while (this.#pending.size < this.maxPending) {
      const next = this.#overflow.keys().next();
      if (next.done === true) return;
      this.#leave(next.value);
      this.#enter(next.value, 'pending');
    }
  }

  #drop(socket: Socket, reason: GateDropReason): void {
    const lane = this.#leave(socket);
    this.#open.delete(socket);
    try {
      this.#onDrop?.(socket, reason);
    } finally {
      socket.destroy();
      if (lane === 'pending') this.#promote();
    }
  }

  #forget(socket: Socket): void {
    const lane = this.#leave(socket);
    this.#open.delete(socket);
    if (lane === 'pending') this.#promote();
  }
}
