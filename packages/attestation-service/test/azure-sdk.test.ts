/**
 * Microsoft's own client, @azure/attestation 1.0.0, against the service over HTTPS with a test CA: attestation of
 * SGX quotes and Open Enclave reports with Binary and JSON runtime data (the SDK validates every token against
 * /certs), signers, OpenID metadata, and policy management with AttestationAdministrationClient.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { AttestationAdministrationClient, AttestationClient } from '@azure/attestation';
import { DEFAULT_SGX_POLICY, startAttestationService, type AttestationServiceHandle } from '../src/index.js';
import { MRENCLAVE, MRSIGNER, policySigner, simFixture, testTls, type SimFixture, type TestTls } from './fixtures.js';

const ADMIN = 'admin-token-0123456789abcdef';
let tls: TestTls;
let sim: SimFixture;
let svc: AttestationServiceHandle;
let simUrl: string;

function clientOptions() {
  return { tlsOptions: { ca: tls.caPem }, retryOptions: { maxRetries: 0 } };
}
const credential = (token: string) => ({ getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) });

before(async () => {
  tls = await testTls();
  sim = await simFixture();
  svc = await startAttestationService({
    tls: { cert: tls.cert, key: tls.key },
    allowSimulated: true,
    trustRoots: [sim.rootPem],
    collateral: [sim.collateralJson],
    adminToken: ADMIN,
    policyCacheMs: 0,
    logLevel: 'silent',
  });
  simUrl = `${svc.url}/simulated`;
});

after(async () => {
  await svc.close();
  tls.cleanup();
});

test('attestSgxEnclave with Binary runtime data: claims, held data, token validated against /certs and the issuer', async () => {
  const client = new AttestationClient(simUrl, clientOptions());
  const rd = new TextEncoder().encode('binary runtime data');
  const r = await client.attestSgxEnclave(sim.quote(rd), {
    runTimeData: rd,
    validationOptions: { validateToken: true, validateExpirationTime: true, validateNotBeforeTime: true, validateIssuer: true, expectedIssuer: simUrl },
  });
  assert.equal(r.body.mrEnclave, MRENCLAVE);
  assert.equal(r.body.mrSigner, MRSIGNER);
  assert.equal(r.body.productId, 7);
  assert.equal(r.body.svn, 3);
  assert.equal(r.body.isDebuggable, false);
  assert.equal(r.body.verifierType, 'sgx');
  assert.equal(r.body.issuer, simUrl);
  assert.deepEqual([...(r.body.enclaveHeldData ?? [])], [...rd]);
  assert.equal(r.token.algorithm, 'RS256');
  assert.equal(r.token.keyUrl, `${simUrl}/certs`);
  const header = JSON.parse(Buffer.from(r.token.serialize().split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(header).sort(), ['alg', 'jku', 'kid', 'typ']);
  assert.equal(header['typ'], 'JWT');
  const body = r.token.getBody() as Record<string, unknown>;
  assert.equal(body['x-cloister-simulated'], true, 'a simulated token says so');
  assert.equal(body['iat'], body['nbf']);
  assert.equal((body['exp'] as number) - (body['iat'] as number), 8 * 3600);
  assert.match(String(body['jti']), /^[0-9a-f]{64}$/);
  assert.deepEqual(r.body.policyClaims, { 'is-debuggable': false, 'sgx-mrsigner': MRSIGNER, 'sgx-mrenclave': MRENCLAVE, 'product-id': 7, svn: 3, tee: 'sgx' });
});

test('attestSgxEnclave with JSON runtime data: x-ms-runtime, no x-ms-sgx-ehd', async () => {
  const client = new AttestationClient(simUrl, clientOptions());
  const json = new TextEncoder().encode(JSON.stringify({ jwk: { kty: 'EC', crv: 'P-256' }, n: 1 }));
  const r = await client.attestSgxEnclave(sim.quote(json), { runTimeJson: json });
  assert.deepEqual(r.body.runTimeClaims, { jwk: { kty: 'EC', crv: 'P-256' }, n: 1 });
  const body = r.token.getBody() as Record<string, unknown>;
  assert.equal(body['x-ms-sgx-ehd'], undefined);
  assert.equal(body['maa-ehd'], undefined);
});

test('attestOpenEnclave with Binary and with JSON runtime data', async () => {
  const client = new AttestationClient(simUrl, clientOptions());
  const rd = new Uint8Array([1, 2, 3, 4, 5]);
  const a = await client.attestOpenEnclave(sim.oeReport(rd), { runTimeData: rd });
  assert.equal(a.body.mrEnclave, MRENCLAVE);
  assert.deepEqual([...(a.body.enclaveHeldData ?? [])], [...rd]);
  const json = new TextEncoder().encode('{"key":"value"}');
  const b = await client.attestOpenEnclave(sim.oeReport(json), { runTimeJson: json });
  assert.deepEqual(b.body.runTimeClaims, { key: 'value' });
});

test('a quote whose runtime data does not match REPORTDATA is refused with a code', async () => {
  const client = new AttestationClient(simUrl, clientOptions());
  await assert.rejects(client.attestSgxEnclave(sim.quote(new Uint8Array([1])), { runTimeData: new Uint8Array([2]) }), (e: { statusCode?: number; code?: string }) => {
    assert.equal(e.statusCode, 400);
    assert.equal(e.code, 'RUNTIME_DATA_MISMATCH');
    return true;
  });
});

test('the real instance refuses simulated evidence', async () => {
  const client = new AttestationClient(svc.url, clientOptions());
  await assert.rejects(client.attestSgxEnclave(sim.quote()), (e: { statusCode?: number; code?: string }) => e.statusCode === 400 && e.code === 'EVIDENCE_REFUSED');
});

test('getAttestationSigners: the kid of the tokens, a self-signed certificate CN=<issuer>', async () => {
  const client = new AttestationClient(simUrl, clientOptions());
  const signers = await client.getAttestationSigners();
  assert.equal(signers.length, 1);
  const cert = new X509Certificate(signers[0]!.certificates[0]!);
  assert.equal(cert.subject, `CN=${simUrl}`);
  assert.equal(cert.issuer, `CN=${simUrl}`);
  const r = await client.attestSgxEnclave(sim.quote());
  assert.equal(r.token.keyId, signers[0]!.keyId);
  // The real instance has its own key.
  const real = await new AttestationClient(svc.url, clientOptions()).getAttestationSigners();
  assert.notEqual(real[0]!.keyId, signers[0]!.keyId);
});

test('getOpenIdMetadata: issuer and jwks_uri', async () => {
  const md = await new AttestationClient(simUrl, clientOptions()).getOpenIdMetadata();
  assert.equal(md['issuer'], simUrl);
  assert.equal(md['jwks_uri'], `${simUrl}/certs`);
  assert.deepEqual(md['id_token_signing_alg_values_supported'], ['RS256']);
});

test('admin client: getPolicy (default), setPolicy that denies, resetPolicy', async () => {
  const admin = new AttestationAdministrationClient(simUrl, credential(ADMIN), clientOptions());
  const client = new AttestationClient(simUrl, clientOptions());
  const got = await admin.getPolicy('SgxEnclave');
  assert.equal(got.body, DEFAULT_SGX_POLICY);

  const denying = 'version=1.0;\nauthorizationrules {\n  [type=="x-ms-sgx-svn", value>=100] => permit();\n};\nissuancerules {};';
  const set = await admin.setPolicy('SgxEnclave', denying);
  assert.equal(set.body.policyResolution, 'Updated');
  assert.equal((await admin.getPolicy('SgxEnclave')).body, denying);
  await assert.rejects(client.attestSgxEnclave(sim.quote()), (e: { statusCode?: number; code?: string }) => e.statusCode === 400 && e.code === 'POLICY_DENIED');

  const reset = await admin.resetPolicy('SgxEnclave');
  assert.equal(reset.body.policyResolution, 'Removed');
  const ok = await client.attestSgxEnclave(sim.quote());
  assert.equal(ok.body.svn, 3);
});

test('admin client: a signed policy is accepted and its signer appears in tokens; a policy syntax error names line and column', async () => {
  const admin = new AttestationAdministrationClient(simUrl, credential(ADMIN), clientOptions());
  const signer = await policySigner();
  const policy = 'version=1.0;\nauthorizationrules { [type=="x-ms-sgx-svn", value>=3] => permit(); };\nissuancerules { c:[type=="x-ms-sgx-mrsigner"] => issue(type="signer", value=c.value); };';
  const set = await admin.setPolicy('OpenEnclave', policy, { privateKey: signer.privateKeyPem, certificate: signer.certificatePem });
  assert.equal(set.body.policyResolution, 'Updated');
  assert.ok(set.body.policySigner !== undefined);
  const r = await new AttestationClient(simUrl, clientOptions()).attestOpenEnclave(sim.oeReport());
  assert.deepEqual(r.body.policyClaims, { signer: MRSIGNER });
  assert.ok(r.body.policySigner !== undefined, 'x-ms-policy-signer is in the token');

  await assert.rejects(admin.setPolicy('SgxEnclave', 'version=1.0;\nauthorizationrules {\n  [type=="a" value==1] => permit();\n};'), (e: { statusCode?: number; code?: string; message?: string }) => {
    assert.equal(e.statusCode, 400);
    assert.equal(e.code, 'POLICY_INVALID');
    assert.match(String(e.message), /line 3, column 14/);
    return true;
  });
  await admin.resetPolicy('OpenEnclave');
});

test('a wrong admin token is refused (403), a missing one is 401', async () => {
  const admin = new AttestationAdministrationClient(simUrl, credential('wrong-token-0123456789abcdef'), clientOptions());
  await assert.rejects(admin.getPolicy('SgxEnclave'), (e: { statusCode?: number; code?: string }) => e.statusCode === 403 && e.code === 'FORBIDDEN');
  await assert.rejects(admin.setPolicy('SgxEnclave', 'version=1.0; authorizationrules { => deny(); };'), (e: { statusCode?: number }) => e.statusCode === 403);
  const res = await fetch(`${simUrl}/policies/SgxEnclave?api-version=2020-10-01`).catch(() => undefined);
  // Node's fetch does not trust the test CA; the 401 is checked over http in the hostile-request tests.
  assert.equal(res, undefined);
});

test('isolated mode: only policies signed by a configured policy signer are accepted', async () => {
  const signer = await policySigner();
  const other = await policySigner();
  const iso = await startAttestationService({
    tls: { cert: tls.cert, key: tls.key },
    adminToken: ADMIN,
    policySignerCerts: [signer.certificatePem],
    logLevel: 'silent',
  });
  try {
    const admin = new AttestationAdministrationClient(iso.url, credential(ADMIN), clientOptions());
    const text = 'version=1.0; authorizationrules { => permit(); }; issuancerules { };';
    await assert.rejects(admin.setPolicy('SgxEnclave', text), (e: { code?: string }) => e.code === 'POLICY_SIGNATURE_REQUIRED');
    await assert.rejects(admin.setPolicy('SgxEnclave', text, { privateKey: other.privateKeyPem, certificate: other.certificatePem }), (e: { code?: string }) => e.code === 'POLICY_SIGNER_UNKNOWN');
    const ok = await admin.setPolicy('SgxEnclave', text, { privateKey: signer.privateKeyPem, certificate: signer.certificatePem });
    assert.equal(ok.body.policyResolution, 'Updated');
    const certs = await admin.getPolicyManagementCertificates();
    assert.equal(certs.body.length, 1);
    // A second signer is added (signed by the first), then signs a policy, then is removed.
    const added = await admin.addPolicyManagementCertificate(other.certificatePem, signer.privateKeyPem, signer.certificatePem);
    assert.equal(added.body.certificateResolution, 'IsPresent');
    assert.match(added.body.certificateThumbprint, /^[0-9A-F]{40}$/);
    assert.equal((await admin.getPolicyManagementCertificates()).body.length, 2);
    await admin.setPolicy('SgxEnclave', text, { privateKey: other.privateKeyPem, certificate: other.certificatePem });
    const removed = await admin.removePolicyManagementCertificate(other.certificatePem, signer.privateKeyPem, signer.certificatePem);
    assert.equal(removed.body.certificateResolution, 'IsAbsent');
    assert.equal((await admin.getPolicyManagementCertificates()).body.length, 1);
    await assert.rejects(admin.setPolicy('SgxEnclave', text, { privateKey: other.privateKeyPem, certificate: other.certificatePem }), (e: { code?: string }) => e.code === 'POLICY_SIGNER_UNKNOWN');
  } finally {
    await iso.close();
  }
});
