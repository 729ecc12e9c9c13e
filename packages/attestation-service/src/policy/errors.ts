/** The one error of the MAA policy language: a stable `code` and where in the text (1-based line and column). */
export const MAA_POLICY_ERROR_CODES = ['POLICY_SYNTAX', 'POLICY_TOO_LARGE', 'POLICY_EVALUATION'] as const;
export type MaaPolicyErrorCode = (typeof MAA_POLICY_ERROR_CODES)[number];

export class MaaPolicyError extends Error {
  override readonly name = 'MaaPolicyError';
  readonly code: MaaPolicyErrorCode;
  readonly line: number;
  readonly column: number;

  constructor(code: MaaPolicyErrorCode, message: string, line: number, column: number) {
    super(`${message} (line ${line}, column ${column})`);
    this.code = code;
    this.line = line;
    this.column = column;
  }
}
