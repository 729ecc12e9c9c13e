/** How commands report: JSON on stdout with --json, readable text otherwise; failures carry a stable code. */
import { DcapError } from '@cloister/dcap';
import { CliError } from './errors.js';

export interface Failure {
  readonly code: string;
  readonly message: string;
}

export function failureOf(e: unknown): Failure | undefined {
  if (DcapError.is(e) || e instanceof CliError) return { code: e.code, message: e.message };
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
