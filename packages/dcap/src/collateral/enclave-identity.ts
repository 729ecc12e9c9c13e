/**
 * Enclave Identity v2 (QE, TD_QE, QVE, QAE) parsing.
 *
 * Schema of the `enclaveIdentity` member of `GET /{sgx,tdx}/certification/v4/{qe,qve,qae}/identity`
 * (sources: Intel PCS API v4 specification, "Enclave Identity V2" appendix, transcribed in
 * `matter-labs/teepot:crates/intel-dcap-api/specs/API spec V4.md`; Intel's parser
 * `intel/SGX-TDX-DCAP-QuoteVerificationLibrary:Src/AttestationLibrary/src/Verifiers/EnclaveIdentityV2.cpp`;
 * dcap-attestation.md §2.6, §2.8):
 *
 *   enclaveIdentity (object)
 *     id                       string   "QE" | "TD_QE" | "QVE" | "QAE"
 *     version                  integer  2
 *     issueDate, nextUpdate    string   ISO-8601 UTC
 *     tcbEvaluationDataNumber  integer
 *     miscselect               string   4 bytes hex, big-endian (compared as a u32 with the report's MISCSELECT)
 *     miscselectMask           string   4 bytes hex
 *     attributes               string   16 bytes hex
 *     attributesMask           string   16 bytes hex
 *     mrsigner                 string   32 bytes hex
 *     isvprodid                integer  0..65535
 *     tcbLevels                array    non-empty, highest isvsvn first:
 *       { tcb: { isvsvn (0..65535) }, tcbDate, tcbStatus (UpToDate | OutOfDate | Revoked …), advisoryIDs? }
 *
 * Text that is not a JSON object is `SGX_ENCLAVE_IDENTITY_UNSUPPORTED_FORMAT`; a version other than 2 is
 * `SGX_ENCLAVE_IDENTITY_UNSUPPORTED_VERSION`; anything else wrong is `SGX_ENCLAVE_IDENTITY_INVALID`.
 */
import { DcapError } from '../errors.js';
import type { EnclaveIdentity } from './types.js';
import {
  type FieldContext,
  type JsonObject,
  at,
  dateField,
  hexField,
  invalid,
  isvTcbLevelsField,
  parseJsonObject,
  stringField,
  uintField,
} from './fields.js';

/** Longest enclave identity text accepted (real ones are under 2 kB). */
export const ENCLAVE_IDENTITY_MAX_LENGTH = 256 * 1024;
/** Identities Intel publishes. */
export const ENCLAVE_IDENTITY_IDS: readonly string[] = ['QE', 'TD_QE', 'QVE', 'QAE'];

const ROOT: FieldContext = { code: 'SGX_ENCLAVE_IDENTITY_INVALID', path: 'enclaveIdentity' };

function u32Field(ctx: FieldContext, obj: JsonObject, key: string): number {
  const b = hexField(ctx, obj, key, 4);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

/** Parses the text of an `enclaveIdentity` value (a bundle's `qe_identity`; not the PCS response wrapper). */
export function parseEnclaveIdentity(body: string): EnclaveIdentity {
  const identity = parseJsonObject(
    body,
    'SGX_ENCLAVE_IDENTITY_UNSUPPORTED_FORMAT',
    'enclave identity',
    ENCLAVE_IDENTITY_MAX_LENGTH,
  );
  const version = uintField(ROOT, identity, 'version', 0xffffffff);
  if (version !== 2) {
    throw new DcapError('SGX_ENCLAVE_IDENTITY_UNSUPPORTED_VERSION', `enclave identity version ${version} (expected 2)`);
  }
  const id = stringField(ROOT, identity, 'id');
  if (!ENCLAVE_IDENTITY_IDS.includes(id)) {
    invalid(at(ROOT, 'id'), `unknown enclave identity id (expected ${ENCLAVE_IDENTITY_IDS.join(', ')})`);
  }
  return {
    id,
    version,
    issueDate: dateField(ROOT, identity, 'issueDate'),
    nextUpdate: dateField(ROOT, identity, 'nextUpdate'),
    tcbEvaluationDataNumber: uintField(ROOT, identity, 'tcbEvaluationDataNumber', 0xffffffff),
    miscselect: u32Field(ROOT, identity, 'miscselect'),
    miscselectMask: u32Field(ROOT, identity, 'miscselectMask'),
    attributes: hexField(ROOT, identity, 'attributes', 16),
    attributesMask: hexField(ROOT, identity, 'attributesMask', 16),
    mrsigner: hexField(ROOT, identity, 'mrsigner', 32),
    isvProdId: uintField(ROOT, identity, 'isvprodid', 0xffff),
    tcbLevels: isvTcbLevelsField(ROOT, identity),
  };
}
