/**
 * Untrusted input: mutated real certificates, random bytes and random CBOR only ever fail with RatlsError/DcapError, or
 * with the PolicyError of the one policy engine (a mutation that changes the measured identity).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DcapError, parseCertificate } from '@cloister/dcap';
import { PolicyError } from '@cloister/policy';
import { RatlsError, decodeCbor, encodeCbor, extractEvidence, inspectAttestedCertificate, verifyAttestedCertificate } from '../src/index.js';
import { REAL_CERTS } from './ratls-fixtures.js';

const typed = (e: unknown): boolean => RatlsError.is(e) || DcapError.is(e) || (PolicyError.is(e) && e.code === 'POLICY_MISMATCH');

async function onlyTyped(input: Uint8Array | string, verifyAt: string, mrenclave = '00'.repeat(32)): Promise<void> {
  try {
    await inspectAttestedCertificate(input);
  } catch (e) {
    assert.ok(typed(e), `inspect threw ${String(e)}`);
  }
  try {
    extractEvidence(parseCertificate(typeof input === 'string' ? new TextEncoder().encode(input) : input));
  } catch (e) {
    assert.ok(typed(e), `extract threw ${String(e)}`);
  }
  try {
    await verifyAttestedCertificate(input, { allowDebug: true, mrenclave }, { signaturesOnly: true, now: verifyAt });
  } catch (e) {
    assert.ok(typed(e), `verify threw ${String(e)}`);
  }
}

for (const rc of REAL_CERTS) {
  test(`${rc.name}: byte mutations`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(rc.der.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        async (muts) => {
          const b = new Uint8Array(rc.der);
          for (const [i, x] of muts) b[i] = b[i]! ^ x;
          await onlyTyped(b, rc.expect.verifyAt, rc.expect.claims.mrenclave);
        },
      ),
      { numRuns: 150 },
    );
  });

  test(`${rc.name}: truncations and extension-value mutations`, async () => {
    const cert = parseCertificate(rc.der);
    await fc.assert(
      fc.asyncProperty(fc.nat(rc.der.length - 1), async (n) => onlyTyped(rc.der.subarray(0, n), rc.expect.verifyAt, rc.expect.claims.mrenclave)),
      { numRuns: 60 },
    );
    await fc.assert(
      fc.asyncProperty(fc.nat(cert.extensions.length - 1), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), async (k, pos, x, cut) => {
        const exts = cert.extensions.map((e, j) => {
          if (j !== k) return e;
          const v = new Uint8Array(e.value);
          if (cut) return { ...e, value: v.subarray(0, pos % (v.length + 1)) };
          const i = pos % v.length;
          v[i] = v[i]! ^ x;
          return { ...e, value: v };
        });
        const mutated = { ...cert, extensions: exts };
        try {
          extractEvidence(mutated);
        } catch (e) {
          assert.ok(typed(e), `extract threw ${String(e)}`);
        }
        try {
          await verifyAttestedCertificate(mutated, { allowDebug: true, mrenclave: rc.expect.claims.mrenclave }, { signaturesOnly: true, now: rc.expect.verifyAt });
        } catch (e) {
          assert.ok(typed(e), `verify threw ${String(e)}`);
        }
      }),
      { numRuns: 150 },
    );
  });
}

test('random bytes and strings', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (b) => onlyTyped(b, '2024-01-01T00:00:00Z')),
    { numRuns: 200 },
  );
  await fc.assert(fc.asyncProperty(fc.string({ maxLength: 200 }), async (s) => onlyTyped(s, '2024-01-01T00:00:00Z')), { numRuns: 100 });
});

test('CBOR: random bytes decode or fail with RatlsError; decode(encode(x)) round-trips', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      try {
        const v = decodeCbor(b);
        // a successful decode is canonical for the types we encode (no floats / simple values beyond these)
        void v;
      } catch (e) {
        assert.ok(RatlsError.is(e), String(e));
      }
    }),
    { numRuns: 2000 },
  );
  assert.throws(() => decodeCbor(Uint8Array.from([0x9f])), (e: unknown) => RatlsError.is(e)); // indefinite
  assert.throws(() => decodeCbor(Uint8Array.from([0x18, 0x01])), (e: unknown) => RatlsError.is(e)); // non-minimal
  assert.throws(() => decodeCbor(Uint8Array.from([0xa2, 0x01, 0x01, 0x01, 0x02])), (e: unknown) => RatlsError.is(e)); // dup key
  assert.throws(() => decodeCbor(new Uint8Array(40).fill(0x81)), (e: unknown) => RatlsError.is(e)); // depth
  assert.throws(() => decodeCbor(Uint8Array.from([0x5a, 0xff, 0xff, 0xff, 0xff])), (e: unknown) => RatlsError.is(e)); // length
  const sample = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      fc.integer(),
      fc.string(),
      fc.uint8Array({ maxLength: 20 }),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie('v'), { maxLength: 4 }),
    ),
  })).v;
  fc.assert(
    fc.property(sample, (v) => {
      const enc = encodeCbor(v as never);
      assert.deepEqual(encodeCbor(decodeCbor(enc)), enc);
    }),
    { numRuns: 300 },
  );
});
