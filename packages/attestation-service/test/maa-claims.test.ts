/** The real Open Enclave report in the corpus (testdata/oe/oe-sdk-release): the claims equal its expectMaaClaims. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { testdataDir } from '@cloister/testkit';
import { maaClaimsForEvidence } from '../src/index.js';

const dir = join(testdataDir, 'oe', 'oe-sdk-release');
const expect = JSON.parse(readFileSync(join(dir, 'expect.json'), 'utf8')) as { files: { evidence: string; enclaveHeldData: string }; expectMaaClaims: Record<string, unknown> };

test('oe-sdk-release: every key of expectMaaClaims is issued with its value', () => {
  const report = new Uint8Array(readFileSync(join(dir, expect.files.evidence)));
  const held = new Uint8Array(readFileSync(join(dir, expect.files.enclaveHeldData)));
  const claims = maaClaimsForEvidence(report, { runtimeData: { data: held, dataType: 'Binary' } });
  for (const [k, v] of Object.entries(expect.expectMaaClaims)) assert.deepEqual(claims[k], v, k);
  // Open Enclave: quotehash is SHA-256 of the quote without the 16-byte oe_report_header_t.
  const collateral = claims['x-ms-sgx-collateral'] as Record<string, string>;
  assert.equal(collateral['quotehash'], createHash('sha256').update(report.subarray(16)).digest('hex'));
  assert.equal(claims['x-ms-attestation-type'], 'sgx');
  assert.equal(claims['sgx-mrenclave'], expect.expectMaaClaims['x-ms-sgx-mrenclave']);
  assert.equal(claims['maa-ehd'], expect.expectMaaClaims['x-ms-sgx-ehd']);
});

test('oe-sdk-release: held data that is not bound to REPORTDATA is refused', () => {
  const report = new Uint8Array(readFileSync(join(dir, expect.files.evidence)));
  assert.throws(() => maaClaimsForEvidence(report, { runtimeData: { data: new Uint8Array([1]), dataType: 'Binary' } }), (e: unknown) => (e as { code?: string }).code === 'RUNTIME_DATA_MISMATCH');
});
