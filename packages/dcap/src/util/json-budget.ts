/**
 * A budget for JSON text before it reaches `JSON.parse`: nesting depth and number of values (RFC 8259 §2: values are
 * objects, arrays, strings, numbers and literals). `JSON.parse` allocates for every value it reads, so a small text
 * such as `[[[[…]]]]` or `[0,0,0,…]` costs far more memory than its length; the scan below costs nothing but time
 * linear in the text and refuses such a text with `INPUT_TOO_LARGE` before any allocation.
 *
 * The scan only counts: it tracks whether it is inside a string (with `\` escapes) and counts `{`, `[` and the
 * separators `,` outside strings. Malformed JSON is left to the parser that follows.
 */
import { DcapError } from '../errors.js';

export interface JsonBudget {
  /** Deepest nesting of objects and arrays. */
  readonly maxDepth: number;
  /** Most values (members' values and array elements, containers included). */
  readonly maxElements: number;
}

/**
 * Intel collateral nests 5 deep and a TDX TCB info holds a few thousand values; a PCS response or a
 * `QuoteCollateralV3` bundle fits easily.
 */
export const COLLATERAL_JSON_BUDGET: JsonBudget = { maxDepth: 16, maxElements: 100_000 };

/** Throws `INPUT_TOO_LARGE` (naming `what` and the limit) when `text` nests deeper or holds more values than `budget`. */
export function checkJsonBudget(text: string, what: string, budget: JsonBudget = COLLATERAL_JSON_BUDGET): void {
  let depth = 0;
  let elements = 1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // \x: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    switch (c) {
      case 0x22: // "
        inString = true;
        break;
      case 0x7b: // {
      case 0x5b: // [
        if (++depth > budget.maxDepth) {
          throw new DcapError('INPUT_TOO_LARGE', `${what} nests deeper than ${budget.maxDepth} levels`);
        }
        break;
      case 0x7d: // }
      case 0x5d: // ]
        depth--;
        break;
      case 0x2c: // ,
        if (++elements > budget.maxElements) {
          throw new DcapError('INPUT_TOO_LARGE', `${what} holds more than ${budget.maxElements} JSON values`);
        }
        break;
      default:
    }
  }
}
