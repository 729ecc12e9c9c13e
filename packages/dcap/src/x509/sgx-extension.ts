/**
 * The Intel SGX PCK certificate extension, OID 1.2.840.113741.1.13.1 (Intel SGX PCK Certificate and CRL Profile;
 * dcap-attestation.md §2.3). Its extnValue is
 *
 *   SGXExtensions ::= SEQUENCE OF SEQUENCE { sgxExtensionId OBJECT IDENTIFIER, sgxExtensionValue ANY }
 *
 * with these members (OID suffix under …13.1):
 *
 *   .1 PPID                  OCTET STRING (SIZE (16))
 *   .2 TCB                   SEQUENCE (SIZE (18)) OF SEQUENCE { OBJECT IDENTIFIER, value }:
 *        .2.1 … .2.16        SGX TCB comp01..16 SVN   INTEGER (0..255)
 *        .2.17               PCESVN                   INTEGER (0..65535)
 *        .2.18               CPUSVN                   OCTET STRING (SIZE (16))
 *   .3 PCE-ID                OCTET STRING (SIZE (2))
 *   .4 FMSPC                 OCTET STRING (SIZE (6))
 *   .5 SGX Type              ENUMERATED { standard(0), scalable(1), scalableWithIntegrity(2) }
 *   .6 Platform Instance ID  OCTET STRING (SIZE (16))
 *   .7 Configuration         SEQUENCE OF SEQUENCE { OBJECT IDENTIFIER, BOOLEAN }, each optional:
 *        .7.1 DynamicPlatform, .7.2 CachedKeys, .7.3 SMTEnabled
 *
 * Rules (as Intel QVL's X509Constants.h): PPID, TCB (all 18 members, nothing else), PCE-ID, FMSPC and SGX Type are
 * required for every PCK. A PCK issued by the "Intel SGX PCK Platform CA" whose SGX Type is Scalable or
 * ScalableWithIntegrity must also carry Platform Instance ID and Configuration; every real Platform-CA PCK in the test
 * corpus carries both, with all three Configuration flags, and no Processor-CA PCK carries either. Unknown members
 * (top level and inside Configuration) are ignored; a member present twice is rejected. Every failure is
 * DcapError('INVALID_PCK_CERT').
 */
import { DerReader } from '../asn1/der.js';
import * as oids from '../asn1/oids.js';
import { DcapError, type DcapErrorCode } from '../errors.js';
import { findExtension } from './certificate.js';
import type { Certificate, PckExtension, SgxType } from './types.js';

const CODE: DcapErrorCode = 'INVALID_PCK_CERT';
const SGX_TYPES: readonly SgxType[] = ['Standard', 'Scalable', 'ScalableWithIntegrity'];
const PLATFORM_CA_CN = 'Intel SGX PCK Platform CA';
const TCB_MEMBERS = 18;

function readFixedOctets(r: DerReader, field: string, size: number): Uint8Array {
  const v = r.readOctetString(field);
  if (v.length !== size) r.fail(`${field} has ${v.length} bytes, expected ${size}`);
  return v;
}

/** The TCB member index 1..18 of a `…13.1.2.n` OID, or 0 when it is not one. */
function tcbIndex(oid: string): number {
  if (!oid.startsWith(oids.sgx_TCB_prefix)) return 0;
  const rest = oid.slice(oids.sgx_TCB_prefix.length);
  if (rest.length === 0 || rest.length > 2 || rest.charCodeAt(0) === 48) return 0;
  let n = 0;
  for (let i = 0; i < rest.length; i++) {
    const d = rest.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return 0;
    n = n * 10 + d;
  }
  return n >= 1 && n <= TCB_MEMBERS ? n : 0;
}

function parseTcb(r: DerReader): PckExtension['tcb'] {
  const seq: DerReader = r.readSequence('TCB');
  const components: number[] = new Array<number>(16).fill(0);
  const seen = new Uint8Array(TCB_MEMBERS + 1);
  let pceSvn = 0;
  let cpuSvn: Uint8Array | undefined;
  let count = 0;
  while (!seq.done) {
    const member = seq.readSequence('TCB member');
    const oid = member.readOid('TCB member id');
    const idx = tcbIndex(oid);
    if (idx === 0) member.fail(`unexpected TCB member ${oid}`);
    if (seen[idx] !== 0) member.fail(`duplicate TCB member ${oid}`);
    seen[idx] = 1;
    if (idx <= 16) components[idx - 1] = member.readSmallInteger(`SGX TCB comp${idx < 10 ? '0' : ''}${idx} SVN`, 255);
    else if (idx === 17) pceSvn = member.readSmallInteger('PCESVN', 0xffff);
    else cpuSvn = readFixedOctets(member, 'CPUSVN', 16);
    member.assertEnd(`TCB member ${oid}`);
    count++;
  }
  if (count !== TCB_MEMBERS || cpuSvn === undefined) seq.fail(`TCB has ${count} members, expected ${TCB_MEMBERS}`);
  return { sgxTcbComponents: components, pceSvn, cpuSvn };
}

