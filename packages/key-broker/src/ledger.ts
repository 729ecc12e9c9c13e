/**
 * The governance ledger: append-only, hash-chained, broker-signed. Entry n is the canonical JSON
 * `{"at","body","prev","seq","type"}` (canonical.ts); its hash is SHA-256 of those bytes (hex); `prev` is the hash of
 * entry n-1 (64 zeros for the first). Each entry is signed by the broker's signing key, which lives in the enclave:
 * a compact JWS RS256 (RFC 7515) over `{"hash","seq"}` with `typ: cloister-kb-ledger+jwt`.
 *
 * A receipt is one exported line `{"entry","hash","sig"}`; with the broker's public key (pinned from its attestation,
 * GET /broker/identity) a member verifies a receipt, or the whole exported ledger, offline: every hash recomputes,
 * every `prev` links, every signature verifies. Changing any byte of any line breaks one of these.
 */
import { createHash, createPublicKey, verify as rsaVerify } from 'node:crypto';
import { canonicalJson } from './canonical.js';

export const LEDGER_JWS_TYP = 'cloister-kb-ledger+jwt';
export const GENESIS_PREV = '0'.repeat(64);
export const MAX_LEDGER_LINE = 256 * 1024;

export interface LedgerEntry {
  readonly seq: number;
  readonly prev: string;
  readonly at: string;
  readonly type: string;
  readonly body: unknown;
}

export interface LedgerLine {
  /** The entry's canonical JSON, exactly the bytes hashed. */
  readonly entry: string;
  readonly hash: string;
  readonly sig: string;
}

export class LedgerVerificationError extends Error {
  override readonly name = 'LedgerVerificationError';
  readonly code = 'LEDGER_INVALID';
  readonly seq: number;
  readonly rule: 'format' | 'hash' | 'chain' | 'signature' | 'sequence';
  constructor(seq: number, rule: LedgerVerificationError['rule'], message: string) {
    super(`ledger entry ${seq}: ${message}`);
    this.seq = seq;
    this.rule = rule;
  }
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function encodeEntry(entry: LedgerEntry): string {
  return canonicalJson(entry);
}

export function signedPayload(seq: number, hash: string): Uint8Array {
  return new TextEncoder().encode(canonicalJson({ hash, seq }));
}

function parseEntry(text: string, index: number): LedgerEntry {
  let e: unknown;
  try {
    e = JSON.parse(text);
  } catch {
    throw new LedgerVerificationError(index, 'format', 'entry is not JSON');
  }
  const o = e as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || typeof o['seq'] !== 'number' || typeof o['prev'] !== 'string' || typeof o['at'] !== 'string' || typeof o['type'] !== 'string' || !('body' in o)) {
    throw new LedgerVerificationError(index, 'format', 'entry lacks seq, prev, at, type or body');
  }
  if (canonicalJson(o) !== text) throw new LedgerVerificationError(index, 'format', 'entry is not in canonical form');
  return o as unknown as LedgerEntry;
}

/** Verifies a compact JWS RS256 by `signingJwk` and returns its payload bytes. */
function verifyJws(jws: string, signingJwk: JsonWebKey, index: number): Uint8Array {
  const parts = jws.split('.');
  if (parts.length !== 3) throw new LedgerVerificationError(index, 'signature', 'signature is not a compact JWS');
  let header: { alg?: unknown; typ?: unknown };
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as typeof header;
  } catch {
    throw new LedgerVerificationError(index, 'signature', 'signature header is not JSON');
  }
  if (header.alg !== 'RS256' || header.typ !== LEDGER_JWS_TYP) throw new LedgerVerificationError(index, 'signature', 'signature is not RS256 with the ledger typ');
  const ok = rsaVerify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), createPublicKey({ key: signingJwk as import('node:crypto').JsonWebKey, format: 'jwk' }), Buffer.from(parts[2]!, 'base64url'));
  if (!ok || Buffer.from(parts[2]!, 'base64url').toString('base64url') !== parts[2]) throw new LedgerVerificationError(index, 'signature', 'signature does not verify with the broker key');
  return new Uint8Array(Buffer.from(parts[1]!, 'base64url'));
}

/** Verifies one receipt (an exported line) alone: hash and signature. Returns the entry. */
export function verifyReceipt(line: LedgerLine, signingJwk: JsonWebKey, index = -1): LedgerEntry {
  if (typeof line !== 'object' || line === null || typeof line.entry !== 'string' || typeof line.hash !== 'string' || typeof line.sig !== 'string') {
    throw new LedgerVerificationError(index, 'format', 'a receipt is {entry, hash, sig}');
  }
  const entry = parseEntry(line.entry, index);
  const seq = index >= 0 ? index : entry.seq;
  if (sha256Hex(line.entry) !== line.hash) throw new LedgerVerificationError(seq, 'hash', 'hash does not match the entry');
  const payload = verifyJws(line.sig, signingJwk, seq);
  if (Buffer.compare(Buffer.from(payload), Buffer.from(signedPayload(entry.seq, line.hash))) !== 0) {
    throw new LedgerVerificationError(seq, 'signature', 'the signature is over another entry');
  }
  return entry;
}

export interface LedgerSummary {
  readonly entries: number;
  readonly head: string;
}

/** Verifies an exported ledger (JSON lines, from entry 0): every receipt, the sequence and the chain. */
export function verifyLedger(text: string, signingJwk: JsonWebKey): LedgerSummary {
  const lines = text.split('\n').filter((l) => l.length > 0);
  let prev = GENESIS_PREV;
  lines.forEach((l, i) => {
    if (l.length > MAX_LEDGER_LINE) throw new LedgerVerificationError(i, 'format', 'line too long');
    let line: LedgerLine;
    try {
      line = JSON.parse(l) as LedgerLine;
    } catch {
      throw new LedgerVerificationError(i, 'format', 'line is not JSON');
    }
    if (Object.keys(line).sort().join(',') !== 'entry,hash,sig') throw new LedgerVerificationError(i, 'format', 'a line is exactly {entry, hash, sig}');
    const entry = verifyReceipt(line, signingJwk, i);
    if (entry.seq !== i) throw new LedgerVerificationError(i, 'sequence', `entry has seq ${entry.seq}`);
    if (entry.prev !== prev) throw new LedgerVerificationError(i, 'chain', 'prev does not link to the previous entry');
    prev = line.hash;
  });
  return { entries: lines.length, head: prev };
}

export function exportLine(line: LedgerLine): string {
  return JSON.stringify({ entry: line.entry, hash: line.hash, sig: line.sig });
}
