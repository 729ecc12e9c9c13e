import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { toHex } from '@cloister/dcap';
import { SimError, type SimErrorCode } from '../src/errors.js';
import {
  enclaveLayout,
  measureEnclave,
  normalizeManifest,
  PAGE_SIZE,
  type EnclaveImage,
  type EnclaveManifest,
} from '../src/measurement.js';

function expectCode(fn: () => unknown, code: SimErrorCode): void {
  assert.throws(fn, (e: unknown) => SimError.is(e) && e.code === code);
}

const enc = new TextEncoder();
const CODE = enc.encode('export function main() { return 42; }\n');
const FILE_A = enc.encode('model weights '.repeat(500));
const FILE_B = enc.encode('{"config":true}');
const BASE: EnclaveManifest = {
  name: 'demo',
  entry: 'main.js',
  heapSizeMiB: 4,
  debug: false,
  productId: 1,
  securityVersion: 1,
};
function image(manifest: Partial<EnclaveManifest> = {}, extra: Partial<EnclaveImage> = {}): EnclaveImage {
  return { code: CODE, manifest: { ...BASE, ...manifest }, ...extra };
}
const withFiles = (order: string[] = ['a.bin', 'b.json'], a = FILE_A, b = FILE_B): EnclaveImage =>
  image(
    { files: order },
    {
      files: [
        { path: 'a.bin', bytes: a },
        { path: 'b.json', bytes: b },
      ],
    },
  );

/** A plain, record-by-record reimplementation of the documented measurement, to check the batched one. */
function referenceMeasure(img: EnclaveImage): string {
  const layout = enclaveLayout(img);
  const h = createHash('sha256');
  const rec = (): { b: Uint8Array; v: DataView } => {
    const b = new Uint8Array(64);
    return { b, v: new DataView(b.buffer) };
  };
  const e = rec();
  e.b.set(enc.encode('ECREATE\0'));
  e.v.setUint32(8, layout.ssaFrameSize, true);
  e.v.setBigUint64(12, BigInt(layout.size), true);
  h.update(e.b);
  const contentOf = (kind: string, path?: string): Uint8Array => {
    if (kind === 'manifest') return layout.manifestDocument;
    if (kind === 'code') return img.code;
    if (kind === 'file') return img.files!.find((f) => f.path === path)!.bytes;
    const page = new Uint8Array(PAGE_SIZE);
    if (kind === 'tcs') {
      const v = new DataView(page.buffer);
      const ssa = layout.regions.find((r) => r.kind === 'ssa')!;
      const code = layout.regions.find((r) => r.kind === 'code')!;
      v.setBigUint64(16, BigInt(ssa.offset), true);
      v.setUint32(28, 1, true);
      v.setBigUint64(32, BigInt(code.offset), true);
    }
    return page;
  };
  for (const r of layout.regions) {
    const content = r.measured ? contentOf(r.kind, r.path) : undefined;
    const padded = content === undefined ? undefined : new Uint8Array(r.pages * PAGE_SIZE);
    if (padded !== undefined) padded.set(content!);
    for (let p = 0; p < r.pages; p++) {
      const off = r.offset + p * PAGE_SIZE;
      const a = rec();
      a.b.set(enc.encode('EADD\0\0\0\0'));
      a.v.setBigUint64(8, BigInt(off), true);
      a.v.setBigUint64(16, r.secinfoFlags, true);
      h.update(a.b);
      if (padded === undefined) continue;
      for (let c = 0; c < PAGE_SIZE; c += 256) {
        const x = rec();
        x.b.set(enc.encode('EEXTEND\0'));
        x.v.setBigUint64(8, BigInt(off + c), true);
        h.update(x.b);
        h.update(padded.subarray(p * PAGE_SIZE + c, p * PAGE_SIZE + c + 256));
      }
    }
  }
  return h.digest('hex');
}

