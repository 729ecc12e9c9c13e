/**
 * @cloister/testkit (private, tests only).
 * Test access to the real third-party corpus in testdata/ (copied from the project's shared folder) (FORMAT.md, PROVENANCE.md) and to the repository.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'cloister') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
}

export const repoRoot = findRepoRoot();
export const testdataDir = join(repoRoot, 'testdata');
export const dcapDir = join(testdataDir, 'dcap');

export interface CaseJson {
  id: string;
  description: string;
  now: string;
  teeType: 'SGX' | 'TDX';
  quoteVersion: number;
  options?: {
    skipRootCrlFreshness?: boolean;
    skipPckCrlFreshness?: boolean;
    skipCrlFreshness?: boolean;
    trustedRootCaFile?: string;
  };
  expect?: { status: string; advisoryIds: string[] };
  expectError?: string;
  expectErrorAlternatives?: string[];
  qveExpect?: { status: string; advisoryIds: string[]; collateralExpired: boolean } | { error: string };
  expectClaims?: Record<string, string | number | boolean>;
  expectSignaturesValid?: boolean;
  runtimeDataFile?: string;
  runtimeDataSha256?: string;
  expectMaaClaims?: Record<string, unknown>;
}

export interface DcapCase {
  dir: string;
  json: CaseJson;
  quote: Uint8Array;
  /** collateral.json text, absent for parse-only cases. */
  collateralText: string | undefined;
}

export function readBytes(path: string): Uint8Array {
  const b = readFileSync(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Every case folder under dcap/ (a folder with case.json). */
export function loadDcapCases(): DcapCase[] {
  return readdirSync(dcapDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dcapDir, d.name, 'case.json')))
    .map((d) => {
      const dir = join(dcapDir, d.name);
      const collateralPath = join(dir, 'collateral.json');
      return {
        dir,
        json: JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as CaseJson,
        quote: readBytes(join(dir, 'quote.bin')),
        collateralText: existsSync(collateralPath) ? readFileSync(collateralPath, 'utf8') : undefined,
      };
    })
    .sort((a, b) => a.json.id.localeCompare(b.json.id));
}
export { httpGet, slowloris, type Slowloris } from './slow-clients.js';
export { modulesLoadedBy } from './loaded-modules.js';
