/**
 * The attest request bodies (MAA REST spec 2020-10-01 / 2022-08-01 `AttestSgxEnclaveRequest`,
 * `AttestOpenEnclaveRequest`, `RuntimeData`, `InitTimeData`; reference §1.2), checked field by field: wrong JSON
 * types, bad base64 and unknown `dataType` are 400s naming the field.
 */
import type { AttestationType, RuntimeDataInput } from './claims.js';
import { decodeBase64Field } from './base64.js';
import { badRequest } from './errors.js';

export const API_VERSIONS = ['2020-10-01', '2022-08-01', '2025-06-01'] as const;
export type ApiVersion = (typeof API_VERSIONS)[number];

export interface AttestRequest {
  readonly evidence: Uint8Array;
  readonly runtimeData?: RuntimeDataInput;
  readonly initTimeData?: RuntimeDataInput;
  readonly draftPolicyForAttestation?: string;
  readonly nonce?: string;
}

export interface RequestLimits {
  /** Largest evidence (decoded), default 64 KiB. */
  readonly maxEvidenceBytes: number;
  /** Largest runtime / init-time data (decoded), default 64 KiB. */
  readonly maxRuntimeDataBytes: number;
}

export const MAX_NONCE_LENGTH = 1024;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function runtime(v: unknown, field: string, limits: RequestLimits): RuntimeDataInput | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw badRequest('INVALID_REQUEST', `${field} must be an object {data, dataType}`, { field });
  if (typeof v['data'] !== 'string') throw badRequest('INVALID_REQUEST', `${field}.data must be a base64url string`, { field: `${field}.data` });
  const dataType = v['dataType'];
  if (dataType !== 'Binary' && dataType !== 'JSON') {
    throw badRequest('UNKNOWN_DATA_TYPE', `${field}.dataType must be "Binary" or "JSON"`, { field: `${field}.dataType` });
  }
  return { data: decodeBase64Field(v['data'], `${field}.data`, limits.maxRuntimeDataBytes), dataType };
}

export function parseAttestRequest(type: AttestationType, body: unknown, apiVersion: ApiVersion, limits: RequestLimits): AttestRequest {
  if (!isObject(body)) throw badRequest('INVALID_REQUEST', 'the request body must be a JSON object');
  const field = type === 'SgxEnclave' ? 'quote' : 'report';
  const other = type === 'SgxEnclave' ? 'report' : 'quote';
  const ev = body[field];
  if (ev === undefined && typeof body[other] === 'string') {
    throw badRequest('WRONG_EVIDENCE_TYPE', `/attest/${type} takes "${field}", not "${other}"`, { field });
  }
  if (typeof ev !== 'string' || ev.length === 0) throw badRequest('INVALID_REQUEST', `${field} must be a non-empty base64url string`, { field });
  const out: { -readonly [K in keyof AttestRequest]: AttestRequest[K] } = {
    evidence: decodeBase64Field(ev, field, limits.maxEvidenceBytes),
  };
  const rd = runtime(body['runtimeData'], 'runtimeData', limits);
  if (rd !== undefined) out.runtimeData = rd;
  const it = runtime(body['initTimeData'], 'initTimeData', limits);
  if (it !== undefined) out.initTimeData = it;
  const draft = body['draftPolicyForAttestation'];
  if (draft !== undefined && draft !== null) {
    if (typeof draft !== 'string') throw badRequest('INVALID_REQUEST', 'draftPolicyForAttestation must be a string', { field: 'draftPolicyForAttestation' });
    out.draftPolicyForAttestation = draft;
  }
  const nonce = body['nonce'];
  if (nonce !== undefined && nonce !== null && apiVersion !== '2020-10-01') {
    if (typeof nonce !== 'string' || nonce.length > MAX_NONCE_LENGTH) {
      throw badRequest('INVALID_REQUEST', `nonce must be a string of at most ${MAX_NONCE_LENGTH} characters`, { field: 'nonce' });
    }
    out.nonce = nonce;
  }
  return out;
}

export function checkApiVersion(v: string | undefined): ApiVersion {
  if (v === undefined || v === '') throw badRequest('MISSING_API_VERSION', 'the api-version query parameter is required (2020-10-01 or 2022-08-01)');
  if (!(API_VERSIONS as readonly string[]).includes(v)) {
    throw badRequest('UNSUPPORTED_API_VERSION', `api-version ${JSON.stringify(v.slice(0, 40))} is not supported; use ${API_VERSIONS.join(', ')}`);
  }
  return v as ApiVersion;
}
