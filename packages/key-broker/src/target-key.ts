/**
 * The key a release is wrapped to (Key Vault policy grammar, "Environment Assertion"): the first RSA key of the JWKS
 * in the token's `x-ms-runtime.keys` (runtime data sent as JSON) whose `key_ops` include `encrypt` or whose `use` is
 * `enc`; or, as MarbleRun/EGo send it, of the JWKS carried as binary runtime data in `x-ms-sgx-ehd` (base64url).
 */
import { createHash } from 'node:crypto';
import { KeyBrokerError } from './errors.js';

export interface TargetKey {
  readonly jwk: JsonWebKey;
  /** The key's `kid`, or its SHA-256 over n (hex) when it has none: the `kid` of AKV's key_hsm header. */
  readonly kid: string;
  readonly source: 'x-ms-runtime' | 'x-ms-sgx-ehd';
}

const MAX_EHD_BYTES = 16 * 1024;

function pick(keys: unknown): { jwk: JsonWebKey; kid: string } | undefined {
  if (!Array.isArray(keys)) return undefined;
  for (const k of keys.slice(0, 32)) {
    if (typeof k !== 'object' || k === null) continue;
    const j = k as Record<string, unknown>;
    if (j['kty'] !== 'RSA' || typeof j['n'] !== 'string' || typeof j['e'] !== 'string') continue;
    const ops = j['key_ops'];
    const forEncrypt = (Array.isArray(ops) && ops.includes('encrypt')) || ops === 'encrypt' || j['use'] === 'enc';
    if (!forEncrypt) continue;
    const kid = typeof j['kid'] === 'string' ? j['kid'] : createHash('sha256').update(j['n']).digest('hex');
    return { jwk: { kty: 'RSA', n: j['n'], e: j['e'] }, kid };
  }
  return undefined;
}

export function targetKeyOf(claims: Readonly<Record<string, unknown>>): TargetKey {
  const runtime = claims['x-ms-runtime'];
  if (typeof runtime === 'object' && runtime !== null) {
    const k = pick((runtime as { keys?: unknown }).keys);
    if (k !== undefined) return { ...k, source: 'x-ms-runtime' };
  }
  const ehd = claims['x-ms-sgx-ehd'];
  if (typeof ehd === 'string' && ehd.length <= (MAX_EHD_BYTES * 4) / 3 + 4) {
    try {
      const text = Buffer.from(ehd, 'base64url').toString('utf8');
      const k = pick((JSON.parse(text) as { keys?: unknown }).keys);
      if (k !== undefined) return { ...k, source: 'x-ms-sgx-ehd' };
    } catch {
      // not a JWKS: fall through
    }
  }
  throw new KeyBrokerError(
    'TargetKeyMissing',
    'the token carries no RSA encryption key (x-ms-runtime.keys, or a JWKS in x-ms-sgx-ehd) to wrap the released key to',
    { rule: 'targetKey' },
  );
}
