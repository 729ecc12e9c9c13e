/**
 * `cloister quote inspect FILE --maa-claims`: the claims the service would issue for this evidence under the default
 * policy, without verifying it (no TCB status, and `x-ms-sgx-collateral` holds only `quotehash` unless collateral is
 * given). Flat keys as in the token; `x-ms-sgx-collateral` nested.
 */
import type { CollateralBundle } from '@cloister/dcap';
import { evidenceClaims, parseEvidence, type Claims, type RuntimeDataInput } from './claims.js';
import { incomingClaims } from './instance.js';
import { defaultPolicyText, policyHash } from './policy/defaults.js';
import { evaluateMaaPolicy, issuedClaimsObject } from './policy/evaluate.js';
import { parseMaaPolicy } from './policy/parser.js';
import { looksLikeOeReport } from './oe.js';

export interface MaaClaimsOptions {
  readonly runtimeData?: RuntimeDataInput;
  readonly collateral?: CollateralBundle;
}

export function maaClaimsForEvidence(evidence: Uint8Array, options: MaaClaimsOptions = {}): Claims {
  const type = looksLikeOeReport(evidence) ? 'OpenEnclave' : 'SgxEnclave';
  const parsed = parseEvidence(type, evidence);
  const claims = evidenceClaims(parsed, {
    ...(options.runtimeData !== undefined ? { runtimeData: options.runtimeData } : {}),
    ...(options.collateral !== undefined ? { collateral: options.collateral } : {}),
  });
  const text = defaultPolicyText(type);
  const issued = issuedClaimsObject(evaluateMaaPolicy(parseMaaPolicy(text), incomingClaims(claims)).issued);
  const out: Claims = { ...claims };
  for (const [k, v] of Object.entries(issued)) if (!(k in out)) out[k] = v;
  out['x-ms-policy'] = issued;
  out['x-ms-policy-hash'] = policyHash(text);
  return out;
}