type Configuration = NonNullable<PckExtension['configuration']>;

function parseConfiguration(r: DerReader): Configuration {
  const seq = r.readSequence('Configuration');
  let dynamicPlatform: boolean | undefined;
  let cachedKeys: boolean | undefined;
  let smtEnabled: boolean | undefined;
  while (!seq.done) {
    const member = seq.readSequence('Configuration member');
    const oid = member.readOid('Configuration member id');
    if (oid === oids.sgx_DynamicPlatform) {
      if (dynamicPlatform !== undefined) member.fail('duplicate DynamicPlatform');
      dynamicPlatform = member.readBoolean('DynamicPlatform');
    } else if (oid === oids.sgx_CachedKeys) {
      if (cachedKeys !== undefined) member.fail('duplicate CachedKeys');
      cachedKeys = member.readBoolean('CachedKeys');
    } else if (oid === oids.sgx_SMTEnabled) {
      if (smtEnabled !== undefined) member.fail('duplicate SMTEnabled');
      smtEnabled = member.readBoolean('SMTEnabled');
    } else {
      while (!member.done) member.readAny(`Configuration member ${oid}`); // unknown: well-formed, ignored
    }
    member.assertEnd(`Configuration member ${oid}`);
  }
  const out: { dynamicPlatform?: boolean; cachedKeys?: boolean; smtEnabled?: boolean } = {};
  if (dynamicPlatform !== undefined) out.dynamicPlatform = dynamicPlatform;
  if (cachedKeys !== undefined) out.cachedKeys = cachedKeys;
  if (smtEnabled !== undefined) out.smtEnabled = smtEnabled;
  return out;
}

/** Parses the SGX extension of a PCK certificate (see the module comment for the rules). */
export function parsePckExtension(cert: Certificate): PckExtension {
  const ext = findExtension(cert.extensions, oids.sgx_Extensions);
  if (ext === undefined) throw new DcapError(CODE, 'PCK certificate has no SGX extension (1.2.840.113741.1.13.1)');
  const top = new DerReader(ext.value, CODE, 'PCK SGX extension');
  const seq: DerReader = top.readSequence('SGXExtensions');
  top.assertEnd('SGXExtensions');

  let ppid: Uint8Array | undefined;
  let tcb: PckExtension['tcb'] | undefined;
  let pceId: Uint8Array | undefined;
  let fmspc: Uint8Array | undefined;
  let sgxType: SgxType | undefined;
  let platformInstanceId: Uint8Array | undefined;
  let configuration: Configuration | undefined;

  while (!seq.done) {
    const member = seq.readSequence('SGX extension member');
    const oid = member.readOid('SGX extension member id');
    const dup = (present: unknown): void => {
      if (present !== undefined) member.fail(`duplicate member ${oid}`);
    };
    switch (oid) {
      case oids.sgx_PPID:
        dup(ppid);
        ppid = readFixedOctets(member, 'PPID', 16);
        break;
      case oids.sgx_TCB:
        dup(tcb);
        tcb = parseTcb(member);
        break;
      case oids.sgx_PCEID:
        dup(pceId);
        pceId = readFixedOctets(member, 'PCE-ID', 2);
        break;
      case oids.sgx_FMSPC:
        dup(fmspc);
        fmspc = readFixedOctets(member, 'FMSPC', 6);
        break;
      case oids.sgx_SGXType:
        dup(sgxType);
        sgxType = SGX_TYPES[member.readEnumerated('SGX Type', 2)];
        break;
      case oids.sgx_PlatformInstanceID:
        dup(platformInstanceId);
        platformInstanceId = readFixedOctets(member, 'Platform Instance ID', 16);
        break;
      case oids.sgx_Configuration:
        dup(configuration);
        configuration = parseConfiguration(member);
        break;
      default:
        while (!member.done) member.readAny(`SGX extension member ${oid}`); // unknown: well-formed, ignored
    }
    member.assertEnd(`SGX extension member ${oid}`);
  }

  if (ppid === undefined) seq.fail('PPID missing');
  if (tcb === undefined) seq.fail('TCB missing');
  if (pceId === undefined) seq.fail('PCE-ID missing');
  if (fmspc === undefined) seq.fail('FMSPC missing');
  if (sgxType === undefined) seq.fail('SGX Type missing');
  if (cert.issuer.commonName === PLATFORM_CA_CN && sgxType !== 'Standard') {
    if (platformInstanceId === undefined) seq.fail('Platform Instance ID missing in a Platform CA PCK');
    if (configuration === undefined) seq.fail('Configuration missing in a Platform CA PCK');
  }
  return { ppid, tcb, pceId, fmspc, sgxType, platformInstanceId, configuration };
}
