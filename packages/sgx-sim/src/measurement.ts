/**
 * MRENCLAVE of a simulated enclave, computed the way SGX hardware builds it while the enclave is loaded
 * (Intel SDM Vol. 3D §38 "ECREATE", "EADD", "EEXTEND"; §39.1 "Constructing the measurement"). MRENCLAVE is
 * SHA-256 over a sequence of records, each a multiple of 64 bytes (integers little-endian):
 *
 * | record  | bytes |
 * |---------|-------|
 * | ECREATE | "ECREATE\0" (8) ‖ SSAFRAMESIZE u32 (pages) ‖ SIZE u64 (enclave size, a power of two) ‖ 44 zero bytes |
 * | EADD    | "EADD\0\0\0\0" (8) ‖ page offset u64 ‖ SECINFO[0..48): FLAGS u64 then 40 zero bytes |
 * | EEXTEND | "EEXTEND\0" (8) ‖ chunk offset u64 ‖ 48 zero bytes, then the 256 bytes of the chunk (16 per page) |
 *
 * SECINFO.FLAGS: R 0x1, W 0x2, X 0x4, page type in bits 8..15 (PT_TCS 1, PT_REG 2).
 *
 * ## The simulated enclave layout
 *
 * A simulated enclave has no ELF file; its image is a code bundle, a manifest and the declared files. They are
 * laid out in the enclave's address space, from offset 0, one 4 KiB page after another:
 *
 * 1. **Manifest document** — pages R (SECINFO 0x201), EADD + EEXTEND. The document is canonical JSON (object keys
 *    sorted, no whitespace, UTF-8), zero padded to a whole page:
 *    `{"contents":{"code":{"sha256":…,"size":…},"files":[{"path":…,"sha256":…,"size":…},…]},
 *      "format":"cloister-sgx-sim-enclave/1","manifest":{…every manifest field, defaults filled in…}}`.
 *    So every manifest field (name, entry, heap size, debug, product ID, security version, files, env, kss,
 *    provisionKey, configSvn, isvExtProdId, isvFamilyId, miscSelect) is measured, as Gramine measures its manifest,
 *    and each file's path, exact length and SHA-256 are bound (zero padding cannot hide a length change).
 * 2. **Code bundle** — pages R+X (0x205), EADD + EEXTEND, zero padded.
 * 3. **Declared files** — for each path of `manifest.files`, in the declared order: the file's pages R (0x201),
 *    EADD + EEXTEND, zero padded (an empty file has no pages; it is bound by the manifest document alone).
 * 4. **Heap** — `heapSizeMiB × 256` pages R+W (0x203), EADD only (not EEXTENDed, as the SDK does for heap), so a
 *    1 GiB heap costs 262,144 64-byte records.
 * 5. **Thread context** — one TCS page (SECINFO PT_TCS 0x100; OSSA = offset of the SSA page, NSSA = 1,
 *    OENTRY = offset of the code bundle, all else zero) then one SSA page R+W (0x203, zeros); both EADD + EEXTEND.
 *
 * SSAFRAMESIZE is 1 page; SIZE is the smallest power of two ≥ max(the pages above, 2 pages) × 4096. The
 * ECREATE record comes first, then the pages in address order.
 */
import { createHash } from 'node:crypto';
import { SimError } from './errors.js';

export const PAGE_SIZE = 4096;
const CHUNK = 256;
export const SSA_FRAME_SIZE = 1;
export const MAX_HEAP_MIB = 65536;
export const MANIFEST_FORMAT = 'cloister-sgx-sim-enclave/1';

/** SECINFO.FLAGS bits (Intel SDM Vol. 3D §34.11.1). */
export const SECINFO_FLAGS = {
  R: 0x1n,
  W: 0x2n,
  X: 0x4n,
  PT_TCS: 0x100n,
  PT_REG: 0x200n,
} as const;

export interface EnclaveManifest {
  readonly name: string;
  /** The entry point inside the code bundle (for the enclave runtime; measured). */
  readonly entry: string;
  readonly heapSizeMiB: number;
  readonly debug: boolean;
  /** ISVPRODID, u16. */
  readonly productId: number;
  /** ISVSVN, u16. */
  readonly securityVersion: number;
  /** Paths of the files measured into the enclave, in load order. */
  readonly files?: readonly string[];
  /** `NAME=value` entries of the enclave's environment. */
  readonly env?: readonly string[];
  readonly kss?: boolean;
  readonly provisionKey?: boolean;
  /** CONFIGSVN, u16; non-zero needs kss. */
  readonly configSvn?: number;
  /** ISVEXTPRODID, 32 hex digits; non-zero needs kss. */
  readonly isvExtProdId?: string;
  /** ISVFAMILYID, 32 hex digits; non-zero needs kss. */
  readonly isvFamilyId?: string;
  /** MISCSELECT, u32. */
  readonly miscSelect?: number;
}

