import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DcapError } from '../src/errors.js';
import { parseQuote } from '../src/quote/quote.js';
import { unwrapEvidence } from '../src/quote/oe.js';
import { decodeBinaryInput } from '../src/util/input.js';
import { toBase64, toHex } from '../src/util/bytes.js';
import { loadDcapCases, readBytes, testdataDir } from './corpus.js';
import { join } from 'node:path';

const quotes = loadDcapCases().map((c) => c.quote);
const oeReport = readBytes(join(testdataDir, 'oe', 'oe-sdk-release', 'report.bin'));
const samples = [...quotes, oeReport];

/** Runs `fn`; anything thrown must be a DcapError. */
function onlyDcapErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!DcapError.is(e)) throw new Error(`non-DcapError thrown: ${String(e)}`, { cause: e });
  }
}

function everything(bytes: Uint8Array): void {
  onlyDcapErrors(() => parseQuote(bytes));
  onlyDcapErrors(() => {
    const u = unwrapEvidence(bytes);
    parseQuote(u.quote);
  });
  onlyDcapErrors(() => parseQuote(unwrapEvidence(decodeBinaryInput(bytes)).quote));
}

const RUNS = 2000;

/** A sample with random byte overwrites, an optional truncation and optional appended bytes. */
const mutatedSample = fc
  .record({
    index: fc.nat({ max: samples.length - 1 }),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
    tail: fc.uint8Array({ maxLength: 16 }),
  })
  .map(({ index, edits, cut, tail }) => {
    const src = samples[index]!;
    const b = new Uint8Array(src);
    for (const [pos, v] of edits) b[pos % b.length] = v;
    const end = cut === undefined ? b.length : cut % (b.length + 1);
    const out = new Uint8Array(end + tail.length);
    out.set(b.subarray(0, end));
    out.set(tail, end);
    return out;
  });

/** Edits aimed at the header, lengths and types: positions inside the first 1100 bytes (structure, not PEM). */
const structuralMutation = fc
  .record({
    index: fc.nat({ max: samples.length - 1 }),
    edits: fc.array(fc.tuple(fc.nat({ max: 1100 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
  })
  .map(({ index, edits }) => {
    const b = new Uint8Array(samples[index]!);
    for (const [pos, v] of edits) if (pos < b.length) b[pos] = v;
    return b;
  });

describe('fuzz: only DcapError is ever thrown', () => {
  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 6000 }), everything), { numRuns: RUNS });
  });

  it('random bytes behind a valid-looking prefix', () => {
    const prefixes = [quotes[0]!.subarray(0, 48), quotes.find((q) => q[0] === 4)!.subarray(0, 48), oeReport.subarray(0, 16)];
    fc.assert(
      fc.property(fc.nat({ max: prefixes.length - 1 }), fc.uint8Array({ maxLength: 6000 }), (i, rest) => {
        const p = prefixes[i]!;
        const b = new Uint8Array(p.length + rest.length);
        b.set(p);
        b.set(rest, p.length);
        everything(b);
      }),
      { numRuns: RUNS },
    );
  });

  it('real quotes with random mutations and truncations', () => {
    fc.assert(fc.property(mutatedSample, everything), { numRuns: RUNS });
  });

  it('real quotes with structural mutations', () => {
    fc.assert(fc.property(structuralMutation, everything), { numRuns: RUNS });
  });

  it('text encodings of mutated quotes', () => {
    fc.assert(
      fc.property(mutatedSample, fc.boolean(), (b, hex) => {
        const s = hex ? toHex(b) : toBase64(b);
        const text = new TextEncoder().encode(s);
        onlyDcapErrors(() => {
          const decoded = decodeBinaryInput(text);
          // base64 text made only of hex digits is (by design) read as hex
          if (b.length > 0 && (hex || !/^[0-9a-fA-F]+$/.test(s))) assert.equal(toHex(decoded), toHex(b));
          parseQuote(unwrapEvidence(decoded).quote);
        });
      }),
      { numRuns: 500 },
    );
  });

  it('random printable text into decodeBinaryInput', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => onlyDcapErrors(() => decodeBinaryInput(new TextEncoder().encode(s)))),
      { numRuns: RUNS },
    );
  });
});
