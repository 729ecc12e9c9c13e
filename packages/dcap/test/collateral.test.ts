/** Collateral parsing: TCB info, enclave identity, bundles, raw JSON spans; against the real corpus. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toHex, fromHex } from '../src/util/bytes.js';
import { encodePem } from '../src/util/pem.js';
import { rawJsonMember, JSON_SPAN_MAX_DEPTH } from '../src/collateral/json-span.js';
import { parseTcbInfo } from '../src/collateral/tcb-info.js';
import { parseEnclaveIdentity } from '../src/collateral/enclave-identity.js';
import {
  COLLATERAL_BUNDLE_KEYS,
  collateralFromPcsResponses,
  crlInputToDer,
  parseCollateralBundle,
  serializeCollateralBundle,
} from '../src/collateral/bundle.js';
import type { CollateralBundle } from '../src/collateral/types.js';
import { loadDcapCases } from './corpus.js';
import { expectCode } from './test-helpers.js';

const cases = loadDcapCases().filter((c) => c.collateralText !== undefined);
function corpus(id: string): { text: string; bundle: CollateralBundle; json: Record<string, string> } {
  const c = cases.find((x) => x.json.id === id);
  assert.ok(c?.collateralText !== undefined, `corpus case ${id}`);
  return {
    text: c.collateralText,
    bundle: parseCollateralBundle(c.collateralText),
    json: JSON.parse(c.collateralText) as Record<string, string>,
  };
}


type Json = Record<string, unknown>;
/** Parse, change, re-serialise (the result is not Intel-signed; parsing only). */
function mutate(text: string, change: (o: Json) => void): string {
  const o = JSON.parse(text) as Json;
  change(o);
  return JSON.stringify(o);
}
const levels = (o: Json): Json[] => o['tcbLevels'] as Json[];
const tcbOf = (level: Json | undefined): Json => (level as Json)['tcb'] as Json;

const SGX = 'dcapqvl-sgx-v3';
const TDX = 'dcapqvl-tdx-v4';

test('corpus: every collateral.json parses, TCB info and QE identity included', () => {
  assert.ok(cases.length >= 5);
  for (const c of cases) {
    const b = parseCollateralBundle(c.collateralText!);
    const tcb = parseTcbInfo(b.tcbInfoBody);
    const qe = parseEnclaveIdentity(b.qeIdentityBody);
    assert.equal(b.tcbInfoSignature.length, 64, c.json.id);
    assert.equal(b.qeIdentitySignature.length, 64, c.json.id);
    assert.equal(b.rootCaCrl[0], 0x30, c.json.id);
    assert.equal(b.pckCrl[0], 0x30, c.json.id);
    assert.match(tcb.fmspc, /^[0-9a-f]{12}$/, c.json.id);
    assert.equal(tcb.pceId, '0000', c.json.id);
    assert.ok(tcb.nextUpdate > tcb.issueDate, c.json.id);
    assert.ok(qe.nextUpdate > qe.issueDate, c.json.id);
    assert.ok(tcb.tcbLevels.length > 0 && qe.tcbLevels.length > 0, c.json.id);
    // The TDX-ness of the TCB info follows its id, not the quote (mismatch-* cases pair them wrongly on purpose).
    assert.equal(tcb.tdxModule !== undefined, tcb.id === 'TDX', c.json.id);
    for (const level of tcb.tcbLevels) {
      assert.equal(level.sgxTcbComponents.length, 16);
      assert.equal(level.tdxTcbComponents?.length, tcb.id === 'TDX' ? 16 : undefined);
    }
  }
});

