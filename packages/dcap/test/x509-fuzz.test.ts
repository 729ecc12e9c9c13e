/**
 * Robustness of the DER / X.509 / CRL / SGX-extension parsers: on any input they return a value or throw a DcapError
 * with their own code — never another exception, never an out-of-bounds read or a huge allocation.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DcapError, type DcapErrorCode } from '../src/errors.js';
import { DerReader, MAX_DER_DEPTH, type DerElement, readDer } from '../src/asn1/der.js';
import * as oids from '../src/asn1/oids.js';
import { parseCertificate, findExtension } from '../src/x509/certificate.js';
import { parseCrl, decodeCrl } from '../src/x509/crl.js';
import { parseCertificateChainPem } from '../src/x509/chain.js';
import { parsePckExtension } from '../src/x509/sgx-extension.js';
import { ecdsaDerToP1363, p1363ToEcdsaDer } from '../src/x509/ecdsa-signature.js';
import { parseName } from '../src/x509/name.js';
import type { Certificate } from '../src/x509/types.js';
import { fromHex, toHex } from '../src/util/bytes.js';
import { encodePem } from '../src/util/pem.js';
import { dcapDir, loadDcapCases, readBytes, testdataDir } from './corpus.js';

/** Runs `fn`; any exception must be a DcapError with `code`. Returns the result or undefined on a DcapError. */
function onlyDcapError<T>(fn: () => T, code: DcapErrorCode): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (!DcapError.is(e)) throw new Error(`non-DcapError thrown: ${String(e)}`, { cause: e });
    if (e.code !== code) throw new Error(`DcapError ${e.code} instead of ${code}: ${e.message}`);
    return undefined;
  }
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

// ---------------------------------------------------------------------------------------------------------------
// corpus

const cases = loadDcapCases();
const certPool: Uint8Array[] = [readBytes(join(dcapDir, 'intel-sgx-root-ca.der'))];
const crlPool: Uint8Array[] = [];
const pckPool: Certificate[] = [];
const seenCrl = new Set<string>();
for (const c of cases) {
  const chain = parseCertificateChainPem(latin1(c.quote));
  if (!pckPool.some((p) => p.serialHex === chain[0]!.serialHex)) pckPool.push(chain[0]!);
  for (const cert of chain) if (!certPool.some((d) => toHex(d) === toHex(cert.raw))) certPool.push(cert.raw);
  const col = JSON.parse(c.collateralText!) as Record<string, string>;
  for (const k of ['root_ca_crl', 'pck_crl']) {
    if (!seenCrl.has(col[k]!)) {
      seenCrl.add(col[k]!);
      crlPool.push(fromHex(col[k]!));
    }
  }
}
for (const name of ['gramine-cert', 'intel-sgxsdk-cert']) {
  certPool.push(parseCertificateChainPem(readFileSync(join(testdataDir, 'ratls', `${name}.pem`), 'utf8'))[0]!.raw);
}
const processorPck = pckPool.find((p) => p.issuer.commonName === 'Intel SGX PCK Processor CA')!;
const platformPck = pckPool.find((p) => p.issuer.commonName === 'Intel SGX PCK Platform CA')!;
const sigPool: Uint8Array[] = certPool.map((d) => parseCertificate(d).signatureValue);

// ---------------------------------------------------------------------------------------------------------------
// arbitraries

/** A real input with a few byte edits, an optional truncation and an optional insertion. */
function mutated(pool: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      i: fc.nat({ max: pool.length - 1 }),
      edits: fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      insert: fc.option(fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 })), { nil: undefined }),
    })
    .map(({ i, edits, cut, insert }) => {
      let b = new Uint8Array(pool[i]!);
      for (const [pos, v] of edits) b[pos % b.length] = v;
      if (insert !== undefined) {
        const at = insert[0] % (b.length + 1);
        const n = new Uint8Array(b.length + insert[1].length);
        n.set(b.subarray(0, at));
        n.set(insert[1], at);
        n.set(b.subarray(at), at + insert[1].length);
        b = n;
      }
      if (cut !== undefined) b = b.subarray(0, cut % (b.length + 1));
      return b;
    });
}

