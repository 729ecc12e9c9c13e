/**
 * Lenient base64 for request fields: MAA's clients send base64url without padding (RFC 4648 §5; the JS SDK's
 * Base64Url mapper, Gramine and EGo use RawURL), some send standard base64 (§4) with padding. Both alphabets are
 * accepted, padding is optional, anything else is a 400 INVALID_BASE64 naming the field. The length is checked
 * before decoding.
 */
import { badRequest } from './errors.js';

const B64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

export function decodeBase64Field(text: string, field: string, maxBytes: number): Uint8Array {
  if (text.length > Math.ceil((maxBytes * 4) / 3) + 4) {
    throw badRequest('INVALID_REQUEST', `${field} is larger than ${maxBytes} bytes`, { field });
  }
  if (!B64.test(text)) throw badRequest('INVALID_BASE64', `${field} is not base64url (or base64)`, { field });
  const body = text.replace(/=+$/, '');
  if (body.length % 4 === 1) throw badRequest('INVALID_BASE64', `${field} has an impossible base64 length`, { field });
  if (/[+/]/.test(body) && /[-_]/.test(body)) throw badRequest('INVALID_BASE64', `${field} mixes the base64 and base64url alphabets`, { field });
  // Node's 'base64' decoder reads both alphabets (the checks above made sure the text uses one of them).
  const buf = Buffer.from(body, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** base64url without padding (RFC 4648 §5), as MAA emits it. */
export function base64url(bytes: Uint8Array | string): string {
  return (typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString('base64url');
}

/** Standard base64 with padding (RFC 4648 §4), as `x5c` uses it (RFC 7517 §4.7). */
export function base64std(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
