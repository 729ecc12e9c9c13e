/** Typed errors of @cloister/webhook: a stable string `code`; callers branch on it, never on the message. */
export type WebhookErrorCode =
  | 'INVALID_QUANTITY' // a Kubernetes quantity string that does not parse
  | 'INVALID_REVIEW' // an AdmissionReview that is not admission.k8s.io/v1 or lacks request fields
  | 'BODY_TOO_LARGE' // request body over the configured bound
  | 'INVALID_CONFIG' // webhook or install options that contradict each other
  | 'CERTIFICATE' // serving certificate/key unreadable or unusable
  | 'INVALID_OPTION'; // an install option out of range

export class WebhookError extends Error {
  readonly code: WebhookErrorCode;

  constructor(code: WebhookErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'WebhookError';
  }

  static is(e: unknown): e is WebhookError {
    return e instanceof WebhookError;
  }
}
