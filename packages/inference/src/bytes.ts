/** Byte helpers (browser-safe: no Buffer): the encoders are @cloister/dcap's; what is particular to this package is here. */
import { tryFromBase64 } from '@cloister/dcap';

export { toHex, toBase64, toBase64Url, concatBytes } from '@cloister/dcap';

/**
 * Decode base64 or base64url (RFC 4648 §4, §5; padding optional); undefined if the text is not base64 or would decode
 * to more than `maxBytes` (checked from the length, before anything is decoded).
 */
export function fromBase64(text: string, maxBytes = Number.MAX_SAFE_INTEGER): Uint8Array | undefined {
  if (Math.floor((text.length * 3) / 4) > maxBytes + 2) return undefined;
  const out = tryFromBase64(text);
  return out === undefined || out.length > maxBytes ? undefined : out;
}

/** Equality in time independent of where the inputs differ (for MACs, hashes and keys). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
