/**
 * TCB Info (v2 and v3, SGX and TDX) parsing.
 *
 * Schema, as served by Intel PCS in the `tcbInfo` member of `GET /{sgx,tdx}/certification/v{3,4}/tcb?fmspc=…`
 * (sources: Intel PCS API v4 specification, Appendix A, transcribed in
 * `matter-labs/teepot:crates/intel-dcap-api/specs/API spec V4.md`; the rules Intel's own parser enforces are in
 * `intel/SGX-TDX-DCAP-QuoteVerificationLibrary:Src/AttestationParsers/src/Json/TcbInfo.cpp`, `TcbLevel.cpp`,
 * `TdxModule.cpp`; summary in dcap-attestation.md §2.8):
 *
 *   tcbInfo (object)
 *     id                      string   v3 only: "SGX" | "TDX"
 *     version                 integer  2 (PCS API v3) | 3 (PCS API v4)
 *     issueDate, nextUpdate   string   ISO-8601 UTC, e.g. "2025-06-19T10:56:11Z"
 *     fmspc                   string   6 bytes as 12 hex digits (Intel uses either case)
 *     pceId                   string   2 bytes as 4 hex digits
 *     tcbType                 integer  0 (the only type QVL supports)
 *     tcbEvaluationDataNumber integer
 *     tdxModule               object   v3 "TDX" only, required there:
 *       mrsigner                       48 bytes hex;  attributes, attributesMask: 8 bytes hex
 *     tdxModuleIdentities     array    v3 "TDX" only, optional, non-empty when present:
 *       { id: "TDX_01" …, mrsigner, attributes, attributesMask (as tdxModule),
 *         tcbLevels: [{ tcb: { isvsvn }, tcbDate, tcbStatus, advisoryIDs? }] }
 *     tcbLevels               array    non-empty, no duplicates, Intel serves them highest first:
 *       tcb                   object
 *         v2: sgxtcbcomp01svn … sgxtcbcomp16svn (0..255), pcesvn (0..65535)
 *         v3: sgxtcbcomponents [16 × { svn (0..255), category?, type? }], pcesvn,
 *             tdxtcbcomponents [16 × { svn, category?, type? }] ("TDX" only, required there)
 *       tcbDate               string   ISO-8601 UTC
 *       tcbStatus             string   UpToDate | SWHardeningNeeded | ConfigurationNeeded |
 *                                      ConfigurationAndSWHardeningNeeded | OutOfDate |
 *                                      OutOfDateConfigurationNeeded | Revoked (kept as served; the verifier
 *                                      reports anything else as TCB_UNRECOGNIZED_STATUS)
 *       advisoryIDs           string[] optional, e.g. "INTEL-SA-00615"
 *
 * Unknown members are ignored, as QVL does. Missing, mistyped or out-of-range fields are `SGX_TCB_INFO_INVALID`;
 * text that is not a JSON object is `SGX_TCB_INFO_UNSUPPORTED_FORMAT`.
 */
import type { TcbInfo, TcbLevel, TdxModule, TdxModuleIdentity } from './types.js';
import { toHex } from '../util/bytes.js';
import {
  type FieldContext,
  type JsonObject,
  MAX_LEVELS,
  advisoryIdsField,
  arrayField,
  asObject,
  at,
  dateField,
  dateStringField,
  has,
  hexField,
  invalid,
  isvTcbLevelsField,
  objectField,
  parseJsonObject,
  stringField,
  uintField,
} from './fields.js';

/** Longest TCB info text accepted (real ones are under 10 kB). */
export const TCB_INFO_MAX_LENGTH = 1024 * 1024;
/** Most TDX module identities accepted. */
const MAX_MODULE_IDENTITIES = 64;
const COMPONENT_COUNT = 16;

const ROOT: FieldContext = { code: 'SGX_TCB_INFO_INVALID', path: 'tcbInfo' };

function componentsField(ctx: FieldContext, tcb: JsonObject, key: string): number[] {
  const c = at(ctx, key);
  return arrayField(ctx, tcb, key, COMPONENT_COUNT, COMPONENT_COUNT).map((value, i) => {
    const cc = at(c, i);
    const component = asObject(cc, value);
    // category / type are descriptive; when present they must at least be strings.
    for (const k of ['category', 'type']) {
      if (has(component, k)) stringField(cc, component, k);
    }
    return uintField(cc, component, 'svn', 0xff);
  });
}

