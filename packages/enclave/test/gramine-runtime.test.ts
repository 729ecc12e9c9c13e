/**
 * The Gramine backend's runtime and host launcher without Gramine: a real enclave project is built (buildEnclave writes
 * dist/enclave.bundle.mjs and the self-contained dist/enclave-runtime.mjs), and the launcher's command is
 * `node dist/enclave-runtime.mjs dist/enclave.bundle.mjs` — the same argv the Gramine manifest gives, run as a plain
 * process. Platform services come from the test-only CLOISTER_GRAMINE_FAKE_SERVICES module, or from
 * GramineAttestation over an empty CLOISTER_ATTESTATION_ROOT (as under gramine-direct: BACKEND_UNAVAILABLE).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { serialize } from 'node:v8';
import { EnclaveError } from '../src/errors.js';
import { createEnclave } from '../src/create-enclave.js';
import { createGramineEnclaveProcess, type GramineEnclaveProcessOptions } from '../src/host/create-gramine-enclave.js';
import type { EnclaveHandle, HostLogger } from '../src/host/enclave-host.js';
import { buildEnclave } from '../src/package/build.js';
import { createStdioChannel, encodeFrame } from '../src/runtime/stdio-channel.js';
import type { EcallHandler } from '../src/types.js';

type AnyEcalls = Record<string, EcallHandler<never, unknown>>;
type Names =
  | 'echo' | 'structured' | 'attest' | 'quote' | 'ocall' | 'ocallFail' | 'ocallMissing' | 'failCode' | 'failCustom'
  | 'failPlain' | 'log' | 'hang' | 'exit' | 'garbage' | 'nope';
type LooseHandle = Omit<EnclaveHandle<AnyEcalls>, 'ecalls'> & {
  readonly ecalls: Record<Names, (args?: unknown) => Promise<unknown>>;
};

const ENCLAVE_SOURCE = `
import { writeSync } from 'node:fs';
import { defineEnclave, EnclaveError } from '@cloister/enclave/runtime';

export default defineEnclave({
  ecalls: {
    echo: (args: unknown) => args,
    structured: async (args: { when: Date; tags: Set<string>; counts: Map<string, number>; bytes: Uint8Array; big: bigint }) => ({
      year: args.when.getUTCFullYear(),
      tags: [...args.tags].sort(),
      total: [...args.counts.values()].reduce((a, b) => a + b, 0),
      reversed: Uint8Array.from(args.bytes).reverse(),
      big: args.big * 2n,
      nested: { deep: [1, { x: null, y: undefined }] },
    }),
    attest: async (args: { data: Uint8Array }, ctx) => {
      const quote = await ctx.getQuote(args.data);
      const report = await ctx.getReport(args.data);
      const sealed = await ctx.seal(args.data, { policy: 'MRENCLAVE' });
      const unsealed = await ctx.unseal(sealed);
      const self = await ctx.identity();
      let unsealError = '';
      try {
        await ctx.unseal(Uint8Array.of(1, 2, 3));
      } catch (e) {
        unsealError = (e as { code: string }).code;
      }
      return { quote, report, sealed, unsealed: unsealed.data, self, unsealError };
    },
    quote: (args: { data: Uint8Array }, ctx) => ctx.getQuote(args.data),
    ocall: async (args: { n: number }, ctx) => ({ doubled: await ctx.ocall('double', args.n) }),
    ocallFail: (_: unknown, ctx) => ctx.ocall('fail'),
    ocallMissing: async (_: unknown, ctx) => {
      try {
        await ctx.ocall('missing');
        return 'no error';
      } catch (e) {
        return (e as { code: string }).code;
      }
    },
    failCode: () => {
      throw new EnclaveError('POLICY_MISMATCH', 'not allowed here');
    },
    failCustom: async () => {
      throw Object.assign(new Error('app says no'), { code: 'APP_SPECIFIC' });
    },
    failPlain: () => {
      throw new Error('plain');
    },
    log: (_: unknown, ctx) => {
      console.log('console output goes to stderr');
      ctx.log.info('hello from inside', { a: 1 });
      return 'logged';
    },
    hang: () => new Promise(() => undefined),
    exit: () => {
      setTimeout(() => process.exit(3), 10);
      return new Promise(() => undefined);
    },
    garbage: () => {
      // Straight to fd 1, past the runtime's stdout redirect: the host sees a broken frame.
      writeSync(1, Uint8Array.of(0xff, 0xff, 0xff, 0x7f, 1, 2, 3));
      return new Promise(() => undefined);
    },
  },
});
`;

const FAKE_SERVICES = `
const SELF = Object.freeze({ mrenclave: 'ab'.repeat(32), mrsigner: 'cd'.repeat(32), productId: 7, securityVersion: 3, debug: false });
export default {
  self: () => SELF,
  async report(reportData, targetInfo) {
    const r = new Uint8Array(432);
    r.set(reportData, 320);
    r[0] = targetInfo === undefined ? 1 : 2;
    return r;
  },
  async quote(reportData) {
    return Uint8Array.of(3, 0, ...reportData);
  },
  async seal(data, options) {
    return Uint8Array.of(0xee, options?.policy === 'MRENCLAVE' ? 1 : 2, ...data);
  },
  async unseal(blob) {
    if (blob[0] !== 0xee) throw Object.assign(new Error('not sealed by us'), { code: 'UNSEAL_FAILED' });
    return { data: blob.subarray(2), additionalData: new Uint8Array(0) };
  },
};
`;

let dir: string;
let runtimePath: string;
let bundlePath: string;
let fakePath: string;
const handles: EnclaveHandle<AnyEcalls>[] = [];

function code(e: unknown): string | undefined {
  return EnclaveError.is(e) ? e.code : undefined;
}

function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'NODE_TEST_CONTEXT' && k !== 'NODE_OPTIONS') env[k] = v;
  delete env.CLOISTER_GRAMINE_FAKE_SERVICES;
  delete env.CLOISTER_ATTESTATION_ROOT;
  return { ...env, ...extra };
}

interface LogEntry {
  level: string;
  obj: Record<string, unknown>;
  message: string | undefined;
}
function collectingLogger(): HostLogger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  return {
    entries,
    info: (obj, message) => entries.push({ level: 'info', obj, message }),
    warn: (obj, message) => entries.push({ level: 'warn', obj, message }),
    error: (obj, message) => entries.push({ level: 'error', obj, message }),
  };
}

async function launch(options: Partial<GramineEnclaveProcessOptions> & { env?: Record<string, string> } = {}): Promise<LooseHandle> {
  const h = await createGramineEnclaveProcess<AnyEcalls>({
    command: process.execPath,
    args: [runtimePath, bundlePath],
    cwd: dir,
    env: childEnv({ CLOISTER_GRAMINE_FAKE_SERVICES: fakePath }),
    ocalls: {
      double: (n: number) => n * 2,
      fail: () => {
        throw new EnclaveError('TIMEOUT', 'the host timed out');
      },
    },
    logger: collectingLogger(),
    ...options,
  });
  handles.push(h);
  return h as unknown as LooseHandle;
}

async function rejectsWith(p: Promise<unknown>, expected: string, message?: RegExp): Promise<EnclaveError> {
  try {
    await p;
  } catch (e) {
    assert.equal(code(e), expected, `expected ${expected}, got ${String(e)}`);
    if (message !== undefined) assert.match((e as Error).message, message);
    return e as EnclaveError;
  }
  assert.fail(`expected a rejection with ${expected}`);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cloister-gramine-rt-'));
  mkdirSync(join(dir, 'src'));
  writeFileSync(
    join(dir, 'enclave.json'),
    JSON.stringify({ name: 'grt', entry: 'src/enclave.ts', heapSizeMiB: 64, debug: false, productId: 7, securityVersion: 3, files: [], env: [] }),
  );
  writeFileSync(join(dir, 'src/enclave.ts'), ENCLAVE_SOURCE);
  fakePath = join(dir, 'fake-services.mjs');
  writeFileSync(fakePath, FAKE_SERVICES);
  const built = await buildEnclave(dir);
  bundlePath = built.bundlePath;
  runtimePath = built.runtimePath;
});

after(async () => {
  await Promise.all(handles.map((h) => h.terminate()));
  rmSync(dir, { recursive: true, force: true });
});

describe('buildEnclave and the Gramine runtime file', () => {
  it('writes dist/enclave-runtime.mjs, self-contained, where the Gramine manifest expects it', () => {
    assert.equal(runtimePath, join(dir, 'dist/enclave-runtime.mjs'));
    assert.ok(existsSync(runtimePath));
    const text = readFileSync(runtimePath, 'utf8');
    assert.doesNotMatch(text, /from ["']@cloister\//, 'no workspace import is left external');
    assert.doesNotMatch(text, /from ["']\.\.?\//, 'no relative import is left external');
    assert.match(text, /GramineAttestation = class/);
    assert.match(text, /CLOISTER_GRAMINE_FAKE_SERVICES/);
  });
});

describe('Gramine runtime over stdio (fake services, no SGX)', () => {
  it('ecalls with structured values; self comes from the enclave', async () => {
    const h = await launch();
    assert.deepEqual([...h.ecallNames].sort(), ['attest', 'echo', 'exit', 'failCode', 'failCustom', 'failPlain', 'garbage', 'hang', 'log', 'ocall', 'ocallFail', 'ocallMissing', 'quote', 'structured']);
    assert.deepEqual(h.self, { mrenclave: 'ab'.repeat(32), mrsigner: 'cd'.repeat(32), productId: 7, securityVersion: 3, debug: false });
    assert.equal(h.health(), 'running');
    assert.equal(await h.ecalls.echo('hi'), 'hi');
    assert.equal(await h.ecalls.echo(), undefined);
    const r = (await h.ecalls.structured({
      when: new Date(Date.UTC(2024, 1, 2)),
      tags: new Set(['b', 'a']),
      counts: new Map([['x', 2], ['y', 5]]),
      bytes: Uint8Array.of(1, 2, 3),
      big: 21n,
    })) as Record<string, unknown>;
    assert.deepEqual(r, { year: 2024, tags: ['a', 'b'], total: 7, reversed: Uint8Array.of(3, 2, 1), big: 42n, nested: { deep: [1, { x: null, y: undefined }] } });
    // Concurrent calls are matched to their own results.
    const many = await Promise.all(Array.from({ length: 50 }, (_, i) => h.ecalls.echo({ i })));
    assert.deepEqual(many, Array.from({ length: 50 }, (_, i) => ({ i })));
  });

  it('ctx.getQuote / getReport / seal / unseal / identity reach the in-enclave services', async () => {
    const h = await launch();
    const data = Uint8Array.of(9, 8, 7);
    const r = (await h.ecalls.attest({ data })) as Record<string, Uint8Array | string | object>;
    assert.deepEqual(r.quote, Uint8Array.of(3, 0, 9, 8, 7));
    const report = r.report as Uint8Array;
    assert.equal(report.length, 432);
    assert.equal(report[0], 1, 'no targetInfo: the report is for the enclave itself');
    assert.deepEqual(report.subarray(320, 323), data);
    assert.deepEqual(r.sealed, Uint8Array.of(0xee, 1, 9, 8, 7));
    assert.deepEqual(r.unsealed, data);
    assert.deepEqual(r.self, h.self);
    assert.equal(r.unsealError, 'UNSEAL_FAILED');
    // Argument checks happen inside before the service is asked.
    await rejectsWith(h.ecalls.quote({ data: new Uint8Array(65) }), 'INVALID_ARGUMENT');
    await rejectsWith(h.ecalls.quote({ data: 'not bytes' }), 'INVALID_ARGUMENT');
  });

  it('ocalls round-trip to the host; their errors and unknown ocalls cross with codes', async () => {
    const h = await launch();
    assert.deepEqual(await h.ecalls.ocall({ n: 21 }), { doubled: 42 });
    await rejectsWith(h.ecalls.ocallFail(), 'TIMEOUT', /the host timed out/);
    assert.equal(await h.ecalls.ocallMissing(), 'UNKNOWN_CALL');
  });

  it('error codes cross; unknown ecalls and oversized payloads are refused', async () => {
    const h = await launch({ maxPayloadBytes: 8192 });
    await rejectsWith(h.ecalls.failCode(), 'POLICY_MISMATCH', /not allowed here/);
    await rejectsWith(h.ecalls.failCustom(), 'APP_SPECIFIC', /app says no/);
    await rejectsWith(h.ecalls.failPlain(), 'CALL_FAILED', /plain/);
    await rejectsWith(h.ecalls.nope(), 'UNKNOWN_CALL');
    await rejectsWith(h.ecalls.echo(new Uint8Array(10_000)), 'PAYLOAD_TOO_LARGE');
    await rejectsWith(h.ecalls.echo(() => 1), 'INVALID_ARGUMENT');
    // Still usable afterwards.
    assert.equal(await h.ecalls.echo(1), 1);
  });

  it('ctx.log reaches the logger; console output goes to stderr, not into the frames', async () => {
    const logger = collectingLogger();
    const h = await launch({ logger });
    assert.equal(await h.ecalls.log(), 'logged');
    assert.equal(await h.ecalls.echo('after'), 'after');
    const deadline = Date.now() + 2000;
    while (!logger.entries.some((e) => e.obj.stream === 'stderr' && /console output/.test(e.message ?? '')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(logger.entries.some((e) => e.level === 'info' && e.message === 'hello from inside' && e.obj.a === 1 && e.obj.enclave === true));
    assert.ok(logger.entries.some((e) => e.obj.stream === 'stderr' && /console output goes to stderr/.test(e.message ?? '')));
    assert.ok(logger.entries.some((e) => /platform services are FAKE/.test(e.message ?? '')), 'the fake hook announces itself');
  });

  it('an enclave that exits → ENCLAVE_CRASHED for pending and later calls', async () => {
    const h = await launch();
    const pending = rejectsWith(h.ecalls.hang(), 'ENCLAVE_CRASHED');
    await rejectsWith(h.ecalls.exit(), 'ENCLAVE_CRASHED');
    await pending;
    await rejectsWith(h.ecalls.echo(1), 'ENCLAVE_CRASHED');
    assert.equal(h.health(), 'crashed');
    const exit = await h.exited;
    assert.deepEqual(exit, { code: 3, signal: null, reason: 'crashed' });
  });

  it('terminate → ENCLAVE_TERMINATED, idempotent', async () => {
    const h = await launch();
    const pending = rejectsWith(h.ecalls.hang(), 'ENCLAVE_TERMINATED');
    await h.terminate();
    await pending;
    await rejectsWith(h.ecalls.echo(1), 'ENCLAVE_TERMINATED');
    assert.equal(h.health(), 'terminated');
    await h.terminate();
    assert.equal((await h.exited).reason, 'terminated');
  });

  it('restart on crash reloads the enclave', async () => {
    const h = await launch({ restart: 'on-crash', restartBackoffMs: 10 });
    await rejectsWith(h.ecalls.exit(), 'ENCLAVE_CRASHED');
    assert.equal(await h.ecalls.echo('again'), 'again');
    assert.equal(h.health(), 'running');
  });

  it('garbage from the enclave on its stdout: the enclave is killed, calls fail with ENCLAVE_PROTOCOL', async () => {
    const logger = collectingLogger();
    const h = await launch({ logger });
    const pending = rejectsWith(h.ecalls.hang(), 'ENCLAVE_PROTOCOL');
    await rejectsWith(h.ecalls.garbage(), 'ENCLAVE_PROTOCOL');
    await pending;
    assert.equal((await h.exited).signal, 'SIGKILL');
    assert.ok(logger.entries.some((e) => e.message === 'enclave channel error: killing the enclave' && /invalid frame length/.test(String(e.obj.err))));
  });

  it('garbage from the host on the enclave stdin: the runtime ignores malformed fields and exits on broken frames', async () => {
    const run = (input: Uint8Array[], later: Uint8Array[] = []): Promise<{ code: number | null; stdout: Buffer; stderr: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [runtimePath, bundlePath], {
          env: childEnv({ CLOISTER_GRAMINE_FAKE_SERVICES: fakePath }),
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        const out: Buffer[] = [];
        let err = '';
        child.stdout.on('data', (b: Buffer) => out.push(b));
        child.stderr.on('data', (b: Buffer) => (err += b.toString()));
        child.on('exit', (c) => resolve({ code: c, stdout: Buffer.concat(out), stderr: err }));
        for (const chunk of input) child.stdin.write(chunk);
        setTimeout(() => {
          for (const chunk of later) child.stdin.write(chunk);
        }, 700);
        setTimeout(() => child.stdin.end(), 1500);
      });
    // Protocol messages with malformed fields are ignored; the load still works.
    const ok = await run([
      encodeFrame({ t: 'ecall', id: -1, name: 'echo' }),
      encodeFrame({ t: 'reply', id: 99, ok: true }),
      encodeFrame({ t: 'sdata', sid: 7, data: 'x' }),
      encodeFrame({ t: 'load', maxPayloadBytes: 'big' }),
      encodeFrame({ t: 'load', bundlePath: '/etc/passwd', maxPayloadBytes: 65536 }),
      encodeFrame({ t: 'load', maxPayloadBytes: 65536 }),
    ], [encodeFrame({ t: 'ecall', id: 1, name: 'echo', args: 'x' })]);
    assert.equal(ok.code, 0, ok.stderr);
    const replies: unknown[] = [];
    const sink = new PassThrough();
    const ch = createStdioChannel(sink, new PassThrough());
    ch.onMessage((m) => replies.push(m));
    sink.write(ok.stdout);
    const ready = replies[0] as { t: string; ecalls: string[]; self: unknown };
    assert.equal(ready.t, 'ready');
    assert.ok(ready.ecalls.includes('attest'), "the bundle is argv's, not the host's bundlePath");
    assert.equal(replies.length, 2, 'one load only');
    assert.deepEqual(replies[1], { t: 'result', id: 1, ok: true, value: 'x' });

    // A frame that is not a message of its kind ends the channel (strict framing).
    const notMessage = await run([encodeFrame(42)]);
    assert.equal(notMessage.code, 71);
    assert.match(notMessage.stderr, /does not carry a message of that kind/);
    const wrongKind = await run([encodeFrame({ t: 'ecall', id: 1, name: 'echo' }, undefined, 3)]);
    assert.equal(wrongKind.code, 71);
    assert.match(wrongKind.stderr, /does not carry a message of that kind/);
    const unknownKind = await run([Uint8Array.of(1, 0, 0, 0, 9, 0)]);
    assert.equal(unknownKind.code, 71);
    assert.match(unknownKind.stderr, /unknown kind 9/);
    const zero = await run([Uint8Array.of(0, 0, 0, 0, 1)]);
    assert.equal(zero.code, 71);
    assert.match(zero.stderr, /invalid frame length 0/);
    const huge = await run([Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1)]);
    assert.equal(huge.code, 71);
    assert.match(huge.stderr, /invalid frame length/);
    const bad = await run([Uint8Array.of(3, 0, 0, 0, 1, 0xff, 0x0f, 0x99)]);
    assert.equal(bad.code, 71);
    assert.match(bad.stderr, /does not deserialize/);
    const truncated = await run([Uint8Array.of(10, 0, 0, 0, 1, 1, 2)]);
    assert.equal(truncated.code, 71);
    assert.match(truncated.stderr, /ended inside a frame/);
  });
});

describe('stdio channel', () => {
  it('reassembles frames split across and merged within chunks; bounds and errors', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const ch = createStdioChannel(input, output, { maxFrameBytes: 1024, strict: false });
    const got: unknown[] = [];
    ch.onMessage((m) => got.push(m));
    const frames = Buffer.concat([encodeFrame({ a: 1 }), encodeFrame(new Map([[1, 'x']])), encodeFrame('third')]);
    for (const b of frames) input.write(Buffer.of(b));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(got, [{ a: 1 }, new Map([[1, 'x']]), 'third']);

    assert.throws(() => ch.send(new Uint8Array(2000)), (e) => code(e) === 'PAYLOAD_TOO_LARGE');
    assert.throws(() => ch.send({ f: () => 1 }), (e) => code(e) === 'INVALID_ARGUMENT');
    assert.equal(ch.send({ t: 'x' }), true);
    const written = output.read() as Buffer;
    assert.equal(written.readUInt32LE(0), written.length - 5);
    assert.equal(written[4], 1, "an unknown type is framed as control (kind 1)");
    assert.deepEqual(written.subarray(5), serialize({ t: 'x' }));

    let closedWith: Error | undefined | null = null;
    ch.onClose((e) => (closedWith = e));
    input.write(Buffer.of(0x01, 0x04, 0, 0, 1)); // 1025 > 1024
    await new Promise((r) => setImmediate(r));
    assert.ok(ch.closed);
    assert.match(String(closedWith), /invalid frame length 1025/);
    assert.equal(ch.send({ t: 'late' }), false);
    input.write(encodeFrame({ after: true }));
    await new Promise((r) => setImmediate(r));
    assert.equal(got.length, 3, 'nothing is delivered after a close');
  });
});

describe('without fake services or SGX', () => {
  it('an empty CLOISTER_ATTESTATION_ROOT: the enclave starts, attestation fails with BACKEND_UNAVAILABLE on the host', async () => {
    const root = join(dir, 'empty-attestation');
    mkdirSync(root, { recursive: true });
    const h = await launch({ env: childEnv({ CLOISTER_ATTESTATION_ROOT: root }) });
    assert.equal(await h.ecalls.echo('up'), 'up');
    assert.throws(() => h.self, (e) => code(e) === 'BACKEND_UNAVAILABLE');
    const e = await rejectsWith(h.ecalls.quote({ data: Uint8Array.of(1) }), 'BACKEND_UNAVAILABLE', /not running under gramine-sgx/);
    assert.ok(EnclaveError.is(e));
  });

  it('createEnclave(dir, { backend: "gramine" }) runs the given command, and refuses a missing one', async () => {
    await rejectsWith(
      createEnclave(dir, { backend: 'gramine', gramineCommand: ['/nonexistent/gramine-sgx'] }),
      'BACKEND_UNAVAILABLE',
      /\/nonexistent\/gramine-sgx not found: install Gramine, or use the sim backend/,
    );
    await rejectsWith(
      createEnclave(dir, { backend: 'gramine', gramineCommand: ['no-such-gramine-sgx-here'] }),
      'BACKEND_UNAVAILABLE',
      /not found/,
    );
    const h = await createEnclave(dir, { backend: 'gramine', gramineCommand: [process.execPath, runtimePath, bundlePath] });
    handles.push(h as unknown as EnclaveHandle<AnyEcalls>);
    assert.equal(await (h.ecalls as unknown as LooseHandle['ecalls']).echo(5), 5);
    await h.terminate();
  });
});
