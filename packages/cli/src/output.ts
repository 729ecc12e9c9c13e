/** How commands report: JSON on stdout with --json, readable text otherwise; failures carry a stable code. */

export interface Failure {
  readonly code: string;
  readonly message: string;
}

/** The typed errors of Cloister's packages, each with a stable string `code` (checked by name: no package is loaded). */
const TYPED_ERRORS: ReadonlySet<string> = new Set(['CliError', 'DcapError', 'SimError', 'AgentError', 'EnclaveError', 'RatlsError']);

export function failureOf(e: unknown): Failure | undefined {
  if (e instanceof Error && TYPED_ERRORS.has(e.name) && typeof (e as { code?: unknown }).code === 'string') {
    return { code: (e as Error & { code: string }).code, message: e.message };
  }
  return undefined;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Report a failure and set exit code 1. Unknown exceptions propagate (a bug, not bad input). */
export function reportFailure(e: unknown, json: boolean): void {
  const f = failureOf(e);
  if (f === undefined) throw e;
  if (json) printJson({ ok: false, error: f });
  else process.stderr.write(`error ${f.code}: ${f.message}\n`);
  process.exitCode = 1;
}
