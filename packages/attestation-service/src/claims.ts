/**
 * The claims MAA issues for SGX / Open Enclave evidence (../shared/reference/attestation-service-and-key-release.md
 * §1.3, §1.5; MicrosoftDocs azure-docs articles/attestation/claim-sets.md), built from the parsed quote alone — no
 * verification. The service adds the verification facts (TCB status, collateral hashes) and the policy's claims.
 *
 * Names and types as the real service emits them: `x-ms-sgx-mrenclave` / `-mrsigner` / `-report-data` lower-case hex,
 * `-product-id` / `-svn` numbers, `-is-debuggable` boolean, `x-ms-sgx-ehd` base64url of Binary runtime data,
 * `x-ms-runtime` the parsed JSON runtime data, plus the deprecated duplicates `maa-ehd`, `aas-ehd`,
 * `maa-attestationcollateral`. KSS claims (`x-ms-sgx-config-id`, …) only for enclaves with the KSS attribute.
 */
import { createHash } from 'node:crypto';
import { parseQuote, sgxClaims, toHex, unwrapEvidence, type CollateralBundle, type Quote, type UnwrappedEvidence } from '@cloister/dcap';
import { base64url } from './base64.js';
import { badRequest } from './errors.js';

export const ATTESTATION_TYPES = ['SgxEnclave', 'OpenEnclave'] as const;
export type AttestationType = (typeof ATTESTATION_TYPES)[number];

export type RuntimeDataType = 'Binary' | 'JSON';

export interface RuntimeDataInput {
  readonly data: Uint8Array;
  readonly dataType: RuntimeDataType;
}

export type ClaimValue = string | number | boolean | null | ClaimValue[] | { [k: string]: ClaimValue };
export type Claims = Record<string, ClaimValue>;

export interface ParsedEvidence {
  readonly type: AttestationType;
  readonly unwrapped: UnwrappedEvidence;
  readonly quote: Quote;
}

function sha256hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Unwraps and parses evidence posted to `type`: `/attest/SgxEnclave` takes a bare quote, `/attest/OpenEnclave` an OE
 * report (16-byte oe_report_header_t + quote) or OE evidence; the other kind is WRONG_EVIDENCE_TYPE. Only SGX quotes.
 */
export function parseEvidence(type: AttestationType, bytes: Uint8Array): ParsedEvidence {
  let unwrapped: UnwrappedEvidence;
  let quote: Quote;
  try {
    unwrapped = unwrapEvidence(bytes);
    quote = parseQuote(unwrapped.quote);
  } catch (e) {
    throw badRequest('EVIDENCE_INVALID', `the ${type === 'SgxEnclave' ? 'quote' : 'report'} does not parse: ${(e as Error).message}`, {
      dcapCode: String((e as { code?: unknown }).code ?? 'UNKNOWN'),
    });
  }
  if (type === 'SgxEnclave' && unwrapped.format !== 'sgx-quote') {
    throw badRequest('WRONG_EVIDENCE_TYPE', 'this is an Open Enclave report: post it to /attest/OpenEnclave as "report"');
  }
  if (type === 'OpenEnclave' && unwrapped.format === 'sgx-quote') {
    throw badRequest('WRONG_EVIDENCE_TYPE', 'this is a bare SGX quote, not an Open Enclave report: post it to /attest/SgxEnclave as "quote"');
  }
  if (quote.body.kind !== 'sgx') throw badRequest('UNSUPPORTED_TEE', `this is a ${quote.teeType} quote; this endpoint attests SGX enclaves`);
  return { type, unwrapped, quote };
}

/**
 * `x-ms-sgx-collateral`: lower-case hex SHA-256 values. `quotehash` hashes the SGX quote without trailing bytes (for an
 * OE report: without its 16-byte header — checked against Microsoft's published OE response, reference §1.3). The
 * other preimages are not published by Microsoft; Cloister hashes the collateral items as served: the PEM issuer
 * chains as text, the CRLs as DER, the TCB info / QE identity bodies as the exact signed JSON text.
 */
export function collateralClaim(quote: Quote, collateral: CollateralBundle | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const c = collateral === undefined ? undefined : collateralHashes(collateral);
  if (c !== undefined) {
    out['qeidcertshash'] = c.qeidcertshash;
    out['qeidcrlhash'] = c.qeidcrlhash;
    out['qeidhash'] = c.qeidhash;
  }
  out['quotehash'] = sha256hex(quote.raw);
  if (c !== undefined) {
    out['tcbinfocertshash'] = c.tcbinfocertshash;
    out['tcbinfocrlhash'] = c.tcbinfocrlhash;
    out['tcbinfohash'] = c.tcbinfohash;
  }
  return out;
}