/** Random DER-ish bytes: a plausible header (SEQUENCE / long-form lengths) followed by noise. */
const derish: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.constantFrom(0x30, 0x31, 0x02, 0x03, 0x04, 0x06, 0xa0, 0xa3, 0x1f, 0x17, 0x18, 0x0c, 0x13),
    fc.constantFrom(0x00, 0x05, 0x7f, 0x80, 0x81, 0x82, 0x84, 0x85, 0xff),
    fc.uint8Array({ maxLength: 300 }),
  )
  .map(([t, l, rest]) => Uint8Array.of(t, l, ...rest));

const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 600 }), derish);

const NUM_RUNS = 2000;

// ---------------------------------------------------------------------------------------------------------------

describe('byte-flip mutation of real inputs (every position)', () => {
  it('a PCK certificate: every single-byte change parses or throws UNSUPPORTED_CERT_FORMAT', () => {
    const der = platformPck.raw;
    let parsed = 0;
    let rejected = 0;
    for (let pos = 0; pos < der.length; pos++) {
      for (const x of [0x01, 0x80, 0xff]) {
        const m = new Uint8Array(der);
        m[pos]! ^= x;
        const cert = onlyDcapError(() => parseCertificate(m), 'UNSUPPORTED_CERT_FORMAT');
        if (cert === undefined) {
          rejected++;
          continue;
        }
        parsed++;
        onlyDcapError(() => parsePckExtension(cert), 'INVALID_PCK_CERT');
      }
    }
    assert.ok(parsed > 0 && rejected > 0, `${parsed} parsed, ${rejected} rejected`);
  });

  it('every certificate in the corpus: every position set to 0x00 / 0xff, every truncation', () => {
    for (const der of certPool) {
      for (let pos = 0; pos < der.length; pos++) {
        for (const v of [0x00, 0xff]) {
          const m = new Uint8Array(der);
          m[pos] = v;
          onlyDcapError(() => parseCertificate(m), 'UNSUPPORTED_CERT_FORMAT');
        }
      }
      for (let n = 0; n < der.length; n += 7) {
        assert.equal(onlyDcapError(() => parseCertificate(der.subarray(0, n)), 'UNSUPPORTED_CERT_FORMAT'), undefined);
      }
    }
  });

  it('every CRL in the corpus: every position flipped, every truncation', () => {
    for (const der of crlPool) {
      for (let pos = 0; pos < der.length; pos++) {
        for (const x of [0x01, 0x80, 0xff]) {
          const m = new Uint8Array(der);
          m[pos]! ^= x;
          onlyDcapError(() => parseCrl(m), 'SGX_CRL_UNSUPPORTED_FORMAT');
        }
      }
      for (let n = 0; n < der.length; n++) {
        assert.equal(onlyDcapError(() => parseCrl(der.subarray(0, n)), 'SGX_CRL_UNSUPPORTED_FORMAT'), undefined);
      }
    }
  });

  it('the SGX extension value: every position flipped gives a PckExtension or INVALID_PCK_CERT', () => {
    for (const cert of [processorPck, platformPck]) {
      const value = findExtension(cert.extensions, oids.sgx_Extensions)!.value;
      for (let pos = 0; pos < value.length; pos++) {
        for (const x of [0x01, 0x80, 0xff]) {
          const m = new Uint8Array(value);
          m[pos]! ^= x;
          const mc: Certificate = {
            ...cert,
            extensions: cert.extensions.map((e) => (e.oid === oids.sgx_Extensions ? { ...e, value: m } : e)),
          };
          onlyDcapError(() => parsePckExtension(mc), 'INVALID_PCK_CERT');
        }
      }
    }
  });
});

