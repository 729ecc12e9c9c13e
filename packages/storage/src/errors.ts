/**
 * Storage failures. `STORAGE_UNAVAILABLE` (the database cannot be reached: services answer 503 and retry) is kept
 * apart from `STORAGE_CONFLICT` (a unique or serialisation conflict: the caller may retry the operation) and
 * `MIGRATION_FAILED` (the schema could not be brought up to date: the service must not start).
 */
export type StorageErrorCode = 'STORAGE_UNAVAILABLE' | 'STORAGE_CONFLICT' | 'MIGRATION_FAILED' | 'STORAGE_INVALID' | 'STORAGE_FAILED';

export class StorageError extends Error {
  override readonly name = 'StorageError';
  readonly code: StorageErrorCode;
  /** The SQLSTATE, when the database gave one. */
  readonly sqlState: string | undefined;

  constructor(code: StorageErrorCode, message: string, sqlState?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.sqlState = sqlState;
  }
}

/** Connection-level failures (node's errno codes, and SQLSTATE class 08 / 57P0x "admin shutdown" and friends). */
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Maps a driver error to a StorageError; never copies query parameters into the message. */
export function classify(e: unknown): StorageError {
  if (e instanceof StorageError) return e;
  const err = e as { code?: unknown; message?: unknown };
  const code = typeof err?.code === 'string' ? err.code : undefined;
  const message = typeof err?.message === 'string' ? err.message : String(e);
  if (code !== undefined && UNAVAILABLE_ERRNO.has(code)) return new StorageError('STORAGE_UNAVAILABLE', `database unreachable (${code})`, undefined, { cause: e });
  if (code !== undefined && /^[0-9A-Z]{5}$/.test(code)) {
    if (code.startsWith('08') || code.startsWith('57P') || code === '53300') {
      return new StorageError('STORAGE_UNAVAILABLE', `database unavailable (SQLSTATE ${code})`, code, { cause: e });
    }
    if (code === '23505' || code === '40001' || code === '40P01') {
      return new StorageError('STORAGE_CONFLICT', `conflict (SQLSTATE ${code}): ${message}`, code, { cause: e });
    }
    return new StorageError('STORAGE_FAILED', `database error (SQLSTATE ${code}): ${message}`, code, { cause: e });
  }
  if (/connection terminated|not queryable|Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message)) {
    return new StorageError('STORAGE_UNAVAILABLE', 'database unavailable (connection lost)', undefined, { cause: e });
  }
  return new StorageError('STORAGE_FAILED', message, undefined, { cause: e });
}

/**
 * What a transaction rethrows: a driver error becomes a StorageError; an error the caller's own callback threw (a
 * typed refusal of its own, say) passes through unchanged, so callers keep branching on their own codes.
 */
export function classifyTransactionError(e: unknown): unknown {
  if (e instanceof StorageError) return e;
  const code = (e as { code?: unknown } | null)?.code;
  const driverLike = typeof code === 'string' && (/^[0-9A-Z]{5}$/.test(code) || UNAVAILABLE_ERRNO.has(code));
  const message = (e as { message?: unknown } | null)?.message;
  const connectionLost = typeof message === 'string' && /connection terminated|not queryable|Client has encountered a connection error/i.test(message);
  return driverLike || connectionLost ? classify(e) : e;
}