interface CollateralHashes {
  readonly qeidcertshash: string;
  readonly qeidcrlhash: string;
  readonly qeidhash: string;
  readonly tcbinfocertshash: string;
  readonly tcbinfocrlhash: string;
  readonly tcbinfohash: string;
}

/**
 * The collateral hashes of one bundle, computed once per bundle object (the service serves the same verified bundle
 * objects for every quote of a platform). Bundles are immutable once parsed, so the object identifies the content.
 */
const hashesOf = new WeakMap<CollateralBundle, CollateralHashes>();

function collateralHashes(b: CollateralBundle): CollateralHashes {
  let h = hashesOf.get(b);
  if (h === undefined) {
    h = {
      qeidcertshash: sha256hex(b.qeIdentityIssuerChain),
      qeidcrlhash: sha256hex(b.rootCaCrl),
      qeidhash: sha256hex(b.qeIdentityBody),
      tcbinfocertshash: sha256hex(b.tcbInfoIssuerChain),
      tcbinfocrlhash: sha256hex(b.pckCrl),
      tcbinfohash: sha256hex(b.tcbInfoBody),
    };
    hashesOf.set(b, h);
  }
  return h;
}

function runtimeClaims(r: RuntimeDataInput, binaryNames: readonly string[], jsonName: string, field: string): Claims {
  if (r.dataType === 'Binary') {
    const v = base64url(r.data);
    return Object.fromEntries(binaryNames.map((n) => [n, v]));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(r.data));
  } catch {
    throw badRequest('INVALID_RUNTIME_JSON', `${field}.data has dataType JSON but is not UTF-8 JSON`, { field });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badRequest('INVALID_RUNTIME_JSON', `${field}.data has dataType JSON but is not a JSON object`, { field });
  }
  return { [jsonName]: parsed as Claims };
}

export interface EvidenceClaimsInput {
  readonly runtimeData?: RuntimeDataInput;
  readonly initTimeData?: RuntimeDataInput;
  readonly collateral?: CollateralBundle;
}

/**
 * The incoming claims of SGX evidence, flat as in the token. Checks the runtime-data binding:
 * REPORTDATA[0..32] == SHA-256(runtimeData.data) (MAA REST spec, RuntimeData), and CONFIGID[0..32] ==
 * SHA-256(initTimeData.data).
 */
export function evidenceClaims(ev: ParsedEvidence, input: EvidenceClaimsInput = {}): Claims {
  const body = ev.quote.body;
  if (body.kind !== 'sgx') throw badRequest('UNSUPPORTED_TEE', 'not an SGX quote');
  const c = sgxClaims(body.report);
  if (input.runtimeData !== undefined && sha256hex(input.runtimeData.data) !== c.reportData.slice(0, 64)) {
    throw badRequest('RUNTIME_DATA_MISMATCH', 'SHA-256 of runtimeData.data is not the first 32 bytes of the report data');
  }
  if (input.initTimeData !== undefined && sha256hex(input.initTimeData.data) !== c.configId.slice(0, 64)) {
    throw badRequest('INITTIME_DATA_MISMATCH', 'SHA-256 of initTimeData.data is not the first 32 bytes of CONFIGID');
  }
  const collateral = collateralClaim(ev.quote, input.collateral);
  const claims: Claims = {
    'x-ms-attestation-type': 'sgx',
    'x-ms-ver': '1.0',
    'x-ms-sgx-is-debuggable': c.debug,
    'x-ms-sgx-mrenclave': c.mrenclave,
    'x-ms-sgx-mrsigner': c.mrsigner,
    'x-ms-sgx-product-id': c.isvProdId,
    'x-ms-sgx-svn': c.isvSvn,
    'x-ms-sgx-report-data': c.reportData,
    'x-ms-sgx-collateral': collateral,
    'maa-attestationcollateral': { ...collateral },
  };
  if (c.kss) {
    claims['x-ms-sgx-config-id'] = c.configId;
    claims['x-ms-sgx-config-svn'] = c.configSvn;
    claims['x-ms-sgx-isv-extended-product-id'] = c.isvExtProdId;
    claims['x-ms-sgx-isv-family-id'] = c.isvFamilyId;
  }
  if (input.runtimeData !== undefined) Object.assign(claims, runtimeClaims(input.runtimeData, ['x-ms-sgx-ehd', 'maa-ehd', 'aas-ehd'], 'x-ms-runtime', 'runtimeData'));
  if (input.initTimeData !== undefined) {
    const init = runtimeClaims(input.initTimeData, ['x-ms-inittime'], 'x-ms-inittime', 'initTimeData');
    Object.assign(claims, init);
  }
  return claims;
}

/** Hex helper re-exported for the CLI. */
export { toHex };
