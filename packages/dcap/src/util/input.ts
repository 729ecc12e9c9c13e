/**
 * Decoding of a quote / evidence file given to the CLI: raw bytes, hex text, or base64 / base64url text, with
 * surrounding whitespace allowed (whitespace inside hex or base64 text, e.g. line wrapping, is ignored too).
 *
 * Detection, in order:
 * 1. raw, when the bytes start like a quote (version 03 00 / 04 00 / 05 00 then key type 02 00) or like an Open
 *    Enclave envelope (01000000 02000000 report header, 03000000 attestation header);
 * 2. otherwise, if the bytes are not ASCII text: raw;
 * 3. text that is only hex digits: hex (an odd number of digits is INVALID_INPUT_ENCODING);
 * 4. text that is valid base64 or base64url (padding optional): base64;
 * 5. otherwise raw (the quote parser then reports what is wrong with it).
 * Empty or whitespace-only input is INVALID_INPUT_ENCODING.
 *
 * Bounded before anything is decoded: input longer than {@link MAX_BINARY_INPUT_BYTES} (raw) or
 * {@link MAX_TEXT_INPUT_CHARS} (text, room for hex of the largest raw input plus line wrapping) is INPUT_TOO_LARGE.
 * Quotes are a few kB (a TDX quote with its PCK chain is under 10 kB), Open Enclave evidence a little more.
 */
import { DcapError } from '../errors.js';
import { tryFromBase64, tryFromHex } from './bytes.js';

function startsWithBytes(data: Uint8Array, prefix: readonly number[]): boolean {
  if (data.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}

function looksRaw(data: Uint8Array): boolean {
  const v = data[0];
  if ((v === 3 || v === 4 || v === 5) && startsWithBytes(data.subarray(1), [0, 2, 0])) return true;
  return startsWithBytes(data, [1, 0, 0, 0, 2, 0, 0, 0]) || startsWithBytes(data, [3, 0, 0, 0]);
}

function isWhitespace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0b || b === 0x0c;
}

/**
 * The characters of `data` without whitespace (and without a leading UTF-8 BOM), or undefined if it is not
 * printable ASCII text.
 */
function compactAscii(data: Uint8Array): string | undefined {
  let i = 0;
  if (startsWithBytes(data, [0xef, 0xbb, 0xbf])) i = 3;
  const parts: string[] = [];
  let chunk = '';
  for (; i < data.length; i++) {
    const b = data[i]!;
    if (isWhitespace(b)) continue;
    if (b < 0x21 || b > 0x7e) return undefined;
    chunk += String.fromCharCode(b);
    if (chunk.length >= 4096) {
      parts.push(chunk);
      chunk = '';
    }
  }
  parts.push(chunk);
  return parts.join('');
}

const HEX_ONLY = /^[0-9a-fA-F]+$/;

/** Largest raw quote or evidence accepted (1 MiB). */
export const MAX_BINARY_INPUT_BYTES = 1024 * 1024;
/** Largest hex / base64 text accepted: hex of {@link MAX_BINARY_INPUT_BYTES} plus a quarter for whitespace. */
export const MAX_TEXT_INPUT_CHARS = 2 * MAX_BINARY_INPUT_BYTES + MAX_BINARY_INPUT_BYTES / 2;

/** Decodes raw / hex / base64 / base64url input to bytes (see the module comment for the detection rules). */
export function decodeBinaryInput(data: Uint8Array): Uint8Array {
  if (data.length > MAX_TEXT_INPUT_CHARS) {
    throw new DcapError('INPUT_TOO_LARGE', `input is ${data.length} bytes, more than the ${MAX_TEXT_INPUT_CHARS} accepted`);
  }
  if (looksRaw(data)) return rawWithinBound(data);
  const text = compactAscii(data);
  if (text === undefined) return rawWithinBound(data);
  if (text.length === 0) throw new DcapError('INVALID_INPUT_ENCODING', 'input is empty or only whitespace');
  if (HEX_ONLY.test(text)) {
    const bytes = tryFromHex(text);
    if (bytes === undefined) {
      throw new DcapError(
        'INVALID_INPUT_ENCODING',
        `input looks like hex but has an odd number of digits (${text.length})`,
      );
    }
    return bytes;
  }
  const b64 = tryFromBase64(text);
  if (b64 !== undefined && b64.length > 0) return b64;
  return rawWithinBound(data);
}

function rawWithinBound(data: Uint8Array): Uint8Array {
  if (data.length > MAX_BINARY_INPUT_BYTES) {
    throw new DcapError('INPUT_TOO_LARGE', `input is ${data.length} bytes, more than the ${MAX_BINARY_INPUT_BYTES} accepted`);
  }
  return data;
}
