/**
 * Errors of the `cloister` command itself (its input and output), with stable codes, and how every failure maps to
 * an exit status and a one-line message.
 *
 * Exit status: 0 done (for `verify`: verified, whatever the TCB status); 1 failed or not verified; 2 usage error
 * (unknown option, missing or invalid argument). Messages are one line; a stack trace is printed only for an error
 * that is none of the known kinds (a bug), never for a user's mistake or the system's answer (EADDRINUSE, EEXIST, …).
 */
export type CliErrorCode = 'INPUT_UNREADABLE' | 'INPUT_TOO_LARGE' | 'INVALID_ARGUMENT' | 'OUTPUT_UNWRITABLE' | 'USAGE';

export class CliError extends Error {
  readonly code: CliErrorCode;

  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'CliError';
  }
}

export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Codes that mean "the command was called wrongly" (exit 2): a flag's value, a malformed --policy, … */
const USAGE_CODES: ReadonlySet<string> = new Set(['USAGE', 'INVALID_ARGUMENT', 'POLICY_INVALID']);

export function exitCodeFor(code: string): number {
  return USAGE_CODES.has(code) ? EXIT_USAGE : EXIT_FAILED;
}

/** Collateral or certificates outside their validity at the verification time. */
const EXPIRY_CODES: ReadonlySet<string> = new Set([
  'SGX_PCK_CERT_CHAIN_EXPIRED',
  'SGX_SIGNING_CERT_CHAIN_EXPIRED',
  'SGX_CRL_EXPIRED',
  'SGX_TCB_INFO_EXPIRED',
  'SGX_ENCLAVE_IDENTITY_EXPIRED',
]);

/** A short hint for codes a user can act on, or undefined. */
export function hintFor(code: string): string | undefined {
  if (EXPIRY_CODES.has(code)) {
    return (
      'collateral is valid for a window of about 30 days; to check recorded evidence, verify at a time inside that ' +
      'window with --now <ISO time> (the samples in examples/dcap name theirs), or accept expired collateral as ' +
      'Intel QvE does with --allow-expired-collateral (reported in the result)'
    );
  }
  switch (code) {
    case 'EADDRINUSE':
      return 'another process is listening on that address: stop it, or choose another port';
    case 'EEXIST':
      return 'it already exists: choose another path, or remove it first (--force where the command offers it)';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied: run as a user that may use that path or port';
    case 'ENOENT':
      return 'no such file or directory';
    default:
      return undefined;
  }
}

/** The typed errors of Cloister's packages, each with a stable string `code` (checked by name: no package is loaded). */
const TYPED_ERRORS: ReadonlySet<string> = new Set([
  'CliError',
  'DcapError',
  'SimError',
  'AgentError',
  'AesmError',
  'FrameError',
  'EnclaveError',
  'RatlsError',
  'PolicyError',
  'ServiceError',
  'WebhookError',
  'StorageError',
  'MaaPolicyError',
  'InferenceError',
]);

export interface CliFailure {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
}

/**
 * A failure the CLI reports in one line: a typed Cloister error, or a Node.js system error (`EADDRINUSE`, `EEXIST`,
 * `EACCES`, … with its syscall and path or address). Undefined for anything else (a bug).
 */
export function cliFailureOf(e: unknown): CliFailure | undefined {
  if (!(e instanceof Error)) return undefined;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string') return undefined;
  const hint = hintFor(code);
  const withHint = (message: string): CliFailure => (hint !== undefined ? { code, message, hint } : { code, message });
  if (TYPED_ERRORS.has(e.name)) return withHint(firstLine(e.message));
  if (/^E[A-Z0-9_]+$/.test(code) && typeof (e as NodeJS.ErrnoException).syscall === 'string') {
    const x = e as NodeJS.ErrnoException & { address?: string; port?: number };
    const where = x.path ?? (x.address !== undefined ? `${x.address}${x.port !== undefined ? `:${x.port}` : ''}` : undefined);
    return withHint(`${x.syscall}${where !== undefined ? ` ${where}` : ''}: ${systemText(code)}`);
  }
  return undefined;
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}

const SYSTEM_TEXT: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available',
  EEXIST: 'already exists',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  ECONNREFUSED: 'connection refused',
};

function systemText(code: string): string {
  return SYSTEM_TEXT[code] ?? code;
}
