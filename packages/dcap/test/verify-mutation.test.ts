/**
 * Mutation tests: every byte of every signed region flipped, truncations and length fields changed — none may verify.
 * Each mutant must be rejected with a DcapError (any code: which check catches a flip depends on where it lands).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DcapError, QuoteVerifier, parseCollateralBundle, parseQuote, type CollateralBundle } from '../src/index.js';
import { nodeCryptoProvider } from '../src/node/index.js';
import { loadDcapCases, type DcapCase } from './corpus.js';
import { caseOptions } from './verify-helpers.js';

const verifier = new QuoteVerifier({ crypto: nodeCryptoProvider() });
const subjects = loadDcapCases().filter((c) => c.json.id === 'dcapqvl-sgx-v3' || c.json.id === 'dcapqvl-tdx-v4');

async function mustFail(c: DcapCase, quote: Uint8Array, bundle: CollateralBundle | string, what: string): Promise<void> {
  try {
    await verifier.verify(quote, bundle, caseOptions(c));
  } catch (e) {
    if (DcapError.is(e)) return;
    throw new Error(`${what}: threw a non-DcapError ${String(e)}`, { cause: e });
  }
  assert.fail(`${what}: a mutant verified`);
}

function flipped(bytes: Uint8Array, i: number): Uint8Array {
  const m = new Uint8Array(bytes);
  m[i]! ^= 0x01;
  return m;
}

/** Offset of `part` (a view into `whole`) within `whole`. */
function offsetIn(whole: Uint8Array, part: Uint8Array): number {
  return part.byteOffset - whole.byteOffset;
}

for (const c of subjects) {
  const bundle = parseCollateralBundle(c.collateralText!);

  test(`${c.json.id}: the unmutated quote verifies`, async () => {
    const r = await verifier.verify(c.quote, bundle, caseOptions(c));
    assert.equal(r.status, c.json.expect!.status);
  });

  test(`${c.json.id}: every byte of the quote's signed and authenticated regions flipped`, async () => {
    const q = parseQuote(c.quote);
    const s = q.signature;
    const qr = s.qeReportCertificationData;
    const regions: [string, Uint8Array][] = [
      ['header and body', q.signedBytes],
      ['quote signature', s.quoteSignature],
      ['attestation key', s.attestationKey],
      ['QE report', qr.qeReport.raw],
      ['QE report signature', qr.qeReportSignature],
      ['QE auth data', qr.qeAuthData],
    ];
    let n = 0;
    for (const [name, region] of regions) {
      const start = offsetIn(c.quote, region);
      for (let i = 0; i < region.length; i++) {
        await mustFail(c, flipped(c.quote, start + i), bundle, `${name} byte ${i}`);
        n++;
      }
    }
    assert.ok(n > 1000);
  });

  test(`${c.json.id}: every DER byte of the PCK chain certificates flipped`, async () => {
    const q = parseQuote(c.quote);
    const cd = q.signature.qeReportCertificationData.certificationData;
    assert.equal(cd.type, 5);
    const start = offsetIn(c.quote, cd.data);
    const text = new TextDecoder('latin1').decode(cd.data);
    const blocks = [...text.matchAll(/-----BEGIN CERTIFICATE-----\n?([\s\S]*?)-----END CERTIFICATE-----/g)];
    assert.equal(blocks.length, 3);
    for (const m of blocks) {
      const bodyStart = m.index! + m[0].indexOf(m[1]!);
      const b64 = m[1]!.replace(/\s/g, '');
      const der = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
      for (let i = 0; i < der.length; i++) {
        const mutated = flipped(der, i);
        const mb64 = btoa(String.fromCharCode(...mutated));
        // Re-insert keeping the original line breaks (same length: flips do not change the base64 length).
        let j = 0;
        const body = m[1]!.replace(/[^\s]/g, () => mb64[j++]!);
        const quote = new Uint8Array(c.quote);
        quote.set(new TextEncoder().encode(body), start + bodyStart);
        await mustFail(c, quote, bundle, `certificate byte ${i}`);
      }
    }
  });

  test(`${c.json.id}: every byte of the signed collateral flipped`, async () => {
    const body = (s: string, i: number) => s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ 0x01) + s.slice(i + 1);
    for (let i = 0; i < bundle.tcbInfoBody.length; i++) {
      await mustFail(c, c.quote, { ...bundle, tcbInfoBody: body(bundle.tcbInfoBody, i) }, `tcb_info char ${i}`);
    }
    for (let i = 0; i < bundle.qeIdentityBody.length; i++) {
      await mustFail(c, c.quote, { ...bundle, qeIdentityBody: body(bundle.qeIdentityBody, i) }, `qe_identity char ${i}`);
    }
    for (let i = 0; i < 64; i++) {
      await mustFail(c, c.quote, { ...bundle, tcbInfoSignature: flipped(bundle.tcbInfoSignature, i) }, `tcb sig ${i}`);
      await mustFail(c, c.quote, { ...bundle, qeIdentitySignature: flipped(bundle.qeIdentitySignature, i) }, `qe sig ${i}`);
    }
    for (let i = 0; i < bundle.rootCaCrl.length; i++) {
      await mustFail(c, c.quote, { ...bundle, rootCaCrl: flipped(bundle.rootCaCrl, i) }, `root CRL byte ${i}`);
    }
    for (let i = 0; i < bundle.pckCrl.length; i++) {
      await mustFail(c, c.quote, { ...bundle, pckCrl: flipped(bundle.pckCrl, i) }, `PCK CRL byte ${i}`);
    }
  });

  test(`${c.json.id}: truncations and changed length fields`, async () => {
    const q = parseQuote(c.quote);
    const end = c.quote.length - q.trailingBytes;
    for (let n = 0; n < end; n += n < 700 ? 1 : 7) {
      await mustFail(c, c.quote.subarray(0, n), bundle, `truncated to ${n}`);
    }
    const sigLenOffset = q.signedBytes.length;
    const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (const delta of [-1, 1, 64, -64, 0x10000]) {
      const m = new Uint8Array(c.quote);
      view(m).setUint32(sigLenOffset, q.signatureDataLength + delta, true);
      await mustFail(c, m, bundle, `signature data length ${delta}`);
    }
    const authSizeOffset = offsetIn(c.quote, q.signature.qeReportCertificationData.qeAuthData) - 2;
    for (const v of [0, 31, 33, 0xffff]) {
      const m = new Uint8Array(c.quote);
      view(m).setUint16(authSizeOffset, v, true);
      await mustFail(c, m, bundle, `QE auth data size ${v}`);
    }
    const cd = q.signature.qeReportCertificationData.certificationData;
    const cdSizeOffset = offsetIn(c.quote, cd.data) - 4;
    for (const delta of [-1, 1, 1000]) {
      const m = new Uint8Array(c.quote);
      view(m).setUint32(cdSizeOffset, cd.data.length + delta, true);
      await mustFail(c, m, bundle, `certification data size ${delta}`);
    }
  });
}