function tcbLevelField(ctx: FieldContext, value: unknown, version: 2 | 3, isTdx: boolean): TcbLevel {
  const level = asObject(ctx, value);
  const tc = at(ctx, 'tcb');
  const tcb = objectField(ctx, level, 'tcb');
  let sgxTcbComponents: number[];
  let tdxTcbComponents: number[] | undefined;
  if (version === 2) {
    sgxTcbComponents = [];
    for (let i = 1; i <= COMPONENT_COUNT; i++) {
      sgxTcbComponents.push(uintField(tc, tcb, `sgxtcbcomp${String(i).padStart(2, '0')}svn`, 0xff));
    }
  } else {
    sgxTcbComponents = componentsField(tc, tcb, 'sgxtcbcomponents');
    // QVL reads tdxtcbcomponents only for TDX TCB info.
    tdxTcbComponents = isTdx ? componentsField(tc, tcb, 'tdxtcbcomponents') : undefined;
  }
  return {
    sgxTcbComponents,
    pceSvn: uintField(tc, tcb, 'pcesvn', 0xffff),
    tdxTcbComponents,
    tcbDate: dateStringField(ctx, level, 'tcbDate'),
    tcbStatus: stringField(ctx, level, 'tcbStatus'),
    advisoryIds: advisoryIdsField(ctx, level),
  };
}

function tdxModuleFields(ctx: FieldContext, obj: JsonObject): TdxModule {
  return {
    mrsigner: hexField(ctx, obj, 'mrsigner', 48),
    attributes: hexField(ctx, obj, 'attributes', 8),
    attributesMask: hexField(ctx, obj, 'attributesMask', 8),
  };
}

function tdxModuleIdentitiesField(ctx: FieldContext, info: JsonObject): TdxModuleIdentity[] {
  const c = at(ctx, 'tdxModuleIdentities');
  return arrayField(ctx, info, 'tdxModuleIdentities', 1, MAX_MODULE_IDENTITIES).map((value, i) => {
    const ic = at(c, i);
    const identity = asObject(ic, value);
    return {
      id: stringField(ic, identity, 'id'),
      ...tdxModuleFields(ic, identity),
      tcbLevels: isvTcbLevelsField(ic, identity),
    };
  });
}

/**
 * Parses the text of a `tcbInfo` value (the signed text, e.g. a bundle's `tcb_info`; not the PCS response wrapper
 * `{"tcbInfo":…,"signature":…}`).
 */
export function parseTcbInfo(body: string): TcbInfo {
  const info = parseJsonObject(body, 'SGX_TCB_INFO_UNSUPPORTED_FORMAT', 'TCB info', TCB_INFO_MAX_LENGTH);
  const rawVersion = uintField(ROOT, info, 'version', 0xffffffff);
  if (rawVersion !== 2 && rawVersion !== 3) {
    invalid(at(ROOT, 'version'), `unsupported version ${rawVersion} (expected 2 or 3)`);
  }
  const version: 2 | 3 = rawVersion;

  let id: 'SGX' | 'TDX' | undefined;
  if (version === 3) {
    const raw = stringField(ROOT, info, 'id');
    if (raw !== 'SGX' && raw !== 'TDX') invalid(at(ROOT, 'id'), 'expected "SGX" or "TDX"');
    id = raw;
  }
  const isTdx = id === 'TDX';

  const fmspc = toHex(hexField(ROOT, info, 'fmspc', 6));
  const pceId = toHex(hexField(ROOT, info, 'pceId', 2));
  const tcbType = uintField(ROOT, info, 'tcbType', 0xff);
  if (tcbType !== 0) invalid(at(ROOT, 'tcbType'), `unsupported TCB type ${tcbType} (expected 0)`);

  let tdxModule: TdxModule | undefined;
  let tdxModuleIdentities: TdxModuleIdentity[] | undefined;
  if (isTdx) {
    tdxModule = tdxModuleFields(at(ROOT, 'tdxModule'), objectField(ROOT, info, 'tdxModule'));
    if (has(info, 'tdxModuleIdentities')) tdxModuleIdentities = tdxModuleIdentitiesField(ROOT, info);
  } else if (has(info, 'tdxModule') || has(info, 'tdxModuleIdentities')) {
    // QVL rejects TDX module data in SGX TCB info.
    invalid(ROOT, 'tdxModule / tdxModuleIdentities are only valid in TDX TCB info');
  }

  const lc = at(ROOT, 'tcbLevels');
  const seen = new Set<string>();
  const tcbLevels = arrayField(ROOT, info, 'tcbLevels', 1, MAX_LEVELS).map((value, i) => {
    const level = tcbLevelField(at(lc, i), value, version, isTdx);
    const key = `${level.sgxTcbComponents.join(',')}/${level.pceSvn}/${level.tdxTcbComponents?.join(',') ?? ''}`;
    if (seen.has(key)) invalid(at(lc, i), 'duplicate TCB level');
    seen.add(key);
    return level;
  });

  return {
    id,
    version,
    issueDate: dateField(ROOT, info, 'issueDate'),
    nextUpdate: dateField(ROOT, info, 'nextUpdate'),
    fmspc,
    pceId,
    tcbType,
    tcbEvaluationDataNumber: uintField(ROOT, info, 'tcbEvaluationDataNumber', 0xffffffff),
    tdxModule,
    tdxModuleIdentities,
    tcbLevels,
  };
}