/** A manifest with every default filled in and hex in lower case: what is measured. */
export interface NormalizedManifest {
  readonly name: string;
  readonly entry: string;
  readonly heapSizeMiB: number;
  readonly debug: boolean;
  readonly productId: number;
  readonly securityVersion: number;
  readonly files: readonly string[];
  readonly env: readonly string[];
  readonly kss: boolean;
  readonly provisionKey: boolean;
  readonly configSvn: number;
  readonly isvExtProdId: string;
  readonly isvFamilyId: string;
  readonly miscSelect: number;
}

export interface EnclaveImage {
  readonly code: Uint8Array;
  readonly manifest: EnclaveManifest;
  readonly files?: readonly { readonly path: string; readonly bytes: Uint8Array }[];
}

export type LayoutRegionKind = 'manifest' | 'code' | 'file' | 'heap' | 'tcs' | 'ssa';

export interface LayoutRegion {
  readonly kind: LayoutRegionKind;
  /** Byte offset of the first page in the enclave. */
  readonly offset: number;
  readonly pages: number;
  /** SECINFO.FLAGS of the EADD records. */
  readonly secinfoFlags: bigint;
  /** Whether the pages' contents are EEXTENDed. */
  readonly measured: boolean;
  /** For kind 'file'. */
  readonly path?: string;
  /** Bytes of content before zero padding. */
  readonly contentSize: number;
}

export interface EnclaveLayout {
  /** SECS.SIZE, a power of two. */
  readonly size: number;
  readonly ssaFrameSize: number;
  readonly regions: readonly LayoutRegion[];
  /** The canonical manifest document that fills the first pages. */
  readonly manifestDocument: Uint8Array;
  readonly manifest: NormalizedManifest;
}

const MANIFEST_KEYS = new Set([
  'name',
  'entry',
  'heapSizeMiB',
  'debug',
  'productId',
  'securityVersion',
  'files',
  'env',
  'kss',
  'provisionKey',
  'configSvn',
  'isvExtProdId',
  'isvFamilyId',
  'miscSelect',
]);

function bad(message: string): never {
  throw new SimError('INVALID_ENCLAVE', message);
}

function intField(m: Record<string, unknown>, key: string, max: number, fallback?: number): number {
  const v = m[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) bad(`manifest.${key} must be an integer 0..${max}`);
  return v;
}

function boolField(m: Record<string, unknown>, key: string, fallback?: boolean): boolean {
  const v = m[key] ?? fallback;
  if (typeof v !== 'boolean') bad(`manifest.${key} must be true or false`);
  return v;
}

function textField(m: Record<string, unknown>, key: string, maxLength: number): string {
  const v = m[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLength || /[\u0000-\u001f\u007f]/.test(v)) {
    bad(`manifest.${key} must be a non-empty string of at most ${maxLength} characters without control characters`);
  }
  return v;
}

function hex16Field(m: Record<string, unknown>, key: string): string {
  const v = m[key] ?? '00'.repeat(16);
  if (typeof v !== 'string' || !/^[0-9a-fA-F]{32}$/.test(v)) bad(`manifest.${key} must be 32 hex digits (16 bytes)`);
  return v.toLowerCase();
}

function stringList(m: Record<string, unknown>, key: string, check: (s: string) => string | undefined): string[] {
  const v = m[key] ?? [];
  if (!Array.isArray(v)) bad(`manifest.${key} must be an array of strings`);
  const out: string[] = [];
  for (const [i, s] of v.entries()) {
    if (typeof s !== 'string') bad(`manifest.${key}[${i}] must be a string`);
    const problem = check(s);
    if (problem !== undefined) bad(`manifest.${key}[${i}] ${problem}`);
    out.push(s);
  }
  return out;
}

