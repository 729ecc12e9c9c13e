/**
 * Health of a node's AESM service when Intel's aesmd (not this agent) owns /var/run/aesmd/aesm.socket: every
 * `intervalMs` the probe asks GetSupportedAttKeyIDNum — a cheap call that needs no enclave — and reports up/down as
 * metrics, readiness and logs that say what to do.
 */
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { AESM_SOCKET_PATH, AesmClient, AesmError, isAesmStatusError, probeSocket } from '@cloister/aesm';
import { AgentError } from '../errors.js';

/** 1 ms … 15 s (the client's default timeout). */
export const AESMD_PROBE_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15];

/** What the probe needs from a client; AesmClient fits. */
export interface AesmProbeClient {
  getSupportedAttKeyIdNum(): Promise<number>;
}

export interface AesmdProbeOptions {
  /** Default /var/run/aesmd/aesm.socket. */
  readonly socketPath?: string;
  /** Default 30000. */
  readonly intervalMs?: number;
  /** Per-probe timeout when the probe builds its own client. Default 5000: a healthy aesmd answers in milliseconds. */
  readonly timeoutMs?: number;
  /** Default: an AesmClient on socketPath. */
  readonly client?: AesmProbeClient;
  readonly logger?: Logger;
  /** Where the cloister_aesmd_* metrics live. Default: a private registry (see `registry`). */
  readonly registry?: Registry;
}

export type AesmdState =
  /** Not probed yet. */
  | 'unknown'
  /** Answered with at least one attestation key id. */
  | 'up'
  /** No socket file. */
  | 'missing'
  /** A socket file nobody listens on, or not accessible. */
  | 'unavailable'
  /** Accepted the connection but did not answer in time. */
  | 'timeout'
  /** Answered an aesm_error_t ≠ AESM_SUCCESS, broke the protocol, or supports no attestation key id. */
  | 'error';

export interface AesmdStatus {
  readonly socketPath: string;
  readonly state: AesmdState;
  readonly ready: boolean;
  /** GetSupportedAttKeyIDNum's answer at the last success. */
  readonly attKeyIdNum?: number;
  /** ISO time of the last finished probe / last success. */
  readonly lastProbeAt?: string;
  readonly lastSuccessAt?: string;
  readonly consecutiveFailures: number;
  /** The metric label and message of the last failure (cleared on success). */
  readonly lastError?: { readonly code: string; readonly message: string };
}

interface Failure {
  readonly state: Exclude<AesmdState, 'unknown' | 'up'>;
  /** The cloister_aesmd_probe_errors_total label: an AgentError code, an AESM_* name, or NO_ATT_KEY_IDS. */
  readonly code: string;
  readonly message: string;
  readonly advice: string;
}

function classify(err: unknown, socketPath: string): Failure {
  if (isAesmStatusError(err)) {
    return {
      state: 'error',
      code: err.aesmError,
      message: err.message,
      advice: 'aesmd is running but failing: read its log (kubectl logs, or journalctl -u aesmd on the host)',
    };
  }
  if (AesmError.is(err) || AgentError.is(err)) {
    const errno = (err.cause as NodeJS.ErrnoException | undefined)?.code;
    switch (err.code) {
      case 'AESM_UNAVAILABLE':
        return errno === 'ENOENT' || errno === 'ENOTDIR'
          ? {
              state: 'missing',
              code: err.code,
              message: err.message,
              advice: `no socket at ${socketPath}: start aesmd or the quote helper; mount /var/run/aesmd`,
            }
          : {
              state: 'unavailable',
              code: err.code,
              message: err.message,
              advice:
                errno === 'ECONNREFUSED'
                  ? `${socketPath} refuses connections: aesmd or the quote helper exited and left its socket; restart it`
                  : `cannot open ${socketPath}: check the permissions of /var/run/aesmd and the socket`,
            };
      case 'AESM_TIMEOUT':
        return {
          state: 'timeout',
          code: err.code,
          message: err.message,
          advice: 'aesmd accepted the connection but did not answer: it is hung or busy; check its log and restart it',
        };
      default:
        return {
          state: 'error',
          code: err.code,
          message: err.message,
          advice: 'the service on the socket does not speak the AESM protocol as expected: is it aesmd?',
        };
    }
  }
  return {
    state: 'error',
    code: 'UNKNOWN',
    message: err instanceof Error ? err.message : String(err),
    advice: 'unexpected probe failure',
  };
}

export class AesmdProbe {
  readonly socketPath: string;
  readonly intervalMs: number;
  readonly registry: Registry;
  readonly #client: AesmProbeClient;
  readonly #logger: Logger | undefined;
  readonly #up: Gauge;
  readonly #duration: Histogram;
  readonly #errors: Counter<'code'>;
  #status: AesmdStatus;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<AesmdStatus> | undefined;

