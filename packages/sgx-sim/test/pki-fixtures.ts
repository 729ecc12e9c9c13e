/** Shared fixtures of the PKI / quoting / collateral tests: a fixed platform, an application enclave, checks. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { DcapError, QuoteVerifier, trustAnchorFromCertificate, type DcapErrorCode } from '@cloister/dcap';
import { SGX_FLAGS, type EnclaveIdentity } from '../src/identity.js';
import { Platform } from '../src/platform.js';
import type { SimPkiCertificates } from '../src/pki.js';

export const FIXED_SECRET = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);

/** A platform with fixed secret and identifiers (so every key and serial is reproducible). */
export function fixedPlatform(overrides: Parameters<typeof Platform.create>[0] = {}): Platform {
  return Platform.create({
    secret: FIXED_SECRET,
    ppid: '00112233445566778899aabbccddeeff',
    platformInstanceId: 'f0e1d2c3b4a5968778695a4b3c2d1e0f',
    ...overrides,
  });
}

const sha = (s: string): Uint8Array => new Uint8Array(createHash('sha256').update(s).digest());

/** A made-up production enclave. */
export const APP_IDENTITY: EnclaveIdentity = {
  mrEnclave: sha('test app enclave'),
  mrSigner: sha('test app signer'),
  flags: SGX_FLAGS.INITTED | SGX_FLAGS.MODE64BIT,
  xfrm: 0x03n,
  miscSelect: 0,
  isvProdId: 42,
  isvSvn: 3,
  configId: new Uint8Array(64),
  configSvn: 0,
  isvExtProdId: new Uint8Array(16),
  isvFamilyId: new Uint8Array(16),
};

export const APP_REPORT_DATA = Uint8Array.from({ length: 64 }, (_, i) => 0xa0 ^ i);

export function simVerifier(pki: SimPkiCertificates): QuoteVerifier {
  return new QuoteVerifier({ trustAnchors: [trustAnchorFromCertificate(pki.rootCertPem)] });
}

export async function rejectsWith(p: Promise<unknown>, code: DcapErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(DcapError.is(e), `expected a DcapError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}