test('corpus: SGX TCB info and QE identity fields', () => {
  const { bundle } = corpus(SGX);
  const tcb = parseTcbInfo(bundle.tcbInfoBody);
  assert.equal(tcb.id, 'SGX');
  assert.equal(tcb.version, 3);
  assert.equal(tcb.fmspc, '00a067110000'); // served upper-case: 00A067110000
  assert.equal(tcb.tcbType, 0);
  assert.equal(tcb.tcbEvaluationDataNumber, 17);
  assert.equal(tcb.issueDate, Date.UTC(2025, 5, 19, 10, 56, 11));
  assert.equal(tcb.nextUpdate, Date.UTC(2025, 6, 19, 10, 56, 11));
  assert.equal(tcb.tcbLevels.length, 11);
  const first = tcb.tcbLevels[0]!;
  assert.equal(first.tcbStatus, 'SWHardeningNeeded');
  assert.deepEqual(first.advisoryIds, ['INTEL-SA-00615']);
  assert.deepEqual(first.sgxTcbComponents, [11, 11, 2, 2, 255, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(first.pceSvn, 13);
  assert.equal(first.tcbDate, '2024-03-13T00:00:00Z');
  assert.equal(tcb.tdxModule, undefined);
  assert.equal(tcb.tdxModuleIdentities, undefined);

  const qe = parseEnclaveIdentity(bundle.qeIdentityBody);
  assert.equal(qe.id, 'QE');
  assert.equal(qe.version, 2);
  assert.equal(qe.isvProdId, 1);
  assert.equal(qe.miscselect, 0);
  assert.equal(qe.miscselectMask, 0xffffffff);
  assert.equal(toHex(qe.attributes), '11000000000000000000000000000000');
  assert.equal(toHex(qe.attributesMask), 'fbffffffffffffff0000000000000000');
  assert.equal(toHex(qe.mrsigner), '8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff');
  assert.equal(qe.tcbLevels.length, 6);
  assert.deepEqual(qe.tcbLevels[0], { isvSvn: 8, tcbDate: '2024-03-13T00:00:00Z', tcbStatus: 'UpToDate', advisoryIds: [] });
  assert.deepEqual(qe.tcbLevels[1]?.advisoryIds, ['INTEL-SA-00615']);
});

test('corpus: TDX TCB info with module identities, TD_QE identity', () => {
  const { bundle } = corpus(TDX);
  const tcb = parseTcbInfo(bundle.tcbInfoBody);
  assert.equal(tcb.id, 'TDX');
  assert.equal(tcb.fmspc, 'b0c06f000000');
  assert.equal(tcb.tcbLevels.length, 2);
  assert.equal(tcb.tcbLevels[0]?.tcbStatus, 'UpToDate');
  assert.deepEqual(tcb.tcbLevels[0]?.advisoryIds, []);
  assert.deepEqual(tcb.tcbLevels[0]?.tdxTcbComponents?.slice(0, 4), [5, 0, 2, 0]);
  assert.equal(tcb.tcbLevels[1]?.tcbStatus, 'OutOfDate');
  assert.ok(tcb.tdxModule !== undefined);
  assert.equal(toHex(tcb.tdxModule.mrsigner), '00'.repeat(48));
  assert.equal(toHex(tcb.tdxModule.attributes), '00'.repeat(8));
  assert.equal(toHex(tcb.tdxModule.attributesMask), 'ff'.repeat(8));
  const ids = tcb.tdxModuleIdentities;
  assert.ok(ids !== undefined);
  assert.deepEqual(
    ids.map((m) => [m.id, m.tcbLevels.map((l) => [l.isvSvn, l.tcbStatus])]),
    [
      ['TDX_03', [[3, 'UpToDate']]],
      ['TDX_01', [[4, 'UpToDate'], [2, 'OutOfDate']]],
    ],
  );
  const qe = parseEnclaveIdentity(bundle.qeIdentityBody);
  assert.equal(qe.id, 'TD_QE');
  assert.equal(qe.isvProdId, 2);
  assert.equal(toHex(qe.mrsigner), 'dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5');
  assert.equal(qe.tcbLevels.length, 1);

  // go-tdx-guest's older collateral: lower-case FMSPC as served, tdxModule but no tdxModuleIdentities.
  const old = parseTcbInfo(corpus('gotdxguest-tdx-v4-spr-e4').bundle.tcbInfoBody);
  assert.equal(old.fmspc, '50806f000000');
  assert.ok(old.tdxModule !== undefined);
  assert.equal(old.tdxModuleIdentities, undefined);
});

test('bundle: serialize ∘ parse is byte-identical for every corpus file', () => {
  for (const c of cases) {
    const b = parseCollateralBundle(c.collateralText!);
    assert.equal(serializeCollateralBundle(b), c.collateralText, c.json.id);
    assert.deepEqual(parseCollateralBundle(serializeCollateralBundle(b)), b, c.json.id);
    // Object input gives the same bundle; signed texts are the exact strings.
    const json = JSON.parse(c.collateralText!) as Record<string, string>;
    assert.deepEqual(parseCollateralBundle(json), b);
    assert.equal(b.tcbInfoBody, json['tcb_info']);
    assert.equal(b.qeIdentityBody, json['qe_identity']);
  }
});

test('bundle: optional pck_certificate_chain round-trips; null means absent', () => {
  const { json } = corpus(SGX);
  const withChain = parseCollateralBundle({ ...json, pck_certificate_chain: json['pck_crl_issuer_chain'] });
  assert.equal(withChain.pckCertificateChain, json['pck_crl_issuer_chain']);
  assert.deepEqual(parseCollateralBundle(serializeCollateralBundle(withChain)), withChain);
  const nullChain = parseCollateralBundle({ ...json, pck_certificate_chain: null });
  assert.ok(!('pckCertificateChain' in nullChain));
});

test('bundle: CRLs as PEM, DER bytes or hex give the same DER', () => {
  const { json, bundle } = corpus(TDX);
  const pem = encodePem('X509 CRL', bundle.pckCrl);
  assert.deepEqual(parseCollateralBundle({ ...json, pck_crl: pem }).pckCrl, bundle.pckCrl);
  const upper = parseCollateralBundle({ ...json, root_ca_crl: json['root_ca_crl']!.toUpperCase() });
  assert.deepEqual(upper.rootCaCrl, bundle.rootCaCrl);
  assert.deepEqual(crlInputToDer(bundle.rootCaCrl), bundle.rootCaCrl);
  assert.deepEqual(crlInputToDer(new TextEncoder().encode(`${json['root_ca_crl']}\n`)), bundle.rootCaCrl);
  assert.deepEqual(crlInputToDer(new TextEncoder().encode(pem)), bundle.pckCrl);
});

test('bundle: malformed input gives the specified codes', () => {
  const { json } = corpus(SGX);
  for (const key of COLLATERAL_BUNDLE_KEYS) {
    const copy: Record<string, unknown> = { ...json };
    delete copy[key];
    expectCode(() => parseCollateralBundle(copy), 'MISSING_PARAMETERS', `without ${key}`);
    expectCode(() => parseCollateralBundle({ ...json, [key]: 42 }), 'MISSING_PARAMETERS', `${key} a number`);
  }
  expectCode(() => parseCollateralBundle('{'), 'INVALID_INPUT_ENCODING', 'not JSON');
  expectCode(() => parseCollateralBundle('[]'), 'INVALID_INPUT_ENCODING', 'array');
  expectCode(() => parseCollateralBundle('null'), 'INVALID_INPUT_ENCODING', 'null');
  expectCode(() => parseCollateralBundle({ ...json, tcb_info_signature: 'ab' }), 'SGX_TCB_INFO_INVALID', 'short sig');
  expectCode(
    () => parseCollateralBundle({ ...json, qe_identity_signature: `${json['qe_identity_signature']}00` }),
    'SGX_ENCLAVE_IDENTITY_INVALID',
    'long sig',
  );
  expectCode(() => parseCollateralBundle({ ...json, tcb_info_signature: 'zz'.repeat(64) }), 'INVALID_INPUT_ENCODING', 'hex');
  expectCode(() => parseCollateralBundle({ ...json, pck_crl: 'not a crl' }), 'SGX_CRL_UNSUPPORTED_FORMAT', 'crl text');
  expectCode(() => parseCollateralBundle({ ...json, root_ca_crl: '3003020101ff' }), 'SGX_CRL_UNSUPPORTED_FORMAT', 'crl len');
  expectCode(
    () => parseCollateralBundle({ ...json, pck_crl: '-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n' }),
    'SGX_CRL_UNSUPPORTED_FORMAT',
    'crl pem label',
  );
  expectCode(() => crlInputToDer(new Uint8Array([0xff, 0xfe, 0x00])), 'SGX_CRL_UNSUPPORTED_FORMAT', 'crl bytes');
});

// ---------------------------------------------------------------------------------------------------------------------
// rawJsonMember

test('rawJsonMember: exact substring from PCS-style bodies built around the real signed texts', () => {
  for (const c of cases) {
    const b = parseCollateralBundle(c.collateralText!);
    const sig = toHex(b.tcbInfoSignature);
    const bodies = [
      `{"tcbInfo":${b.tcbInfoBody},"signature":"${sig}"}`,
      `{"signature":"${sig}","tcbInfo":${b.tcbInfoBody}}`,
      ` \r\n\t{ "signature" :\n"${sig}" ,\r\n\t"tcbInfo"  :\t${b.tcbInfoBody}\n\n}\n `,
      `{"tcb\\u0049nfo":${b.tcbInfoBody},"signature":"${sig}"}`, // escaped member name
      // decoys: the name inside a string, in a nested object, in an array
      `{"x":"\\"tcbInfo\\":{}","y":{"tcbInfo":[1]},"tcbInfo":${b.tcbInfoBody},` +
        `"z":[{"tcbInfo":2},"\\\\"],"signature":"${sig}"}`,
    ];
    for (const body of bodies) {
      assert.equal(rawJsonMember(body, 'tcbInfo'), b.tcbInfoBody, c.json.id);
      assert.equal(rawJsonMember(body, 'signature'), `"${sig}"`);
      assert.equal(JSON.stringify(JSON.parse(body).tcbInfo), JSON.stringify(JSON.parse(b.tcbInfoBody)));
    }
    const qe = `{"enclaveIdentity":${b.qeIdentityBody},"signature":"${toHex(b.qeIdentitySignature)}"}`;
    assert.equal(rawJsonMember(qe, 'enclaveIdentity'), b.qeIdentityBody);
  }
});

test('rawJsonMember: values with escapes, whitespace and every JSON type are cut exactly', () => {
  const body =
    '{"a" : "q\\"u\\\\o\\/te\\u00e9\\n" ,"b":[ 1 , -2.5e+3 ,{ "c" : null } ],' +
    '"d":true,"e":false,"f":0,"g":{}, "h":[]}';
  assert.equal(rawJsonMember(body, 'a'), '"q\\"u\\\\o\\/te\\u00e9\\n"');
  assert.equal(rawJsonMember(body, 'b'), '[ 1 , -2.5e+3 ,{ "c" : null } ]');
  assert.equal(rawJsonMember(body, 'd'), 'true');
  assert.equal(rawJsonMember(body, 'e'), 'false');
  assert.equal(rawJsonMember(body, 'f'), '0');
  assert.equal(rawJsonMember(body, 'g'), '{}');
  assert.equal(rawJsonMember(body, 'h'), '[]');
  assert.equal(rawJsonMember(body, 'c'), undefined); // not top-level
  assert.equal(rawJsonMember(body, 'missing'), undefined);
  assert.equal(rawJsonMember('{}', 'a'), undefined);
  assert.equal(rawJsonMember('{"\\ud83d\\ude00":1}', '\u{1F600}'), '1');
  assert.equal(rawJsonMember('{"k":"\u{1F600}é"}', 'k'), '"\u{1F600}é"');
});

test('rawJsonMember: rejects what is not one JSON object, with the given code', () => {
  const bad = [
    '',
    '[]',
    '1',
    '"s"',
    'null',
    '{',
    '{"a":1',
    '{"a":1}x',
    '{"a":1}{}',
    '{"a":1,}',
    '{"a" 1}',
    '{a:1}',
    "{'a':1}",
    '{"a":01}',
    '{"a":1.}',
    '{"a":-}',
    '{"a":1e}',
    '{"a":.5}',
    '{"a":+1}',
    '{"a":tru}',
    '{"a":NaN}',
    '{"a":"\\x"}',
    '{"a":"\\u12g4"}',
    '{"a":"tab\there"}',
    '{"a":"unterminated}',
    '{"a":[1,]}',
    '{"a":[1 2]}',
    '\u00a0{"a":1}', // non-JSON whitespace
    '{"a":1,"a":2}', // duplicate of the requested member
  ];
  const code = 'SGX_TCB_INFO_UNSUPPORTED_FORMAT';
  for (const text of bad) expectCode(() => rawJsonMember(text, 'a', code), code, JSON.stringify(text));
  expectCode(() => rawJsonMember('[]', 'a'), 'INVALID_INPUT_ENCODING', 'default code');
  // duplicates of other members do not make the requested one ambiguous
  assert.equal(rawJsonMember('{"b":1,"b":2,"a":3}', 'a'), '3');
});

test('rawJsonMember: nesting depth is bounded', () => {
  const nest = (n: number): string => `{"a":${'['.repeat(n)}${']'.repeat(n)}}`;
  const n = JSON_SPAN_MAX_DEPTH - 1; // + the top-level object = the limit
  assert.equal(rawJsonMember(nest(n), 'a'), `${'['.repeat(n)}${']'.repeat(n)}`);
  expectCode(() => rawJsonMember(nest(JSON_SPAN_MAX_DEPTH), 'a'), 'INVALID_INPUT_ENCODING', 'too deep');
  expectCode(() => rawJsonMember(nest(100_000), 'a'), 'INVALID_INPUT_ENCODING', 'very deep');
  const objects = `{"a":${'{"b":'.repeat(200)}1${'}'.repeat(200)}}`;
  expectCode(() => rawJsonMember(objects, 'a'), 'INVALID_INPUT_ENCODING', 'objects');
});

// ---------------------------------------------------------------------------------------------------------------------
// TCB info

test('TCB info: malformed inputs give the specified codes', () => {
  const sgx = corpus(SGX).bundle.tcbInfoBody;
  const tdx = corpus(TDX).bundle.tcbInfoBody;
  const F = 'SGX_TCB_INFO_UNSUPPORTED_FORMAT';
  const I = 'SGX_TCB_INFO_INVALID';
  for (const text of ['', 'not json', '[]', '"x"', '1', 'null', `${sgx}x`, '{"a":1']) {
    expectCode(() => parseTcbInfo(text), F, text.slice(0, 10));
  }
  expectCode(() => parseTcbInfo(undefined as unknown as string), F, 'undefined');
  expectCode(() => parseTcbInfo(`{"x":"${'a'.repeat(1024 * 1024)}"}`), F, 'too long');
  const invalid: Array<[string, string, (o: Json) => void]> = [
    ['no version', sgx, (o) => delete o['version']],
    ['version 4', sgx, (o) => (o['version'] = 4)],
    ['version "3"', sgx, (o) => (o['version'] = '3')],
    ['no id (v3)', sgx, (o) => delete o['id']],
    ['id XYZ', sgx, (o) => (o['id'] = 'XYZ')],
    ['id lower-case', sgx, (o) => (o['id'] = 'sgx')],
    ['fmspc short', sgx, (o) => (o['fmspc'] = '00A0671100')],
    ['fmspc non-hex', sgx, (o) => (o['fmspc'] = '00A06711000G')],
    ['pceId number', sgx, (o) => (o['pceId'] = 0)],
    ['issueDate bad month', sgx, (o) => (o['issueDate'] = '2025-13-01T00:00:00Z')],
    ['issueDate Feb 30', sgx, (o) => (o['issueDate'] = '2025-02-30T00:00:00Z')],
    ['nextUpdate offset', sgx, (o) => (o['nextUpdate'] = '2025-07-19T10:56:11+01:00')],
    ['nextUpdate missing', sgx, (o) => delete o['nextUpdate']],
    ['tcbType 1', sgx, (o) => (o['tcbType'] = 1)],
    ['tcbType missing', sgx, (o) => delete o['tcbType']],
    ['eval number negative', sgx, (o) => (o['tcbEvaluationDataNumber'] = -1)],
    ['eval number fraction', sgx, (o) => (o['tcbEvaluationDataNumber'] = 1.5)],
    ['tcbLevels empty', sgx, (o) => (o['tcbLevels'] = [])],
    ['tcbLevels object', sgx, (o) => (o['tcbLevels'] = {})],
    ['tcbLevels > 256', sgx, (o) => (o['tcbLevels'] = Array.from({ length: 257 }, () => levels(o)[0]))],
    ['duplicate level', sgx, (o) => levels(o).push(levels(o)[0]!)],
    ['level not object', sgx, (o) => ((levels(o) as unknown[])[1] = 'x')],
    ['15 components', sgx, (o) => (tcbOf(levels(o)[0])['sgxtcbcomponents'] as unknown[]).pop()],
    ['svn 256', sgx, (o) => ((tcbOf(levels(o)[0])['sgxtcbcomponents'] as Json[])[0]!['svn'] = 256)],
    ['svn -1', sgx, (o) => ((tcbOf(levels(o)[0])['sgxtcbcomponents'] as Json[])[3]!['svn'] = -1)],
    ['svn string', sgx, (o) => ((tcbOf(levels(o)[0])['sgxtcbcomponents'] as Json[])[3]!['svn'] = '1')],
    ['category number', sgx, (o) => ((tcbOf(levels(o)[0])['sgxtcbcomponents'] as Json[])[3]!['category'] = 7)],
    ['pcesvn 65536', sgx, (o) => (tcbOf(levels(o)[0])['pcesvn'] = 65536)],
    ['pcesvn missing', sgx, (o) => delete tcbOf(levels(o)[2])['pcesvn']],
    ['tcbStatus number', sgx, (o) => (levels(o)[0]!['tcbStatus'] = 0)],
    ['tcbStatus empty', sgx, (o) => (levels(o)[0]!['tcbStatus'] = '')],
    ['tcbDate bad', sgx, (o) => (levels(o)[0]!['tcbDate'] = '2024-03-13')],
    ['advisoryIDs string', sgx, (o) => (levels(o)[0]!['advisoryIDs'] = 'INTEL-SA-00615')],
    ['advisoryIDs [1]', sgx, (o) => (levels(o)[0]!['advisoryIDs'] = [1])],
    ['SGX with tdxModule', sgx, (o) => (o['tdxModule'] = {})],
    ['TDX without tdxModule', tdx, (o) => delete o['tdxModule']],
    ['tdxModule mrsigner 32 bytes', tdx, (o) => ((o['tdxModule'] as Json)['mrsigner'] = '00'.repeat(32))],
    ['tdxModule attributes missing', tdx, (o) => delete (o['tdxModule'] as Json)['attributes']],
    ['tdxModuleIdentities empty', tdx, (o) => (o['tdxModuleIdentities'] = [])],
    ['module identity no levels', tdx, (o) => ((o['tdxModuleIdentities'] as Json[])[0]!['tcbLevels'] = [])],
    [
      'module identity isvsvn string',
      tdx,
      (o) => (tcbOf(((o['tdxModuleIdentities'] as Json[])[1]!['tcbLevels'] as Json[])[0])['isvsvn'] = '4'),
    ],
    ['module identity id missing', tdx, (o) => delete (o['tdxModuleIdentities'] as Json[])[0]!['id']],
    ['TDX level without tdxtcbcomponents', tdx, (o) => delete tcbOf(levels(o)[1])['tdxtcbcomponents']],
  ];
  for (const [label, text, change] of invalid) expectCode(() => parseTcbInfo(mutate(text, change)), I, label);
});

test('TCB info: lenient where Intel is (unknown members, absent advisoryIDs, fractional seconds, lower-case hex)', () => {
  const sgx = corpus(SGX).bundle.tcbInfoBody;
  const info = parseTcbInfo(
    mutate(sgx, (o) => {
      o['somethingNew'] = { x: [1] };
      delete levels(o)[0]!['advisoryIDs'];
      o['issueDate'] = '2025-06-19T10:56:11.250Z';
      o['fmspc'] = '00a067110000';
      o['pceId'] = 'ABCD';
    }),
  );
  assert.deepEqual(info.tcbLevels[0]?.advisoryIds, []);
  assert.equal(info.issueDate, Date.UTC(2025, 5, 19, 10, 56, 11, 250));
  assert.equal(info.pceId, 'abcd');
  assert.equal(info.fmspc, '00a067110000');
  // SGX TCB info: tdxtcbcomponents would be ignored, as QVL does
  const extra = parseTcbInfo(
    mutate(sgx, (o) => (tcbOf(levels(o)[0])['tdxtcbcomponents'] = 'ignored')),
  );
  assert.equal(extra.tcbLevels[0]?.tdxTcbComponents, undefined);
});

test('TCB info v2 (PCS API v3 shape) parses to the same components', () => {
  const sgx = corpus(SGX).bundle.tcbInfoBody;
  const v3 = parseTcbInfo(sgx);
  const toV2 = (o: Json): void => {
    o['version'] = 2;
    delete o['id'];
    for (const level of levels(o)) {
      const tcb = tcbOf(level);
      const comps = tcb['sgxtcbcomponents'] as Json[];
      delete tcb['sgxtcbcomponents'];
      comps.forEach((c, i) => (tcb[`sgxtcbcomp${String(i + 1).padStart(2, '0')}svn`] = c['svn']));
    }
  };
  const v2 = parseTcbInfo(mutate(sgx, toV2));
  assert.equal(v2.version, 2);
  assert.equal(v2.id, undefined);
  assert.deepEqual(
    v2.tcbLevels.map((l) => [l.sgxTcbComponents, l.pceSvn, l.tcbStatus]),
    v3.tcbLevels.map((l) => [l.sgxTcbComponents, l.pceSvn, l.tcbStatus]),
  );
  expectCode(
    () => parseTcbInfo(mutate(sgx, (o) => (toV2(o), delete tcbOf(levels(o)[0])['sgxtcbcomp16svn']))),
    'SGX_TCB_INFO_INVALID',
    'v2 missing comp16',
  );
});

// ---------------------------------------------------------------------------------------------------------------------
// Enclave identity

test('enclave identity: malformed inputs give the specified codes', () => {
  const qe = corpus(SGX).bundle.qeIdentityBody;
  for (const text of ['', 'garbage', '[]', '"QE"', '{"id":']) {
    expectCode(() => parseEnclaveIdentity(text), 'SGX_ENCLAVE_IDENTITY_UNSUPPORTED_FORMAT', text);
  }
  for (const version of [0, 1, 3]) {
    const text = mutate(qe, (o) => (o['version'] = version));
    expectCode(() => parseEnclaveIdentity(text), 'SGX_ENCLAVE_IDENTITY_UNSUPPORTED_VERSION', `v${version}`);
  }
  const invalid: Array<[string, (o: Json) => void]> = [
    ['no version', (o) => delete o['version']],
    ['version string', (o) => (o['version'] = '2')],
    ['id unknown', (o) => (o['id'] = 'XX')],
    ['id missing', (o) => delete o['id']],
    ['miscselect 7 hex', (o) => (o['miscselect'] = '0000000')],
    ['miscselectMask number', (o) => (o['miscselectMask'] = 0xffffffff)],
    ['attributes 15 bytes', (o) => (o['attributes'] = '11'.repeat(15))],
    ['attributesMask non-hex', (o) => (o['attributesMask'] = 'X'.repeat(32))],
    ['mrsigner 31 bytes', (o) => (o['mrsigner'] = 'ab'.repeat(31))],
    ['isvprodid 70000', (o) => (o['isvprodid'] = 70000)],
    ['isvprodid missing', (o) => delete o['isvprodid']],
    ['issueDate garbage', (o) => (o['issueDate'] = 'yesterday')],
    ['eval number string', (o) => (o['tcbEvaluationDataNumber'] = '17')],
    ['tcbLevels empty', (o) => (o['tcbLevels'] = [])],
    ['tcbLevels null', (o) => (o['tcbLevels'] = null)],
    ['isvsvn missing', (o) => delete tcbOf(levels(o)[0])['isvsvn']],
    ['tcb not object', (o) => (levels(o)[0]!['tcb'] = [8])],
    ['tcbDate bad', (o) => (levels(o)[1]!['tcbDate'] = '2021-11-10T00:00:60Z')],
    ['tcbStatus missing', (o) => delete levels(o)[1]!['tcbStatus']],
    ['advisoryIDs object', (o) => (levels(o)[1]!['advisoryIDs'] = {})],
  ];
  for (const [label, change] of invalid) {
    expectCode(() => parseEnclaveIdentity(mutate(qe, change)), 'SGX_ENCLAVE_IDENTITY_INVALID', label);
  }
  // miscselect is a big-endian hex string
  assert.equal(parseEnclaveIdentity(mutate(qe, (o) => (o['miscselect'] = '01020304'))).miscselect, 0x01020304);
});

// ---------------------------------------------------------------------------------------------------------------------
// collateralFromPcsResponses

function pcsBodies(b: CollateralBundle): { tcb: string; qe: string } {
  return {
    tcb: `{"tcbInfo":${b.tcbInfoBody},"signature":"${toHex(b.tcbInfoSignature)}"}`,
    qe: `{"enclaveIdentity":${b.qeIdentityBody},"signature":"${toHex(b.qeIdentitySignature)}"}`,
  };
}

test('collateralFromPcsResponses: rebuilds the corpus bundle from PCS-shaped responses', () => {
  for (const id of [SGX, TDX]) {
    const { bundle } = corpus(id);
    const { tcb, qe } = pcsBodies(bundle);
    // Plain records with lower-case names (Node IncomingHttpHeaders), the v3 header name, and an array value.
    const fromRecords = collateralFromPcsResponses({
      tcbInfoResponse: {
        body: tcb,
        headers: { 'sgx-tcb-info-issuer-chain': encodeURIComponent(bundle.tcbInfoIssuerChain) },
      },
      qeIdentityResponse: {
        body: qe,
        headers: { 'SGX-ENCLAVE-IDENTITY-ISSUER-CHAIN': [encodeURIComponent(bundle.qeIdentityIssuerChain)] },
      },
      pckCrlResponse: {
        body: bundle.pckCrl,
        headers: { 'sgx-pck-crl-issuer-chain': encodeURIComponent(bundle.pckCrlIssuerChain) },
      },
      rootCaCrl: toHex(bundle.rootCaCrl),
    });
    assert.deepEqual(fromRecords, bundle, id);
    // WHATWG Headers, the v4 header name, CRLs as PEM text / DER.
    const fromHeaders = collateralFromPcsResponses({
      tcbInfoResponse: {
        body: tcb,
        headers: new Headers({ 'TCB-Info-Issuer-Chain': encodeURIComponent(bundle.tcbInfoIssuerChain) }),
      },
      qeIdentityResponse: {
        body: qe,
        headers: new Headers({ 'SGX-Enclave-Identity-Issuer-Chain': encodeURIComponent(bundle.qeIdentityIssuerChain) }),
      },
      pckCrlResponse: {
        body: encodePem('X509 CRL', bundle.pckCrl),
        headers: new Headers({ 'SGX-PCK-CRL-Issuer-Chain': encodeURIComponent(bundle.pckCrlIssuerChain) }),
      },
      rootCaCrl: bundle.rootCaCrl,
      pckCertificateChain: 'chain',
    });
    assert.deepEqual(fromHeaders, { ...bundle, pckCertificateChain: 'chain' }, id);
  }
});

test('collateralFromPcsResponses: missing headers, bad bodies and bad signatures', () => {
  const { bundle } = corpus(SGX);
  const { tcb, qe } = pcsBodies(bundle);
  const h = (v: string): Record<string, string> => ({
    'TCB-Info-Issuer-Chain': encodeURIComponent(v),
    'SGX-Enclave-Identity-Issuer-Chain': encodeURIComponent(v),
    'SGX-PCK-CRL-Issuer-Chain': encodeURIComponent(v),
  });
  const good = {
    tcbInfoResponse: { body: tcb, headers: h(bundle.tcbInfoIssuerChain) },
    qeIdentityResponse: { body: qe, headers: h(bundle.qeIdentityIssuerChain) },
    pckCrlResponse: { body: bundle.pckCrl, headers: h(bundle.pckCrlIssuerChain) },
    rootCaCrl: bundle.rootCaCrl,
  };
  assert.deepEqual(collateralFromPcsResponses(good), bundle);
  const sig = '00'.repeat(64);
  const withTcbBody = (body: string): unknown =>
    collateralFromPcsResponses({ ...good, tcbInfoResponse: { body, headers: good.tcbInfoResponse.headers } });
  const withQeBody = (body: string): unknown =>
    collateralFromPcsResponses({ ...good, qeIdentityResponse: { body, headers: good.qeIdentityResponse.headers } });
  const withPckCrl = (body: Uint8Array | string, headers = good.pckCrlResponse.headers): unknown =>
    collateralFromPcsResponses({ ...good, pckCrlResponse: { body, headers } });
  const U = 'COLLATERAL_UNAVAILABLE';
  expectCode(() => collateralFromPcsResponses({ ...good, tcbInfoResponse: { body: tcb, headers: {} } }), U, 'no header');
  expectCode(() => withPckCrl(bundle.pckCrl, { 'SGX-PCK-CRL-Issuer-Chain': '%E0%A4%A' }), U, 'bad URL encoding');
  expectCode(() => withPckCrl(bundle.pckCrl, { 'SGX-PCK-CRL-Issuer-Chain': 'hello' }), U, 'no PEM');
  expectCode(() => withTcbBody('<html>503</html>'), 'SGX_TCB_INFO_UNSUPPORTED_FORMAT', 'html');
  expectCode(() => withTcbBody(`{"tcbInfo":${bundle.tcbInfoBody}`), 'SGX_TCB_INFO_UNSUPPORTED_FORMAT', 'truncated');
  const I = 'SGX_TCB_INFO_INVALID';
  expectCode(() => withTcbBody(`{"signature":"${sig}"}`), I, 'no tcbInfo');
  expectCode(() => withTcbBody(`{"tcbInfo":"text","signature":"${sig}"}`), I, 'tcbInfo string');
  expectCode(() => withTcbBody(`{"tcbInfo":${bundle.tcbInfoBody}}`), I, 'no signature');
  expectCode(() => withTcbBody(`{"tcbInfo":${bundle.tcbInfoBody},"signature":"00"}`), I, 'short signature');
  expectCode(() => withTcbBody(`{"tcbInfo":${bundle.tcbInfoBody},"signature":1}`), I, 'numeric signature');
  expectCode(() => withTcbBody(`{"tcbInfo":{"version":9},"signature":"${sig}"}`), I, 'bad tcbInfo');
  expectCode(() => withQeBody('[]'), 'SGX_ENCLAVE_IDENTITY_UNSUPPORTED_FORMAT', 'identity array');
  expectCode(
    () => withQeBody(`{"enclaveIdentity":{"version":3},"signature":"${sig}"}`),
    'SGX_ENCLAVE_IDENTITY_UNSUPPORTED_VERSION',
    'identity v3',
  );
  expectCode(() => collateralFromPcsResponses({ ...good, rootCaCrl: 'zz' }), 'SGX_CRL_UNSUPPORTED_FORMAT', 'root crl');
  expectCode(() => withPckCrl(fromHex('0102')), 'SGX_CRL_UNSUPPORTED_FORMAT', 'pck crl');
});