describe('measureEnclave', () => {
  it('is deterministic and 32 bytes', () => {
    const a = measureEnclave(withFiles());
    assert.equal(a.length, 32);
    assert.deepEqual(measureEnclave(withFiles()), a);
  });

  it('matches a record-by-record computation of the documented layout', () => {
    assert.equal(toHex(measureEnclave(image())), referenceMeasure(image()));
    assert.equal(toHex(measureEnclave(withFiles())), referenceMeasure(withFiles()));
    const big = image({ heapSizeMiB: 0 }, { code: new Uint8Array(3 * PAGE_SIZE + 17).fill(0x5a) });
    assert.equal(toHex(measureEnclave(big)), referenceMeasure(big));
  });

  it('changes with every manifest field', () => {
    const variants: EnclaveImage[] = [
      image(),
      image({ name: 'demo2' }),
      image({ entry: 'other.js' }),
      image({ heapSizeMiB: 5 }),
      image({ debug: true }),
      image({ productId: 2 }),
      image({ securityVersion: 2 }),
      image({ env: ['A=1'] }),
      image({ env: ['A=2'] }),
      image({ kss: true }),
      image({ provisionKey: true }),
      image({ kss: true, configSvn: 1 }),
      image({ kss: true, isvExtProdId: '01'.repeat(16) }),
      image({ kss: true, isvFamilyId: '01'.repeat(16) }),
      image({ miscSelect: 1 }),
      image({ files: ['b.json'] }, { files: [{ path: 'b.json', bytes: FILE_B }] }),
      image({ files: ['c.json'] }, { files: [{ path: 'c.json', bytes: FILE_B }] }),
    ];
    const seen = new Set(variants.map((v) => toHex(measureEnclave(v))));
    assert.equal(seen.size, variants.length);
  });

  it('treats an omitted field like its default, and hex case alike', () => {
    const explicit = image({ kss: false, provisionKey: false, configSvn: 0, files: [], env: [], miscSelect: 0 });
    assert.deepEqual(measureEnclave(explicit), measureEnclave(image()));
    assert.deepEqual(
      measureEnclave(image({ kss: true, isvFamilyId: 'AB'.repeat(16) })),
      measureEnclave(image({ kss: true, isvFamilyId: 'ab'.repeat(16) })),
    );
  });

  it('changes with a code byte, a trailing zero byte of code, a file byte, the file order and the heap size', () => {
    const base = toHex(measureEnclave(withFiles()));
    const code = CODE.slice();
    code[3] = code[3]! ^ 1;
    const fileA = FILE_A.slice();
    fileA[FILE_A.length - 1] = fileA[FILE_A.length - 1]! ^ 1;
    const variants = [
      { ...withFiles(), code },
      { ...withFiles(), code: Uint8Array.of(...CODE, 0) },
      withFiles(['a.bin', 'b.json'], fileA),
      withFiles(['a.bin', 'b.json'], FILE_A, Uint8Array.of(...FILE_B, 0)),
      withFiles(['b.json', 'a.bin']),
      { ...withFiles(), manifest: { ...withFiles().manifest, heapSizeMiB: 1024 } },
    ];
    const seen = new Set([base, ...variants.map((v) => toHex(measureEnclave(v)))]);
    assert.equal(seen.size, variants.length + 1);
  });

  it('measures a 1 GiB heap quickly (EADD records only)', () => {
    const big = measureEnclave(image({ heapSizeMiB: 1024 }));
    assert.equal(big.length, 32, 'a 1 GiB heap measures (no wall-clock assertion)');
    assert.notEqual(toHex(big), toHex(measureEnclave(image({ heapSizeMiB: 512 }))));
  });
});

describe('enclaveLayout', () => {
  it('lists the regions in the documented order with page-aligned offsets', () => {
    const layout = enclaveLayout(withFiles());
    assert.deepEqual(
      layout.regions.map((r) => [r.kind, r.path ?? '', r.secinfoFlags, r.measured]),
      [
        ['manifest', '', 0x201n, true],
        ['code', '', 0x205n, true],
        ['file', 'a.bin', 0x201n, true],
        ['file', 'b.json', 0x201n, true],
        ['heap', '', 0x203n, false],
        ['tcs', '', 0x100n, true],
        ['ssa', '', 0x203n, true],
      ],
    );
    let offset = 0;
    for (const r of layout.regions) {
      assert.equal(r.offset, offset);
      offset += r.pages * PAGE_SIZE;
    }
    assert.equal(layout.regions.find((r) => r.kind === 'heap')!.pages, 4 * 256);
    assert.equal(layout.regions.find((r) => r.kind === 'file' && r.path === 'a.bin')!.pages, Math.ceil(FILE_A.length / PAGE_SIZE));
    assert.ok(layout.size >= offset && (layout.size & (layout.size - 1)) === 0, 'SIZE is a power of two covering all pages');
    assert.equal(layout.ssaFrameSize, 1);
  });

  it('measures a canonical manifest document that binds file paths, sizes and hashes', () => {
    const layout = enclaveLayout(withFiles());
    const text = new TextDecoder().decode(layout.manifestDocument);
    const doc = JSON.parse(text) as {
      format: string;
      manifest: Record<string, unknown>;
      contents: { code: { size: number; sha256: string }; files: { path: string; size: number; sha256: string }[] };
    };
    assert.equal(doc.format, 'cloister-sgx-sim-enclave/1');
    assert.equal(text, JSON.stringify(doc, (_k, v: unknown) => sortKeys(v)), 'keys sorted, no whitespace');
    assert.equal(doc.manifest['kss'], false, 'defaults are filled in');
    assert.deepEqual(doc.contents.code, { sha256: createHash('sha256').update(CODE).digest('hex'), size: CODE.length });
    assert.deepEqual(
      doc.contents.files.map((f) => [f.path, f.size]),
      [
        ['a.bin', FILE_A.length],
        ['b.json', FILE_B.length],
      ],
    );
  });
});

