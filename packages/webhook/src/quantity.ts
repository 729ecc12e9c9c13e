/**
 * Kubernetes resource quantities, exactly as k8s.io/apimachinery/pkg/api/resource/quantity.go parses them:
 *   <quantity> ::= <signedNumber><suffix>
 *   <numericValue> ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
 *   <suffix> ::= <binarySI: Ki Mi Gi Ti Pi Ei> | <decimalSI: n u m "" k M G T P E> | <decimalExponent: e|E<signedNumber>>
 * Values are exact rationals (bigint numerator/denominator): extended resources must be integral, and EPC unit
 * conversion (MiB <-> bytes) must not round through floating point.
 */
import { WebhookError } from './errors.js';

export interface Quantity {
  /** value = num / den, den > 0, reduced. */
  readonly num: bigint;
  readonly den: bigint;
}

const BINARY: Readonly<Record<string, bigint>> = { Ki: 1n << 10n, Mi: 1n << 20n, Gi: 1n << 30n, Ti: 1n << 40n, Pi: 1n << 50n, Ei: 1n << 60n };
const DECIMAL: Readonly<Record<string, number>> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const NUMBER = /^([+-]?)(\d*)(?:\.(\d*))?/;
/** Longer than any sane quantity; bounds the bigint work done on untrusted input. */
const MAX_LENGTH = 64;

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

function reduce(num: bigint, den: bigint): Quantity {
  const g = gcd(num, den);
  return g > 1n ? { num: num / g, den: den / g } : { num, den };
}

function bad(text: string, why: string): WebhookError {
  return new WebhookError('INVALID_QUANTITY', `quantity ${JSON.stringify(text.slice(0, MAX_LENGTH))}: ${why}`);
}

/** Parse a quantity as it appears in a pod's JSON (string, or a JSON number). */
export function parseQuantity(value: unknown): Quantity {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw bad(String(value), 'not a finite number');
    text = Number.isInteger(value) ? BigInt(value).toString() : String(value);
  } else if (typeof value === 'string') text = value;
  else throw bad(String(value), 'not a string or number');
  if (text.length === 0 || text.length > MAX_LENGTH) throw bad(text, 'empty or too long');
  const m = NUMBER.exec(text);
  if (m === null) throw bad(text, 'not a number');
  const [whole, sign, intDigits = '', fracDigits] = m;
  if (intDigits.length === 0 && (fracDigits === undefined || fracDigits.length === 0)) throw bad(text, 'no digits');
  const suffix = text.slice(whole.length);
  const frac = fracDigits ?? '';
  let num = BigInt(intDigits + frac || '0');
  let den = 10n ** BigInt(frac.length);
  if (sign === '-') num = -num;
  const binary = BINARY[suffix];
  if (binary !== undefined) {
    num *= binary;
  } else if (Object.hasOwn(DECIMAL, suffix)) {
    const exp = DECIMAL[suffix] ?? 0;
    if (exp >= 0) num *= 10n ** BigInt(exp);
    else den *= 10n ** BigInt(-exp);
  } else if (/^[eE][+-]?\d{1,3}$/.test(suffix)) {
    const exp = Number(suffix.slice(1));
    // The apimachinery parser rejects exponents whose scale overflows int32; a pod quantity never needs > 10^18.
    if (Math.abs(exp) > 30) throw bad(text, 'exponent out of range');
    if (exp >= 0) num *= 10n ** BigInt(exp);
    else den *= 10n ** BigInt(-exp);
  } else {
    throw bad(text, `unknown suffix ${JSON.stringify(suffix)}`);
  }
  return reduce(num, den);
}

export function isIntegral(q: Quantity): boolean {
  return q.den === 1n;
}

export function quantityEquals(a: Quantity, b: Quantity): boolean {
  return a.num === b.num && a.den === b.den;
}

/** A byte count as Kubernetes prints it in BinarySI when exact (10485760 -> "10Mi"), else plain decimal. */
export function formatBytes(bytes: bigint): string {
  const units: ReadonlyArray<[string, bigint]> = [['Ei', 1n << 60n], ['Pi', 1n << 50n], ['Ti', 1n << 40n], ['Gi', 1n << 30n], ['Mi', 1n << 20n], ['Ki', 1n << 10n]];
  if (bytes > 0n) for (const [u, f] of units) if (bytes % f === 0n) return `${bytes / f}${u}`;
  return bytes.toString();
}
