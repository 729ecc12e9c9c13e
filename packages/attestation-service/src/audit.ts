/**
 * The append-only audit log, written in batches (group commit): `append` resolves once its record is in the
 * database, so an attestation answers only after its record is durable; many concurrent requests share one INSERT.
 * When the database is unreachable the waiting requests fail with 503 STORAGE_UNAVAILABLE but their records stay
 * queued and are written when it returns (no record is lost while the process lives). The queue is bounded: beyond
 * `maxBacklog` records new work is refused with 503 AUDIT_BACKLOG before anything is done.
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
  readonly #maxBacklog: number;
  readonly #retryMs: number;
  readonly #lingerMs: number;
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #written = 0;

  constructor(db: Storage, log: Logger, options: AuditLogOptions = {}) {
    this.#db = db;
    this.#log = log;
    this.#enabled = options.enabled ?? true;
    this.#maxBatch = options.maxBatch ?? 256;
    this.#maxBacklog = options.maxBacklog ?? 100_000;
    this.#retryMs = options.retryMs ?? 500;
    this.#lingerMs = options.lingerMs ?? 2;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** Records waiting to be written. */
  get backlog(): number {
    return this.#queue.length;
  }

  /** Records written since start. */
  get written(): number {
    return this.#written;
  }

  /** Refuses new work while the backlog is full (call before doing the work the record describes). */
  admit(): void {
    if (this.#enabled && this.#queue.length >= this.#maxBacklog) {
      throw unavailable('AUDIT_BACKLOG', 'the audit log cannot keep up (database unavailable?); retry later');
    }
  }

  append(record: AuditRecord): Promise<void> {
    if (!this.#enabled) return Promise.resolve();
    this.admit();
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ record, resolve, reject });
      this.#schedule(this.#lingerMs);
    });
  }

  #schedule(ms: number): void {
    if (this.#timer !== undefined || this.#flushing !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, ms);
  }

  /** Writes what is queued now (one or more batches). Never rejects. */
  flush(): Promise<void> {
    if (this.#flushing !== undefined) return this.#flushing;
    const run = async (): Promise<void> => {
      let ok = true;
      while (ok && this.#queue.length > 0) ok = await this.#writeBatch();
      this.#flushing = undefined;
      if (this.#queue.length > 0) this.#schedule(ok ? 0 : this.#retryMs);
    };
    // Assigned before `run` can finish: it clears the field itself when done.
    const p = Promise.resolve().then(run);
    this.#flushing = p;
    return p;
  }

  async #writeBatch(): Promise<boolean> {
    const batch = this.#queue.slice(0, this.#maxBatch);
    try {
      await insertAudit(this.#db, batch.map((p) => p.record));
    } catch (e) {
      const fault = storageFault(e);
      for (const p of batch) {
        p.reject?.(fault);
        p.resolve = undefined;
        p.reject = undefined;
      }
      this.#log.warn({ backlog: this.#queue.length, code: (fault as { code?: string }).code }, 'audit log write failed; records kept for retry');
      return false;
    }
    this.#queue.splice(0, batch.length);
    this.#written += batch.length;
    for (const p of batch) p.resolve?.();
    return true;
  }

  /** Stops the timer after a last attempt to write what is queued. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#queue.length > 0) this.#log.error({ lost: this.#queue.length }, 'audit records not written at shutdown');
  }
}
