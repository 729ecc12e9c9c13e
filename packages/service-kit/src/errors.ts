/**
 * The one error type the services answer with. `code` is stable (callers branch on it), `status` is the HTTP status
 * it maps to (4xx: the caller's fault, 5xx: the service's), and `message` is safe to show: it never holds a secret.
 */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  readonly code: string;
  readonly status: number;
  /** Extra fields a caller may branch on (e.g. `rule`), serialised next to `code` and `message`. */
  readonly details: Readonly<Record<string, string | number | boolean>> | undefined;

  constructor(
    code: string,
    status: number,
    message: string,
    details?: Readonly<Record<string, string | number | boolean>>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
    this.status = status;
    this.details = details;
  }
}

export function isServiceError(e: unknown): e is ServiceError {
  return e instanceof ServiceError;
}
