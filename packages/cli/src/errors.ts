/** Errors of the `cloister` command itself (its input and output), with stable codes. */
export type CliErrorCode = 'INPUT_UNREADABLE' | 'INVALID_ARGUMENT' | 'OUTPUT_UNWRITABLE';

export class CliError extends Error {
  readonly code: CliErrorCode;

  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'CliError';
  }
}