  constructor(options: AesmdProbeOptions = {}) {
    this.socketPath = options.socketPath ?? AESM_SOCKET_PATH;
    this.intervalMs = options.intervalMs ?? 30_000;
    if (!Number.isInteger(this.intervalMs) || this.intervalMs <= 0) {
      throw new AgentError('CONFIG_INVALID', `aesmd probe intervalMs must be a positive integer, got ${this.intervalMs}`);
    }
    this.#client = options.client ?? new AesmClient({ socketPath: this.socketPath, timeoutMs: options.timeoutMs ?? 5000 });
    this.#logger = options.logger;
    this.registry = options.registry ?? new Registry();
    const registers = [this.registry];
    this.#up = new Gauge({
      name: 'cloister_aesmd_up',
      help: 'Whether the AESM service on this node answered the last GetSupportedAttKeyIDNum probe (1) or not (0).',
      registers,
    });
    this.#duration = new Histogram({
      name: 'cloister_aesmd_probe_duration_seconds',
      help: 'Time for one AESM GetSupportedAttKeyIDNum probe, successful or not.',
      buckets: [...AESMD_PROBE_BUCKETS],
      registers,
    });
    this.#errors = new Counter({
      name: 'cloister_aesmd_probe_errors_total',
      help: 'Failed AESM probes, by code (AESM_UNAVAILABLE, AESM_TIMEOUT, AESM_PROTOCOL, an aesm_error_t name, NO_ATT_KEY_IDS).',
      labelNames: ['code'] as const,
      registers,
    });
    this.#up.set(0);
    this.#status = { socketPath: this.socketPath, state: 'unknown', ready: false, consecutiveFailures: 0 };
  }

  /** Probe now, then every intervalMs (the timer does not keep the process alive). Idempotent. */
  start(): void {
    if (this.#timer !== undefined) return;
    void this.probeOnce();
    this.#timer = setInterval(() => void this.probeOnce(), this.intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer and waits for a probe in flight. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
  }

  ready(): boolean {
    return this.#status.ready;
  }

  status(): AesmdStatus {
    return this.#status;
  }

  /** One probe (joins the one in flight, if any); never throws. */
  probeOnce(): Promise<AesmdStatus> {
    this.#inFlight ??= this.#probe().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #probe(): Promise<AesmdStatus> {
    const started = process.hrtime.bigint();
    let failure: Failure | undefined;
    let num: number | undefined;
    try {
      num = await this.#client.getSupportedAttKeyIdNum();
      if (num === 0) {
        failure = {
          state: 'error',
          code: 'NO_ATT_KEY_IDS',
          message: 'aesmd answered GetSupportedAttKeyIDNum with 0 attestation key ids',
          advice:
            'aesmd runs without a quoting plugin: install libsgx-aesm-ecdsa-plugin, libsgx-aesm-quote-ex-plugin and ' +
            'libsgx-aesm-pce-plugin in its image',
        };
      }
    } catch (err) {
      failure = classify(err, this.socketPath);
    }
    this.#duration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    const now = new Date().toISOString();
    const previous = this.#status;
    if (failure === undefined) {
      this.#up.set(1);
      this.#status = {
        socketPath: this.socketPath,
        state: 'up',
        ready: true,
        ...(num === undefined ? {} : { attKeyIdNum: num }),
        lastProbeAt: now,
        lastSuccessAt: now,
        consecutiveFailures: 0,
      };
      if (previous.state !== 'up') {
        this.#logger?.info(
          { event: 'aesmd_up', socket: this.socketPath, attKeyIdNum: num, after: previous.state },
          'AESM service is answering',
        );
      }
    } else {
      this.#up.set(0);
      this.#errors.inc({ code: failure.code });
      this.#status = {
        socketPath: this.socketPath,
        state: failure.state,
        ready: false,
        lastProbeAt: now,
        ...(previous.lastSuccessAt === undefined ? {} : { lastSuccessAt: previous.lastSuccessAt }),
        consecutiveFailures: previous.consecutiveFailures + 1,
        lastError: { code: failure.code, message: failure.message },
      };
      const fields = {
        event: 'aesmd_down',
        socket: this.socketPath,
        state: failure.state,
        code: failure.code,
        failures: this.#status.consecutiveFailures,
        error: failure.message,
      };
      // Loud on a change, quiet while the same failure repeats every interval.
      if (previous.state !== failure.state || previous.lastError?.code !== failure.code) {
        this.#logger?.warn(fields, `AESM probe failed: ${failure.advice}`);
      } else {
        this.#logger?.debug(fields, `AESM probe still failing: ${failure.advice}`);
      }
    }
    return this.#status;
  }
}

/**
 * True when a live listener accepts connections on `socketPath` (e.g. Intel's aesmd): the agent then must not serve
 * the AESM protocol there itself. False for no file, a stale socket nobody listens on, or no answer in `timeoutMs`.
 */
export async function socketOwnedByAnotherServer(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return (await probeSocket(socketPath, timeoutMs)) === 'live';
}