function sortKeys(v: unknown): unknown {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

describe('manifest validation', () => {
  const bad: [string, unknown][] = [
    ['not an object', null],
    ['missing name', { ...BASE, name: undefined }],
    ['empty name', { ...BASE, name: '' }],
    ['control character in name', { ...BASE, name: 'a\nb' }],
    ['missing entry', { ...BASE, entry: undefined }],
    ['negative heap', { ...BASE, heapSizeMiB: -1 }],
    ['fractional heap', { ...BASE, heapSizeMiB: 1.5 }],
    ['huge heap', { ...BASE, heapSizeMiB: 65537 }],
    ['debug not boolean', { ...BASE, debug: 'yes' }],
    ['missing debug', { ...BASE, debug: undefined }],
    ['productId > u16', { ...BASE, productId: 0x10000 }],
    ['negative securityVersion', { ...BASE, securityVersion: -1 }],
    ['files not an array', { ...BASE, files: 'a' }],
    ['duplicate file', { ...BASE, files: ['a', 'a'] }],
    ['empty file path', { ...BASE, files: [''] }],
    ['env without =', { ...BASE, env: ['NOEQ'] }],
    ['env not strings', { ...BASE, env: [1] }],
    ['kss not boolean', { ...BASE, kss: 1 }],
    ['configSvn without kss', { ...BASE, configSvn: 1 }],
    ['isvExtProdId without kss', { ...BASE, isvExtProdId: '01'.repeat(16) }],
    ['isvFamilyId without kss', { ...BASE, isvFamilyId: '01'.repeat(16) }],
    ['isvFamilyId bad hex', { ...BASE, kss: true, isvFamilyId: 'zz'.repeat(16) }],
    ['isvExtProdId wrong length', { ...BASE, kss: true, isvExtProdId: '01'.repeat(15) }],
    ['miscSelect > u32', { ...BASE, miscSelect: 2 ** 32 }],
    ['unknown field', { ...BASE, debugg: true }],
  ];
  for (const [what, manifest] of bad) {
    it(`refuses ${what} with INVALID_ENCLAVE`, () => {
      expectCode(() => normalizeManifest(JSON.parse(JSON.stringify(manifest ?? null)) as unknown), 'INVALID_ENCLAVE');
      expectCode(() => measureEnclave({ code: CODE, manifest: manifest as EnclaveManifest }), 'INVALID_ENCLAVE');
    });
  }

  it('refuses images whose files do not match the declared files', () => {
    expectCode(() => measureEnclave(image({ files: ['a.bin'] })), 'INVALID_ENCLAVE');
    expectCode(() => measureEnclave(image({}, { files: [{ path: 'a.bin', bytes: FILE_A }] })), 'INVALID_ENCLAVE');
    expectCode(
      () =>
        measureEnclave(
          image(
            { files: ['a.bin'] },
            {
              files: [
                { path: 'a.bin', bytes: FILE_A },
                { path: 'a.bin', bytes: FILE_A },
              ],
            },
          ),
        ),
      'INVALID_ENCLAVE',
    );
    expectCode(
      () => measureEnclave(image({ files: ['a.bin'] }, { files: [{ path: 'a.bin', bytes: 'text' as unknown as Uint8Array }] })),
      'INVALID_ENCLAVE',
    );
  });

  it('refuses empty or non-byte code', () => {
    expectCode(() => measureEnclave(image({}, { code: new Uint8Array(0) })), 'INVALID_ENCLAVE');
    expectCode(() => measureEnclave(image({}, { code: 'x' as unknown as Uint8Array })), 'INVALID_ENCLAVE');
  });

  it('names the offending field in the message', () => {
    assert.throws(() => normalizeManifest({ ...BASE, heapSizeMiB: -1 }), /manifest\.heapSizeMiB/);
  });
});
