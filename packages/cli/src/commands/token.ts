/** `cloister token verify TOKEN --url URL | --jwks FILE`: check an attestation token's signature, times and issuer. */
import { readFileSync } from 'node:fs';
import { fetchJwks, verifyAttestationToken, type JwksDocument } from '@cloister/attestation-service';
import { CliError } from '../errors.js';
import { readInputFile } from '../io.js';
import { printJson, row } from '../output.js';
import { claimRows } from './attest.js';

export interface TokenVerifyOptions {
  readonly url?: string;
  readonly jwks?: string;
  readonly issuer?: string;
  readonly ca?: string;
  readonly json?: boolean;
}

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** TOKEN is the JWT itself, a file holding it, or - for stdin. */
function readToken(arg: string): string {
  if (JWT.test(arg)) return arg;
  const text = new TextDecoder().decode(readInputFile(arg, 'token', 1024 * 1024)).trim();
  if (!JWT.test(text)) throw new CliError('INVALID_ARGUMENT', `${arg} does not hold a JWT`);
  return text;
}

export async function tokenVerifyCommand(tokenArg: string, opts: TokenVerifyOptions): Promise<void> {
  if ((opts.url === undefined) === (opts.jwks === undefined)) throw new CliError('INVALID_ARGUMENT', 'give exactly one of --url URL or --jwks FILE');
  const token = readToken(tokenArg);
  let jwks: JwksDocument;
  if (opts.jwks !== undefined) {
    try {
      jwks = JSON.parse(new TextDecoder().decode(readInputFile(opts.jwks, 'JWKS', 1024 * 1024))) as JwksDocument;
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw new CliError('INVALID_ARGUMENT', `${opts.jwks} is not a JWKS (JSON {"keys":[…]})`);
    }
    if (!Array.isArray(jwks?.keys)) throw new CliError('INVALID_ARGUMENT', `${opts.jwks} is not a JWKS (JSON {"keys":[…]})`);
  } else {
    const ca = opts.ca !== undefined ? readFileSync(opts.ca, 'utf8') : undefined;
    jwks = await fetchJwks(opts.url!, ca !== undefined ? { ca } : {});
  }
  // With --url the issuer is that URL exactly (as EGo and the Azure samples check), unless --issuer says otherwise.
  const issuer = opts.issuer ?? (opts.url !== undefined ? opts.url.replace(/\/+$/, '') : undefined);
  const v = await verifyAttestationToken(token, { jwks, ...(issuer !== undefined ? { issuer } : {}) });
  if (opts.json === true) {
    printJson({ ok: true, kid: v.kid, header: v.header, claims: v.claims });
    return;
  }
  process.stdout.write(`token valid\n${row('kid', v.kid)}${claimRows(v.claims)}`);
}
