/**
 * The Intel SGX PCK certificate extension, OID 1.2.840.113741.1.13.1, as Intel's PCK certificates carry it
 * (dcap-attestation.md §2.3; Intel SGX PCK Certificate and CRL Profile). The extnValue is
 *
 *   SGXExtensions ::= SEQUENCE OF SEQUENCE { sgxExtensionId OBJECT IDENTIFIER, sgxExtensionValue ANY }
 *
 * in this member order (OID suffix under …13.1):
 *
 *   .1 PPID                  OCTET STRING (SIZE (16))
 *   .2 TCB                   SEQUENCE (SIZE (18)) OF SEQUENCE { OBJECT IDENTIFIER, value }:
 *        .2.1 … .2.16        SGX TCB comp01..16 SVN   INTEGER (0..255)
 *        .2.17               PCESVN                   INTEGER (0..65535)
 *        .2.18               CPUSVN                   OCTET STRING (SIZE (16))
 *   .3 PCE-ID                OCTET STRING (SIZE (2))
 *   .4 FMSPC                 OCTET STRING (SIZE (6))
 *   .5 SGX Type              ENUMERATED { standard(0), scalable(1), scalableWithIntegrity(2) }
 *   .6 Platform Instance ID  OCTET STRING (SIZE (16))           (Platform-CA PCKs)
 *   .7 Configuration         SEQUENCE OF SEQUENCE { OBJECT IDENTIFIER, BOOLEAN }   (Platform-CA PCKs):
 *        .7.1 DynamicPlatform, .7.2 CachedKeys, .7.3 SMTEnabled
 *
 * Byte layout checked against a real Intel Platform-CA PCK (the chain inside
 * shared/testdata/dcap/dcapqvl-tdx-v4/quote.bin): 554-byte value, INTEGERs minimal (`02 01 03`, PCESVN `02 01 0B`),
 * SGX Type `0A 01 01`, the three Configuration BOOLEANs `01 01 FF`. The same FMSPC / TCB yields the same length here.
 */
import type { Platform } from './platform.js';
import { boolean, enumerated, integer, octetString, oid, sequence } from './der-writer.js';
import { fromHex } from '@cloister/dcap';

export const SGX_EXTENSION_OID = '1.2.840.113741.1.13.1';

export type SimSgxType = 'Standard' | 'Scalable' | 'ScalableWithIntegrity';
const SGX_TYPE_VALUE: Readonly<Record<SimSgxType, number>> = { Standard: 0, Scalable: 1, ScalableWithIntegrity: 2 };

export interface PckExtensionFields {
  /** 16 bytes. */
  readonly ppid: Uint8Array;
  /** comp01..comp16, each 0..255. */
  readonly sgxTcbComponents: readonly number[];
  readonly pceSvn: number;
  /** 16 bytes; Intel's certificates carry the components as CPUSVN. Default: the components as bytes. */
  readonly cpuSvn?: Uint8Array;
  /** 2 bytes. */
  readonly pceId: Uint8Array;
  /** 6 bytes. */
  readonly fmspc: Uint8Array;
  readonly sgxType: SimSgxType;
  /** 16 bytes; omitted when undefined (Processor-CA style). */
  readonly platformInstanceId?: Uint8Array;
  /** Omitted when undefined (Processor-CA style); each flag omitted when undefined. */
  readonly configuration?: { readonly dynamicPlatform?: boolean; readonly cachedKeys?: boolean; readonly smtEnabled?: boolean };
}

function fixed(bytes: Uint8Array, size: number, what: string): Uint8Array {
  if (bytes.length !== size) throw new RangeError(`${what} must be ${size} bytes, got ${bytes.length}`);
  return bytes;
}

function member(suffix: string, value: Uint8Array): Uint8Array {
  return sequence(oid(`${SGX_EXTENSION_OID}.${suffix}`), value);
}

/** The DER extnValue of the SGX extension (see the module comment for the layout). */
export function encodePckExtension(f: PckExtensionFields): Uint8Array {
  if (f.sgxTcbComponents.length !== 16) throw new RangeError('sgxTcbComponents must have 16 entries');
  const tcb: Uint8Array[] = f.sgxTcbComponents.map((svn, i) => {
    if (!Number.isInteger(svn) || svn < 0 || svn > 255) throw new RangeError(`SGX TCB comp${i + 1} must be 0..255`);
    return member(`2.${i + 1}`, integer(svn));
  });
  if (!Number.isInteger(f.pceSvn) || f.pceSvn < 0 || f.pceSvn > 0xffff) throw new RangeError('PCESVN must be 0..65535');
  tcb.push(member('2.17', integer(f.pceSvn)));
  tcb.push(member('2.18', octetString(fixed(f.cpuSvn ?? Uint8Array.from(f.sgxTcbComponents), 16, 'CPUSVN'))));

  const members: Uint8Array[] = [
    member('1', octetString(fixed(f.ppid, 16, 'PPID'))),
    member('2', sequence(...tcb)),
    member('3', octetString(fixed(f.pceId, 2, 'PCE-ID'))),
    member('4', octetString(fixed(f.fmspc, 6, 'FMSPC'))),
    member('5', enumerated(SGX_TYPE_VALUE[f.sgxType])),
  ];
  if (f.platformInstanceId !== undefined) {
    members.push(member('6', octetString(fixed(f.platformInstanceId, 16, 'Platform Instance ID'))));
  }
  if (f.configuration !== undefined) {
    const c = f.configuration;
    const flags: Uint8Array[] = [];
    if (c.dynamicPlatform !== undefined) flags.push(member('7.1', boolean(c.dynamicPlatform)));
    if (c.cachedKeys !== undefined) flags.push(member('7.2', boolean(c.cachedKeys)));
    if (c.smtEnabled !== undefined) flags.push(member('7.3', boolean(c.smtEnabled)));
    members.push(member('7', sequence(...flags)));
  }
  return sequence(...members);
}

/**
 * The extension fields of a simulated platform's PCK certificate: a Platform-CA PCK of a Scalable (Xeon) platform,
 * like every real Platform-CA PCK — Platform Instance ID and all three Configuration flags present (dynamic platform,
 * cached keys, SMT enabled: the values seen in real Ice Lake server PCKs).
 */
export function pckExtensionFieldsOf(platform: Platform): PckExtensionFields {
  const c = platform.config;
  return {
    ppid: fromHex(c.ppid),
    sgxTcbComponents: [...c.sgxTcbComponents],
    pceSvn: c.pceSvn,
    cpuSvn: platform.cpuSvn,
    pceId: platform.pceId,
    fmspc: platform.fmspc,
    sgxType: 'Scalable',
    platformInstanceId: fromHex(c.platformInstanceId),
    configuration: { dynamicPlatform: true, cachedKeys: true, smtEnabled: true },
  };
}