/** Validate a manifest and fill in its defaults (INVALID_ENCLAVE with the offending field otherwise). */
export function normalizeManifest(manifest: unknown): NormalizedManifest {
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) bad('the manifest must be an object');
  const m = manifest as Record<string, unknown>;
  for (const key of Object.keys(m)) {
    if (!MANIFEST_KEYS.has(key)) bad(`manifest.${key} is not a manifest field (every field is measured; unknown ones are refused)`);
  }
  const files = stringList(m, 'files', (s) =>
    s.length === 0 || s.length > 4096 || s.includes('\u0000') ? 'must be a non-empty path without NUL' : undefined,
  );
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f)) bad(`manifest.files lists ${JSON.stringify(f)} twice`);
    seen.add(f);
  }
  const env = stringList(m, 'env', (s) => (/^[^=\u0000]+=[^\u0000]*$/.test(s) ? undefined : 'must be NAME=value without NUL'));
  const kss = boolField(m, 'kss', false);
  const out: NormalizedManifest = {
    name: textField(m, 'name', 256),
    entry: textField(m, 'entry', 4096),
    heapSizeMiB: intField(m, 'heapSizeMiB', MAX_HEAP_MIB),
    debug: boolField(m, 'debug'),
    productId: intField(m, 'productId', 0xffff),
    securityVersion: intField(m, 'securityVersion', 0xffff),
    files,
    env,
    kss,
    provisionKey: boolField(m, 'provisionKey', false),
    configSvn: intField(m, 'configSvn', 0xffff, 0),
    isvExtProdId: hex16Field(m, 'isvExtProdId'),
    isvFamilyId: hex16Field(m, 'isvFamilyId'),
    miscSelect: intField(m, 'miscSelect', 0xffff_ffff, 0),
  };
  if (!kss) {
    if (out.configSvn !== 0) bad('manifest.configSvn needs kss: true');
    if (out.isvExtProdId !== '00'.repeat(16)) bad('manifest.isvExtProdId needs kss: true');
    if (out.isvFamilyId !== '00'.repeat(16)) bad('manifest.isvFamilyId needs kss: true');
  }
  return out;
}

/** Canonical JSON: object keys sorted (UTF-16 code unit order), no whitespace. Only JSON-safe values occur here. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function pagesOf(bytes: number): number {
  return Math.ceil(bytes / PAGE_SIZE);
}

interface ContentRegion extends LayoutRegion {
  readonly content: Uint8Array | undefined;
}

interface BuiltLayout extends EnclaveLayout {
  readonly regions: readonly ContentRegion[];
}

function buildLayout(image: EnclaveImage): BuiltLayout {
  if (typeof image !== 'object' || image === null) bad('the enclave image must be an object');
  const manifest = normalizeManifest(image.manifest);
  const code = image.code;
  if (!(code instanceof Uint8Array) || code.length === 0) bad('the enclave code must be a non-empty Uint8Array');
  const given = image.files ?? [];
  if (!Array.isArray(given)) bad('image.files must be an array');
  const byPath = new Map<string, Uint8Array>();
  for (const [i, f] of given.entries()) {
    if (typeof f !== 'object' || f === null || typeof f.path !== 'string' || !(f.bytes instanceof Uint8Array)) {
      bad(`image.files[${i}] must be { path: string, bytes: Uint8Array }`);
    }
    if (byPath.has(f.path)) bad(`image.files has ${JSON.stringify(f.path)} twice`);
    if (!manifest.files.includes(f.path)) bad(`image.files has ${JSON.stringify(f.path)}, which the manifest does not declare`);
    byPath.set(f.path, f.bytes);
  }
  const files = manifest.files.map((path) => {
    const bytes = byPath.get(path);
    if (bytes === undefined) bad(`manifest.files declares ${JSON.stringify(path)} but the image does not provide it`);
    return { path, bytes };
  });
  const document = new TextEncoder().encode(
    canonicalJson({
      contents: {
        code: { sha256: sha256Hex(code), size: code.length },
        files: files.map((f) => ({ path: f.path, sha256: sha256Hex(f.bytes), size: f.bytes.length })),
      },
      format: MANIFEST_FORMAT,
      manifest,
    }),
  );

  const regions: ContentRegion[] = [];
  let offset = 0;
  const add = (kind: LayoutRegionKind, content: Uint8Array | undefined, pages: number, flags: bigint, path?: string): void => {
    if (pages === 0) return;
    regions.push({
      kind,
      offset,
      pages,
      secinfoFlags: flags,
      measured: content !== undefined,
      contentSize: content?.length ?? 0,
      content,
      ...(path === undefined ? {} : { path }),
    });
    offset += pages * PAGE_SIZE;
  };
  const REG = SECINFO_FLAGS.PT_REG;
  add('manifest', document, pagesOf(document.length), REG | SECINFO_FLAGS.R);
  const codeOffset = offset;
  add('code', code, pagesOf(code.length), REG | SECINFO_FLAGS.R | SECINFO_FLAGS.X);
  for (const f of files) add('file', f.bytes, pagesOf(f.bytes.length), REG | SECINFO_FLAGS.R, f.path);
  add('heap', undefined, manifest.heapSizeMiB * 256, REG | SECINFO_FLAGS.R | SECINFO_FLAGS.W);
  const tcsOffset = offset;
  const ssaOffset = tcsOffset + PAGE_SIZE;
  const tcs = new Uint8Array(PAGE_SIZE);
  const tv = new DataView(tcs.buffer);
  tv.setBigUint64(16, BigInt(ssaOffset), true); // OSSA
  tv.setUint32(28, 1, true); // NSSA
  tv.setBigUint64(32, BigInt(codeOffset), true); // OENTRY
  add('tcs', tcs, 1, SECINFO_FLAGS.PT_TCS);
  add('ssa', new Uint8Array(PAGE_SIZE * SSA_FRAME_SIZE), SSA_FRAME_SIZE, REG | SECINFO_FLAGS.R | SECINFO_FLAGS.W);
  let size = 2 * PAGE_SIZE;
  while (size < offset) size *= 2;
  return { size, ssaFrameSize: SSA_FRAME_SIZE, regions, manifestDocument: document, manifest };
}

/** The pages of a simulated enclave, region by region (see the layout at the top of this file). */
export function enclaveLayout(image: EnclaveImage): EnclaveLayout {
  const built = buildLayout(image);
  return {
    ...built,
    regions: built.regions.map(({ content: _content, ...region }) => region),
  };
}

