/** Property tests: collateral parsers fail only with DcapError, whatever the input. Bounded runs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DcapError } from '../src/errors.js';
import { rawJsonMember } from '../src/collateral/json-span.js';
import { parseTcbInfo } from '../src/collateral/tcb-info.js';
import { parseEnclaveIdentity } from '../src/collateral/enclave-identity.js';
import { collateralFromPcsResponses, parseCollateralBundle } from '../src/collateral/bundle.js';
import { loadDcapCases } from './corpus.js';

const NUM_RUNS = 300;
const texts = loadDcapCases()
  .filter((c) => c.collateralText !== undefined)
  .map((c) => c.collateralText!);
const bundles = texts.map((t) => JSON.parse(t) as Record<string, string>);
const tcbBodies = bundles.map((b) => b['tcb_info']!);
const qeBodies = bundles.map((b) => b['qe_identity']!);

/** Runs `fn`; returns normally or throws only DcapError. */
function onlyDcapErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    assert.ok(DcapError.is(e), `non-DcapError thrown: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
}

/** Byte-level-ish mutations of a real text: delete / insert / replace / duplicate a slice. */
const mutated = (sources: readonly string[]): fc.Arbitrary<string> =>
  fc
    .tuple(
      fc.constantFrom(...sources),
      fc.array(
        fc.tuple(
          fc.constantFrom('delete', 'insert', 'replace', 'duplicate'),
          fc.nat(),
          fc.nat({ max: 16 }),
          fc.string({ maxLength: 4, unit: fc.constantFrom(...'{}[]"\\,:09-ea u'.split('')) }),
        ),
        { minLength: 1, maxLength: 4 },
      ),
    )
    .map(([source, edits]) => {
      let s = source;
      for (const [op, at, len, ins] of edits) {
        const i = s.length === 0 ? 0 : at % s.length;
        if (op === 'delete') s = s.slice(0, i) + s.slice(i + len);
        else if (op === 'insert') s = s.slice(0, i) + ins + s.slice(i);
        else if (op === 'replace') s = s.slice(0, i) + ins + s.slice(i + ins.length);
        else s = s.slice(0, i) + s.slice(i, i + len) + s.slice(i);
      }
      return s;
    });

/** Structural mutation: replace one member somewhere in the parsed document with an arbitrary JSON value. */
const structurallyMutated = (sources: readonly string[]): fc.Arbitrary<string> =>
  fc.tuple(fc.constantFrom(...sources), fc.nat(), fc.jsonValue({ maxDepth: 3 }), fc.boolean()).map((args) => {
    const [source, pick, value, remove] = args;
    const root = JSON.parse(source) as unknown;
    const slots: Array<[Record<string, unknown> | unknown[], string | number]> = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach((v, i) => (slots.push([node, i]), walk(v)));
      else if (typeof node === 'object' && node !== null) {
        for (const [k, v] of Object.entries(node)) {
          slots.push([node as Record<string, unknown>, k]);
          walk(v);
        }
      }
    };
    walk(root);
    const slot = slots[pick % slots.length];
    if (slot !== undefined) {
      const [container, key] = slot;
      if (remove && !Array.isArray(container)) delete (container as Record<string, unknown>)[key as string];
      else (container as Record<string | number, unknown>)[key] = value;
    }
    return JSON.stringify(root);
  });

const anyText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ maxLength: 50, unit: 'grapheme' }),
  fc.json({ maxDepth: 4 }),
);

test('parseTcbInfo throws only DcapError', () => {
  fc.assert(
    fc.property(fc.oneof(anyText, mutated(tcbBodies), structurallyMutated(tcbBodies)), (text) => {
      onlyDcapErrors(() => parseTcbInfo(text));
    }),
    { numRuns: NUM_RUNS },
  );
});

test('parseEnclaveIdentity throws only DcapError', () => {
  fc.assert(
    fc.property(fc.oneof(anyText, mutated(qeBodies), structurallyMutated(qeBodies)), (text) => {
      onlyDcapErrors(() => parseEnclaveIdentity(text));
    }),
    { numRuns: NUM_RUNS },
  );
});

test('parseCollateralBundle throws only DcapError (text and object input)', () => {
  fc.assert(
    fc.property(fc.oneof(anyText, mutated(texts), structurallyMutated(texts)), (text) => {
      onlyDcapErrors(() => parseCollateralBundle(text));
      let obj: unknown;
      try {
        obj = JSON.parse(text);
      } catch {
        return;
      }
      if (typeof obj === 'object' && obj !== null) onlyDcapErrors(() => parseCollateralBundle(obj as object));
    }),
    { numRuns: NUM_RUNS },
  );
});

test('rawJsonMember throws only DcapError and agrees with JSON.parse', () => {
  const pcsBodies = tcbBodies.map((t) => `{"tcbInfo":${t},"signature":"${'ab'.repeat(64)}"}`);
  fc.assert(
    fc.property(
      fc.oneof(anyText, mutated(pcsBodies), structurallyMutated(pcsBodies)),
      fc.constantFrom('tcbInfo', 'signature', 'a', ''),
      (text, key) => {
      let raw: string | undefined;
      try {
        raw = rawJsonMember(text, key);
      } catch (e) {
        assert.ok(DcapError.is(e), String(e));
        return;
      }
      // Accepted documents are JSON objects, and the span parses to the member JSON.parse sees.
      const parsed = JSON.parse(text) as Record<string, unknown>;
      assert.ok(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed));
      if (raw === undefined) assert.ok(!Object.prototype.hasOwnProperty.call(parsed, key));
      else assert.deepEqual(JSON.parse(raw), parsed[key]);
      },
    ),
    { numRuns: NUM_RUNS },
  );
});

test('collateralFromPcsResponses throws only DcapError on mutated bodies and headers', () => {
  const b = bundles[0]!;
  const chain = encodeURIComponent(b['tcb_info_issuer_chain']!);
  const tcbPcs = tcbBodies.map((t) => `{"tcbInfo":${t},"signature":"${b['tcb_info_signature']}"}`);
  const qePcs = qeBodies.map((q) => `{"enclaveIdentity":${q},"signature":"${b['qe_identity_signature']}"}`);
  fc.assert(
    fc.property(
      fc.oneof(mutated(tcbPcs), structurallyMutated(tcbPcs)),
      fc.oneof(mutated(qePcs), structurallyMutated(qePcs)),
      fc.oneof(fc.constant(chain), fc.string({ maxLength: 40 })),
      fc.oneof(fc.constant(b['pck_crl']!), fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 })),
      (tcb, qe, header, crl) => {
        onlyDcapErrors(() =>
          collateralFromPcsResponses({
            tcbInfoResponse: { body: tcb, headers: { 'TCB-Info-Issuer-Chain': header } },
            qeIdentityResponse: { body: qe, headers: new Headers({ 'SGX-Enclave-Identity-Issuer-Chain': chain }) },
            pckCrlResponse: { body: crl, headers: { 'SGX-PCK-CRL-Issuer-Chain': header } },
            rootCaCrl: b['root_ca_crl']!,
          }),
        );
      },
    ),
    { numRuns: NUM_RUNS },
  );
});