describe('property tests', () => {
  it('parseCertificate: random and mutated bytes → Certificate or UNSUPPORTED_CERT_FORMAT', () => {
    fc.assert(
      fc.property(fc.oneof(anyBytes, mutated(certPool)), (b) => {
        const c = onlyDcapError(() => parseCertificate(b), 'UNSUPPORTED_CERT_FORMAT');
        if (c !== undefined) {
          // whatever parses is self-consistent: views inside the input, tbs inside raw
          assert.equal(c.raw.length, b.length);
          assert.ok(c.tbs.length < c.raw.length);
          onlyDcapError(() => parsePckExtension(c), 'INVALID_PCK_CERT');
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('parseCertificateChainPem: PEM of mutated certificates → certificates or UNSUPPORTED_CERT_FORMAT', () => {
    fc.assert(
      fc.property(fc.array(mutated(certPool), { minLength: 1, maxLength: 3 }), fc.string({ maxLength: 20 }),
        (ders, junk) => {
          onlyDcapError(() => parseCertificateChainPem(junk + ders.map((d) => encodePem('CERTIFICATE', d)).join(junk)),
            'UNSUPPORTED_CERT_FORMAT');
        }),
      { numRuns: 300 },
    );
  });

  it('parseCrl: random and mutated bytes → Crl or SGX_CRL_UNSUPPORTED_FORMAT', () => {
    fc.assert(
      fc.property(fc.oneof(anyBytes, mutated(crlPool)), (b) => {
        const crl = onlyDcapError(() => parseCrl(b), 'SGX_CRL_UNSUPPORTED_FORMAT');
        if (crl !== undefined) assert.equal(crl.raw.length, b.length);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('decodeCrl: random text/bytes and mutated hex/PEM → bytes or SGX_CRL_UNSUPPORTED_FORMAT', () => {
    const hexText = mutated(crlPool).map((b) => toHex(b));
    const pemText = mutated(crlPool).map((b) => encodePem('X509 CRL', b));
    const editedText = fc
      .tuple(fc.oneof(hexText, pemText), fc.nat(), fc.string({ maxLength: 3 }))
      .map(([t, at, s]) => t.slice(0, at % (t.length + 1)) + s + t.slice(at % (t.length + 1) + s.length));
    const input: fc.Arbitrary<string | Uint8Array> = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
      anyBytes,
      hexText,
      pemText,
      editedText,
      editedText.map((t) => Uint8Array.from(t, (ch) => ch.charCodeAt(0) & 0xff)),
    );
    fc.assert(
      fc.property(input, (x) => {
        const der = onlyDcapError(() => decodeCrl(x), 'SGX_CRL_UNSUPPORTED_FORMAT');
        if (der !== undefined) {
          assert.ok(der instanceof Uint8Array);
          onlyDcapError(() => parseCrl(der), 'SGX_CRL_UNSUPPORTED_FORMAT');
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('parsePckExtension: mutated SGX extension values → PckExtension or INVALID_PCK_CERT', () => {
    const values = [processorPck, platformPck].map((c) => findExtension(c.extensions, oids.sgx_Extensions)!.value);
    fc.assert(
      fc.property(fc.boolean(), fc.oneof(mutated(values), anyBytes), (platform, value) => {
        const cert = platform ? platformPck : processorPck;
        const mc: Certificate = {
          ...cert,
          extensions: cert.extensions.map((e) => (e.oid === oids.sgx_Extensions ? { ...e, value } : e)),
        };
        const pck = onlyDcapError(() => parsePckExtension(mc), 'INVALID_PCK_CERT');
        if (pck !== undefined) {
          assert.equal(pck.ppid.length, 16);
          assert.equal(pck.fmspc.length, 6);
          assert.equal(pck.pceId.length, 2);
          assert.equal(pck.tcb.cpuSvn.length, 16);
          assert.equal(pck.tcb.sgxTcbComponents.length, 16);
          for (const v of pck.tcb.sgxTcbComponents) assert.ok(v >= 0 && v <= 255);
          assert.ok(pck.tcb.pceSvn >= 0 && pck.tcb.pceSvn <= 0xffff);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('ecdsaDerToP1363: random and mutated signatures → undefined or a canonical r‖s', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 80 }), mutated(sigPool)), fc.constantFrom(32, 48), (b, size) => {
        const p = ecdsaDerToP1363(b, size);
        if (p !== undefined) {
          assert.equal(p.length, 2 * size);
          // strict DER is canonical: re-encoding gives the input back
          assert.equal(toHex(p1363ToEcdsaDer(p)!), toHex(b));
        }
      }),
      { numRuns: NUM_RUNS * 2 },
    );
  });

  it('p1363ToEcdsaDer ∘ ecdsaDerToP1363 is the identity on r‖s with non-zero halves', () => {
    fc.assert(
      fc.property(fc.constantFrom(32, 48, 66), fc.uint8Array({ minLength: 132, maxLength: 132 }), (size, raw) => {
        const p = raw.subarray(0, 2 * size);
        const der = p1363ToEcdsaDer(p);
        const zero = (x: Uint8Array): boolean => x.every((v) => v === 0);
        if (zero(p.subarray(0, size)) || zero(p.subarray(size))) {
          assert.equal(der, undefined);
          return;
        }
        assert.ok(der);
        assert.equal(toHex(ecdsaDerToP1363(der, size)!), toHex(p));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('DER reader: a generic walk of random bytes only throws DcapError; accepted headers are canonical', () => {
    const C: DcapErrorCode = 'UNSUPPORTED_CERT_FORMAT';
    const canonicalHeader = (el: DerElement): string => {
      const n = el.contents.length;
      const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff]
        : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
      return toHex(Uint8Array.of(el.tag, ...len));
    };
    const walk = (r: DerReader, depth: number): void => {
      while (!r.done) {
        const tag = r.peekTag();
        if ((tag & 0x20) !== 0) {
          walk(r.readConstructed(tag, 'c'), depth + 1);
          continue;
        }
        const el = r.readAny('p');
        assert.equal(toHex(el.raw.subarray(0, el.headerLength)), canonicalHeader(el));
        assert.equal(el.raw.length, el.headerLength + el.contents.length);
        // typed readers on whatever is there
        const sub = new DerReader(el.raw, C, 'p', 0, el.raw.length, depth);
        switch (el.tag) {
          case 0x02: onlyDcapError(() => sub.readBigInteger('i'), C); break;
          case 0x06: onlyDcapError(() => sub.readOid('o'), C); break;
          case 0x03: onlyDcapError(() => sub.readBitStringWithUnusedBits('b'), C); break;
          case 0x01: onlyDcapError(() => sub.readBoolean('b'), C); break;
          case 0x17: case 0x18: onlyDcapError(() => sub.readTime('t'), C); break;
          default: onlyDcapError(() => sub.readString('s'), C);
        }
      }
    };
    fc.assert(
      fc.property(fc.oneof(anyBytes, mutated(certPool), mutated(crlPool)), (b) => {
        onlyDcapError(() => walk(new DerReader(b, C, 'fuzz'), 0), C);
        const el = onlyDcapError(() => readDer(b, C, 'fuzz'), C);
        if (el !== undefined) assert.equal(el.raw.length, b.length);
        onlyDcapError(() => parseName(b), C);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('DER reader: deeply nested input is bounded', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), (depth) => {
        // depth nested SEQUENCE headers with long-form lengths, all consistent
        let v: Uint8Array = Uint8Array.of(0x05, 0x00);
        for (let i = 0; i < depth; i++) {
          const n = v.length;
          const hdr = n < 0x80 ? [0x30, n] : [0x30, 0x82, n >> 8, n & 0xff];
          v = Uint8Array.of(...hdr, ...v);
        }
        const walk = (r: DerReader): void => {
          while (!r.done) {
            if (r.peekTag() === 0x30) walk(r.readSequence('s'));
            else r.readAny('x');
          }
        };
        let threw = false;
        try {
          walk(new DerReader(v, 'UNSUPPORTED_CERT_FORMAT', 'deep'));
        } catch (e) {
          assert.ok(DcapError.is(e) && e.code === 'UNSUPPORTED_CERT_FORMAT');
          threw = true;
        }
        assert.equal(threw, depth > MAX_DER_DEPTH);
      }),
      { numRuns: 200 },
    );
  });
});