const EEXTEND_RECORD = 64 + CHUNK;
const PAGE_RECORDS = 64 + (PAGE_SIZE / CHUNK) * EEXTEND_RECORD;
const BATCH = 64 * PAGE_RECORDS;
const TAG_ECREATE = new TextEncoder().encode('ECREATE\0');
const TAG_EADD = new TextEncoder().encode('EADD\0\0\0\0');
const TAG_EEXTEND = new TextEncoder().encode('EEXTEND\0');

/** SHA-256 over the ECREATE/EADD/EEXTEND records, batched into one scratch buffer. */
class Measurer {
  readonly #hash = createHash('sha256');
  readonly #buf = new Uint8Array(BATCH);
  readonly #view = new DataView(this.#buf.buffer);
  #len = 0;

  #reserve(n: number): number {
    if (this.#len + n > BATCH) this.#flush();
    const at = this.#len;
    this.#len += n;
    this.#buf.fill(0, at, at + 64);
    return at;
  }

  #flush(): void {
    if (this.#len > 0) this.#hash.update(this.#buf.subarray(0, this.#len));
    this.#len = 0;
  }

  ecreate(ssaFrameSize: number, size: number): void {
    const at = this.#reserve(64);
    this.#buf.set(TAG_ECREATE, at);
    this.#view.setUint32(at + 8, ssaFrameSize, true);
    this.#view.setBigUint64(at + 12, BigInt(size), true);
  }

  eadd(offset: number, flags: bigint): void {
    const at = this.#reserve(64);
    this.#buf.set(TAG_EADD, at);
    this.#view.setBigUint64(at + 8, BigInt(offset), true);
    this.#view.setBigUint64(at + 16, flags, true);
  }

  /** EEXTEND of the 256-byte chunk at `offset`; `data` is up to 256 bytes, zero padded. */
  eextend(offset: number, data: Uint8Array): void {
    const at = this.#reserve(EEXTEND_RECORD);
    this.#buf.set(TAG_EEXTEND, at);
    this.#view.setBigUint64(at + 8, BigInt(offset), true);
    this.#buf.set(data, at + 64);
    if (data.length < CHUNK) this.#buf.fill(0, at + 64 + data.length, at + EEXTEND_RECORD);
  }

  digest(): Uint8Array {
    this.#flush();
    return new Uint8Array(this.#hash.digest());
  }
}

/** MRENCLAVE (32 bytes) of a simulated enclave image; INVALID_ENCLAVE if the image or manifest is malformed. */
export function measureEnclave(image: EnclaveImage): Uint8Array {
  const layout = buildLayout(image);
  const m = new Measurer();
  m.ecreate(layout.ssaFrameSize, layout.size);
  for (const r of layout.regions) {
    for (let p = 0; p < r.pages; p++) {
      const pageOffset = r.offset + p * PAGE_SIZE;
      m.eadd(pageOffset, r.secinfoFlags);
      const content = r.content;
      if (content === undefined) continue;
      for (let c = 0; c < PAGE_SIZE; c += CHUNK) {
        const start = p * PAGE_SIZE + c;
        m.eextend(pageOffset + c, content.subarray(Math.min(start, content.length), Math.min(start + CHUNK, content.length)));
      }
    }
  }
  return m.digest();
}

