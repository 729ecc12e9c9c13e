/**
 * The append-only audit log, written in batches (group commit): `append` resolves once its record is in the
 * database, so an attestation answers only after its record is durable; concurrent requests share one INSERT, and up
 * to `maxInFlight` INSERTs run at once (PostgreSQL: the database merges their commits too). When the database is
 * unreachable the waiting requests fail with 503 STORAGE_UNAVAILABLE but their records stay queued and are written
 * when it returns (no record is lost while the process lives). The queue is bounded: beyond `maxBacklog` records new
 * work is refused with 503 AUDIT_BACKLOG before anything is done.
 */
import type { Logger } from '@cloister/service-kit';
import type { Storage } from '@cloister/storage';
import { unavailable } from './errors.js';
import { insertAudit, storageFault, type AuditRecord } from './store.js';

export interface AuditLogOptions {
  /** Default true; false: records are dropped (benchmarks of the log's cost only). */
  readonly enabled?: boolean;
  /** Records per INSERT (default 256). */
  readonly maxBatch?: number;
  /** INSERTs at once (default 4 on PostgreSQL, 1 on PGlite, which has one connection). */
  readonly maxInFlight?: number;
  /** Records kept while the database is away (default 100 000). */
  readonly maxBacklog?: number;
  /** Retry interval while the database is away (default 500 ms). */
  readonly retryMs?: number;
  /** How long a first record waits for others to share its INSERT (default 2 ms). */
  readonly lingerMs?: number;
}

interface Pending {
  readonly record: AuditRecord;
  resolve?: () => void;
  reject?: (e: unknown) => void;
}

export class AuditLog {
  readonly #db: Storage;
  readonly #log: Logger;
  readonly #enabled: boolean;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  readonly #maxBacklog: number;
  readonly #retryMs: number;
  readonly #lingerMs: number;
  #queue: Pending[] = [];
  /** Records being written now. */
  #writing = 0;
  #inFlight = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Set after a failed write until the retry timer fires. */
  #backoff = false;
  #closed = false;
  #written = 0;
  #idle: (() => void)[] = [];

  constructor(db: Storage, log: Logger, options: AuditLogOptions = {}) {
    this.#db = db;
    this.#log = log;
    this.#enabled = options.enabled ?? true;
    this.#maxBatch = options.maxBatch ?? 256;
    this.#maxInFlight = Math.max(1, options.maxInFlight ?? (db.kind === 'postgres' ? 4 : 1));
    this.#maxBacklog = options.maxBacklog ?? 100_000;
    this.#retryMs = options.retryMs ?? 500;
    this.#lingerMs = options.lingerMs ?? 2;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** Records not yet written (queued or being written). */
  get backlog(): number {
    return this.#queue.length + this.#writing;
  }

  /** Records written since start. */
  get written(): number {
    return this.#written;
  }

  /** Refuses new work while the backlog is full (call before doing the work the record describes). */
  admit(): void {
    if (this.#enabled && this.backlog >= this.#maxBacklog) {
      throw unavailable('AUDIT_BACKLOG', 'the audit log cannot keep up (database unavailable?); retry later');
    }
  }

  append(record: AuditRecord): Promise<void> {
    if (!this.#enabled) return Promise.resolve();
    this.admit();
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ record, resolve, reject });
      // A full batch goes now (if a write slot is free); otherwise the first record waits lingerMs for company.
      if (this.#queue.length >= this.#maxBatch && this.#timer !== undefined) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
        this.#pump();
      } else this.#schedule(this.#lingerMs);
    });
  }

  #schedule(ms: number): void {
    if (this.#timer !== undefined || this.#closed || this.#backoff) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, ms);
  }

  /** Starts as many batch writes as allowed. */
  #pump(): void {
    if (this.#closed) return;
    while (!this.#backoff && this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      this.#inFlight++;
      this.#writing += batch.length;
      void this.#write(batch).then((ok) => {
        this.#inFlight--;
        this.#writing -= batch.length;
        if (!ok) {
          this.#queue.unshift(...batch);
          if (!this.#backoff) {
            this.#backoff = true;
            setTimeout(() => {
              this.#backoff = false;
              this.#pump();
            }, this.#retryMs).unref();
          }
        }
        this.#pump();
        this.#wakeIdle();
      });
    }
    this.#wakeIdle();
  }

  async #write(batch: Pending[]): Promise<boolean> {
    try {
      await insertAudit(this.#db, batch.map((p) => p.record), { form: this.#db.kind === 'postgres' ? 'values' : 'jsonb' });
    } catch (e) {
      const fault = storageFault(e);
      for (const p of batch) {
        p.reject?.(fault);
        p.resolve = undefined;
        p.reject = undefined;
      }
      this.#log.warn({ backlog: this.backlog, code: (fault as { code?: string }).code }, 'audit log write failed; records kept for retry');
      return false;
    }
    this.#written += batch.length;
    for (const p of batch) p.resolve?.();
    return true;
  }

  #wakeIdle(): void {
    if (this.#inFlight > 0 || (this.#queue.length > 0 && !this.#backoff)) return;
    const waiting = this.#idle;
    this.#idle = [];
    for (const w of waiting) w();
  }

  /**
   * Writes what is queued now; resolves when nothing is being written and the queue is empty or waiting for the
   * database to return. Never rejects.
   */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const done = new Promise<void>((resolve) => this.#idle.push(resolve));
    this.#pump();
    return done;
  }

  /** Stops the timers after a last attempt to write what is queued. */
  async close(): Promise<void> {
    this.#backoff = false;
    await this.flush();
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#queue.length > 0) this.#log.error({ lost: this.#queue.length }, 'audit records not written at shutdown');
  }
}
