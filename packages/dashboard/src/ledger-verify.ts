/**
 * Verifies the key broker's ledger with WebCrypto only (it runs in the browser, and in Node for tests): the same
 * checks as the broker's own `verifyLedger` (packages/key-broker/src/ledger.ts):
 * - every `entry` is canonical JSON `{"at","body","prev","seq","type"}` (keys sorted, no whitespace — RFC 8785 order);
 * - `hash` is the lowercase hex SHA-256 of the entry's UTF-8 bytes;
 * - `seq` counts from 0 without gaps and `prev` is the previous line's hash (64 zeros for the first);
 * - with the broker's public key: `sig` is a compact JWS (RFC 7515 §7.1) with header `alg: RS256`,
 *   `typ: cloister-kb-ledger+jwt`, RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3) over `header.payload`, and the
 *   payload is the canonical JSON `{"hash","seq"}` of that line.
 * Browser-safe: no Node imports.
 */
import type { LedgerLine } from './types.js';

export const LEDGER_JWS_TYP = 'cloister-kb-ledger+jwt';
export const GENESIS_PREV = '0'.repeat(64);
/** Lines longer than this are refused before parsing (the broker's own bound). */
export const MAX_LEDGER_LINE = 256 * 1024;

export type LedgerRule = 'format' | 'hash' | 'chain' | 'sequence' | 'signature';

export type LedgerVerification =
  | { readonly ok: true; readonly entries: number; readonly head: string; readonly signaturesChecked: number }
  | { readonly ok: false; readonly index: number; readonly rule: LedgerRule; readonly message: string; readonly entries: number };

/** Canonical JSON (sorted keys, no whitespace, JSON.stringify escaping), as the broker writes it. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('non-finite number');
    if (value === undefined) throw new TypeError('undefined is not JSON');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

function base64urlDecode(s: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) return undefined;
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function base64urlEncode(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The parsed fields of a ledger entry (for display), or undefined when it is not an entry. */
export interface LedgerEntryFields {
  readonly seq: number;
  readonly prev: string;
  readonly at: string;
  readonly type: string;
  readonly body: unknown;
}

export function parseLedgerEntry(text: string): LedgerEntryFields | undefined {
  if (text.length > MAX_LEDGER_LINE) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o['seq'] !== 'number' || typeof o['prev'] !== 'string' || typeof o['at'] !== 'string' || typeof o['type'] !== 'string' || !('body' in o)) {
    return undefined;
  }
  return { seq: o['seq'], prev: o['prev'], at: o['at'], type: o['type'], body: o['body'] };
}

type Fail = { ok: false; index: number; rule: LedgerRule; message: string; entries: number };

/**
 * Verifies lines from entry 0 on. `signingKey` (a public RSA JWK): signatures are checked too; absent: only the
 * hash chain. Stops at the first break and says where and which rule.
 */
export async function verifyLedgerLines(
  lines: readonly LedgerLine[],
  signingKey?: Readonly<Record<string, unknown>>,
  subtle: SubtleCrypto = globalThis.crypto.subtle,
): Promise<LedgerVerification> {
  const enc = new TextEncoder();
  const fail = (index: number, rule: LedgerRule, message: string): Fail => ({ ok: false, index, rule, message, entries: lines.length });
  let key: CryptoKey | undefined;
  if (signingKey !== undefined) {
    try {
      key = await subtle.importKey('jwk', { kty: signingKey['kty'], n: signingKey['n'], e: signingKey['e'] } as JsonWebKey, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['verify']);
    } catch {
      return fail(0, 'signature', 'the broker signing key is not a usable RSA public key');
    }
  }
  let prev = GENESIS_PREV;
  let signatures = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (typeof line.entry !== 'string' || typeof line.hash !== 'string' || typeof line.sig !== 'string') return fail(i, 'format', 'a line is {entry, hash, sig}');
    const entry = parseLedgerEntry(line.entry);
    if (entry === undefined) return fail(i, 'format', 'the entry is not a ledger entry {seq, prev, at, type, body}');
    if (canonicalJson(JSON.parse(line.entry)) !== line.entry) return fail(i, 'format', 'the entry is not in canonical form');
    const digest = hex(await subtle.digest('SHA-256', enc.encode(line.entry)));
    if (digest !== line.hash) return fail(i, 'hash', 'the hash does not match the entry');
    if (entry.seq !== i) return fail(i, 'sequence', `the entry has seq ${entry.seq}, expected ${i}`);
    if (entry.prev !== prev) return fail(i, 'chain', 'prev does not link to the previous entry');
    if (key !== undefined) {
      const parts = line.sig.split('.');
      if (parts.length !== 3) return fail(i, 'signature', 'the signature is not a compact JWS');
      const headerBytes = base64urlDecode(parts[0]!);
      const payload = base64urlDecode(parts[1]!);
      const sig = base64urlDecode(parts[2]!);
      if (headerBytes === undefined || payload === undefined || sig === undefined || base64urlEncode(sig) !== parts[2]) {
        return fail(i, 'signature', 'the signature is not base64url');
      }
      let header: Record<string, unknown>;
      try {
        header = JSON.parse(new TextDecoder().decode(headerBytes)) as Record<string, unknown>;
      } catch {
        return fail(i, 'signature', 'the signature header is not JSON');
      }
      if (header['alg'] !== 'RS256' || header['typ'] !== LEDGER_JWS_TYP) return fail(i, 'signature', 'the signature is not RS256 with the ledger typ');
      const ok = await subtle.verify('RSASSA-PKCS1-v1_5', key, sig, enc.encode(`${parts[0]}.${parts[1]}`));
      if (!ok) return fail(i, 'signature', 'the signature does not verify with the broker key');
      if (new TextDecoder().decode(payload) !== canonicalJson({ hash: line.hash, seq: entry.seq })) {
        return fail(i, 'signature', 'the signature is over another entry');
      }
      signatures++;
    }
    prev = line.hash;
  }
  return { ok: true, entries: lines.length, head: prev, signaturesChecked: signatures };
}
