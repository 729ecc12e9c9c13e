/** Shared by the verification tests: turn a corpus case into verifier options and compare outcomes. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { trustAnchorFromCertificate, type VerifyOptions } from '../src/index.js';
import type { DcapCase } from './corpus.js';

export function caseOptions(c: DcapCase, extra: Partial<VerifyOptions> = {}): VerifyOptions {
  const o = c.json.options ?? {};
  const anchors =
    o.trustedRootCaFile !== undefined
      ? { trustAnchors: [trustAnchorFromCertificate(readFileSync(join(c.dir, o.trustedRootCaFile), 'utf8'))] }
      : {};
  return {
    now: c.json.now,
    skipRootCrlFreshness: o.skipRootCrlFreshness === true || o.skipCrlFreshness === true,
    skipPckCrlFreshness: o.skipPckCrlFreshness === true || o.skipCrlFreshness === true,
    ...anchors,
    ...extra,
  };
}

export function sortedSet(ids: readonly string[]): string[] {
  return [...new Set(ids)].sort();
}

/** The codes a case accepts for its expected error. */
export function acceptedCodes(c: DcapCase): string[] {
  return [c.json.expectError!, ...(c.json.expectErrorAlternatives ?? [])];
}
