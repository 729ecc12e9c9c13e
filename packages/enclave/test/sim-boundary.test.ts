/**
 * The sim backend's process boundary (src/host/create-sim-enclave.ts ⇄ src/runtime/enclave-main.ts).
 *
 * Test bundles are plain ESM .mjs files written to temp dirs. Real bundles have defineEnclave inlined by esbuild;
 * these import it (and EnclaveError) by absolute file URL from this build's src folder, which the enclave process may
 * read because the runtime itself imports those files (RUNTIME_FILES).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnclaveError } from '../src/errors.js';
import {
  createSimEnclaveProcess,
  simEnclaveExecArgv,
  type EnclaveHandle,
  type HostLogger,
  type SimEnclaveProcessOptions,
} from '../src/host/create-sim-enclave.js';
import { defineEnclave } from '../src/define.js';
import type { EcallHandler, EnclaveSelf, EnclaveServices, SealOptions } from '../src/types.js';

const DEFINE_URL = new URL('../src/define.js', import.meta.url).href;
const ERRORS_URL = new URL('../src/errors.js', import.meta.url).href;

type AnyEcalls = Record<string, EcallHandler<never, unknown>>;
// Loosely typed host view for tests: every ecall (declared or not) takes an optional argument.
type Names =
  | 'echo' | 'count' | 'big' | 'nothing' | 'failPolicy' | 'failCode' | 'failPlain' | 'failString' | 'returnFunction'
  | 'delay' | 'read' | 'write' | 'spawn' | 'worker' | 'env' | 'ocall' | 'ocallCatch' | 'services' | 'log' | 'ping'
  | 'hang' | 'exit' | 'timerThrow' | 'incr' | 'nope' | 'hasOwnProperty' | '__proto__';
type LooseHandle = Omit<EnclaveHandle<AnyEcalls>, 'ecalls'> & {
  readonly ecalls: Record<Names, (args?: unknown) => Promise<unknown>>;
};

let dir: string;
function bundle(name: string, body: string): string {
  const path = join(dir, `${name}.mjs`);
  writeFileSync(
    path,
    `import { defineEnclave } from ${JSON.stringify(DEFINE_URL)};\nimport { EnclaveError } from ${JSON.stringify(ERRORS_URL)};\n${body}\n`,
  );
  return path;
}

const SELF: EnclaveSelf = { mrenclave: 'ab'.repeat(32), mrsigner: 'cd'.repeat(32), productId: 7, securityVersion: 3, debug: true };

interface FakeServices extends EnclaveServices {
  readonly calls: Array<{ op: string; args: unknown[] }>;
}
function fakeServices(): FakeServices {
  const calls: Array<{ op: string; args: unknown[] }> = [];
  return {
    calls,
    self() {
      calls.push({ op: 'self', args: [] });
      return SELF;
    },
    async report(reportData: Uint8Array, targetInfo?: Uint8Array) {
      calls.push({ op: 'report', args: [reportData, targetInfo] });
      const r = new Uint8Array(432);
      r.set(reportData, 320);
      return r;
    },
    async quote(reportData: Uint8Array) {
      calls.push({ op: 'quote', args: [reportData] });
      return new Uint8Array([3, 0, ...reportData]);
    },
    async seal(data: Uint8Array, options?: SealOptions) {
      calls.push({ op: 'seal', args: [data, options] });
      return new Uint8Array([0xee, ...data]);
    },
    async unseal(blob: Uint8Array) {
      calls.push({ op: 'unseal', args: [blob] });
      if (blob[0] !== 0xee) throw new EnclaveError('UNSEAL_FAILED', 'not sealed by us');
      return { data: blob.subarray(1), additionalData: new Uint8Array(0) };
    },
  };
}

function recordingLogger(): HostLogger & { lines: Array<{ level: string; obj: Record<string, unknown>; message?: string }> } {
  const lines: Array<{ level: string; obj: Record<string, unknown>; message?: string }> = [];
  const at = (level: string) => (obj: Record<string, unknown>, message?: string) => {
    lines.push(message === undefined ? { level, obj } : { level, obj, message });
  };
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

const handles: LooseHandle[] = [];
async function start(bundlePath: string, extra: Partial<SimEnclaveProcessOptions> = {}): Promise<LooseHandle> {
  const h = (await createSimEnclaveProcess<AnyEcalls>({
    bundlePath,
    services: fakeServices(),
    heapSizeMiB: 64,
    logger: recordingLogger(),
    ...extra,
  })) as LooseHandle;
  handles.push(h);
  return h;
}

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<EnclaveError> {
  try {
    await p;
  } catch (err) {
    assert.ok(EnclaveError.is(err), `expected an EnclaveError, got ${String(err)}`);
    assert.equal(err.code, code, `code (message: ${err.message})`);
    if (message !== undefined) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected a rejection with ${code}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cloister-sim-boundary-'));
});
after(async () => {
  await Promise.all(handles.map((h) => h.terminate()));
  rmSync(dir, { recursive: true, force: true });
});

describe('defineEnclave', () => {
  it('freezes a valid definition and rejects non-functions', () => {
    const def = defineEnclave({ ecalls: { a: () => 1 } });
    assert.ok(Object.isFrozen(def) && Object.isFrozen(def.ecalls));
    assert.throws(() => defineEnclave({ ecalls: { a: 1 } as never }), (e: unknown) => EnclaveError.is(e) && e.code === 'INVALID_MANIFEST');
    assert.throws(() => defineEnclave({ ecalls: null as never }), (e: unknown) => EnclaveError.is(e) && e.code === 'INVALID_MANIFEST');
  });
});

describe('sim enclave boundary', () => {
  let main: LooseHandle;
  let services: FakeServices;
  let logger: ReturnType<typeof recordingLogger>;
  let declared: string;
  let declaredDir: string;
  let undeclared: string;
  const ocallsSeen: unknown[] = [];

  before(async () => {
    declared = join(dir, 'declared.txt');
    writeFileSync(declared, 'declared-content');
    declaredDir = join(dir, 'data');
    mkdirSync(declaredDir);
    writeFileSync(join(declaredDir, 'inner.txt'), 'inner-content');
    undeclared = join(dir, 'secret.txt');
    writeFileSync(undeclared, 'secret');
    services = fakeServices();
    logger = recordingLogger();
    const path = bundle(
      'main',
      `
import fs from 'node:fs';
import cp from 'node:child_process';
import { Worker } from 'node:worker_threads';
let count = 0;
export default defineEnclave({ ecalls: {
  echo: (a) => { count++; return a; },
  count: () => count,
  big: (n) => new Uint8Array(n),
  nothing: () => undefined,
  failPolicy: () => { throw new EnclaveError('POLICY_MISMATCH', 'mrsigner not allowed'); },
  failCode: async () => { throw { code: 'X', message: 'custom' }; },
  failPlain: () => { throw new Error('plain failure'); },
  failString: () => { throw 'just a string'; },
  returnFunction: () => ({ f() {} }),
  delay: async ({ ms, v }) => { await new Promise((r) => setTimeout(r, ms)); return v; },
  read: (p) => fs.readFileSync(p, 'utf8'),
  write: (p) => { fs.writeFileSync(p, 'x'); return 'written'; },
  spawn: () => { cp.spawnSync('/bin/true'); return 'spawned'; },
  worker: () => { new Worker('setTimeout(() => {}, 10)', { eval: true }); return 'worker'; },
  env: () => ({ ...process.env }),
  ocall: async ({ name, args }, ctx) => ctx.ocall(name, args),
  ocallCatch: async ({ name, args }, ctx) => {
    try { return { ok: true, value: await ctx.ocall(name, args) }; }
    catch (e) { return { ok: false, code: e.code, message: e.message, isEnclaveError: EnclaveError.is(e) }; }
  },
  services: async (_a, ctx) => {
    const rd = new Uint8Array(64).fill(9);
    const report = await ctx.getReport(rd);
    const targeted = await ctx.getReport(rd.subarray(0, 8), new Uint8Array(512));
    const quote = await ctx.getQuote(rd.subarray(0, 4));
    const self = await ctx.identity();
    const sealed = await ctx.seal(new Uint8Array([1, 2, 3]), { policy: 'MRENCLAVE', additionalData: new Uint8Array([5]) });
    const unsealed = await ctx.unseal(sealed);
    let unsealError;
    try { await ctx.unseal(new Uint8Array([1])); } catch (e) { unsealError = e.code; }
    let reportError;
    try { await ctx.getReport(new Uint8Array(65)); } catch (e) { reportError = e.code; }
    return { reportLen: report.length, targetedLen: targeted.length, quote, self, sealed, unsealed, unsealError, reportError };
  },
  log: (m, ctx) => { ctx.log.info(m, { k: 1 }); ctx.log.warn('w'); ctx.log.error('e', { bad: () => 1 }); return 'logged'; },
}});
`,
    );
    main = await start(path, {
      services,
      logger,
      readablePaths: [declared, declaredDir],
      env: { ALLOWED_ONE: 'one', ALLOWED_TWO: 'two' },
      maxPayloadBytes: 256 * 1024,
      ocalls: {
        add: (args: never) => {
          const { a, b } = args as { a: number; b: number };
          ocallsSeen.push(args);
          return a + b;
        },
        bytes: async (n: never) => new Uint8Array(n as number).fill(1),
        fails: () => {
          throw new EnclaveError('ATTESTATION_FAILED', 'no AESM here');
        },
        failsPlain: async () => {
          throw new Error('host side broke');
        },
      },
    });
  });

  it('reports ready ecalls, identity and health', () => {
    assert.equal(main.health(), 'running');
    assert.deepEqual(main.self, SELF);
    assert.ok(main.ecallNames.includes('echo') && main.ecallNames.includes('services'));
  });

  it('carries structured values both ways', async () => {
    const value = {
      bytes: new Uint8Array([1, 2, 255]),
      map: new Map<unknown, unknown>([['k', { nested: [1, 'two', null] }], [3, new Set([4])]]),
      date: new Date(1_700_000_000_000),
      big: 12345678901234567890n,
      nested: { deep: { deeper: [undefined, true, -0, Number.NaN] } },
      re: /ab+c/gi,
    };
    const got = (await main.ecalls.echo(value)) as typeof value;
    assert.ok(got.bytes instanceof Uint8Array);
    assert.deepEqual([...got.bytes], [1, 2, 255]);
    assert.ok(got.map instanceof Map);
    assert.deepEqual(got.map.get('k'), { nested: [1, 'two', null] });
    assert.ok(got.map.get(3) instanceof Set);
    assert.ok(got.date instanceof Date && got.date.getTime() === value.date.getTime());
    assert.equal(got.big, value.big);
    assert.deepEqual(got.nested, value.nested);
    assert.ok(got.re instanceof RegExp && got.re.source === 'ab+c');
    assert.equal(await main.ecalls.echo('text'), 'text');
    assert.equal(await main.ecalls.nothing(), undefined);
    assert.equal(await main.ecalls.echo(), undefined);
  });

  it('refuses uncloneable arguments before sending (INVALID_ARGUMENT)', async () => {
    const before = await main.ecalls.count();
    await rejectsWith(main.ecalls.echo(() => 1), 'INVALID_ARGUMENT');
    await rejectsWith(main.ecalls.echo(Symbol('s')), 'INVALID_ARGUMENT');
    await rejectsWith(main.ecalls.echo({ nested: { fn: () => 1 } }), 'INVALID_ARGUMENT');
    assert.equal(await main.ecalls.count(), before, 'nothing reached the enclave');
    await rejectsWith(main.ecalls.returnFunction(), 'INVALID_ARGUMENT');
  });

  it('enforces the payload limit both ways (PAYLOAD_TOO_LARGE)', async () => {
    const before = await main.ecalls.count();
    await rejectsWith(main.ecalls.echo(new Uint8Array(300 * 1024)), 'PAYLOAD_TOO_LARGE');
    assert.equal(await main.ecalls.count(), before);
    assert.equal(((await main.ecalls.echo(new Uint8Array(200 * 1024))) as Uint8Array).length, 200 * 1024);
    await rejectsWith(main.ecalls.big(300 * 1024), 'PAYLOAD_TOO_LARGE');
    const r = (await main.ecalls.ocallCatch({ name: 'bytes', args: 300 * 1024 })) as { code: string };
    assert.equal(r.code, 'PAYLOAD_TOO_LARGE', 'an over-limit ocall reply is refused by the host');
  });

  it('errors cross with their codes, never with stacks', async () => {
    await rejectsWith(main.ecalls.failPolicy(), 'POLICY_MISMATCH', /mrsigner not allowed/);
    await rejectsWith(main.ecalls.failCode(), 'X', /custom/);
    const plain = await rejectsWith(main.ecalls.failPlain(), 'CALL_FAILED', /^plain failure$/);
    assert.doesNotMatch(plain.message, /at |\.mjs/);
    await rejectsWith(main.ecalls.failString(), 'CALL_FAILED', /just a string/);
  });

  it('rejects unknown ecalls (UNKNOWN_CALL)', async () => {
    await rejectsWith(main.ecalls.nope(), 'UNKNOWN_CALL');
    await rejectsWith(main.ecalls['__proto__'](), 'UNKNOWN_CALL');
    await rejectsWith(main.ecalls.hasOwnProperty(), 'UNKNOWN_CALL');
    assert.equal((main.ecalls as Record<string, unknown>).then, undefined, 'the ecalls object is not a thenable');
  });

  it('round-trips ocalls, including failures the enclave can catch', async () => {
    assert.equal(await main.ecalls.ocall({ name: 'add', args: { a: 2, b: 40 } }), 42);
    assert.deepEqual(ocallsSeen.at(-1), { a: 2, b: 40 });
    assert.deepEqual(await main.ecalls.ocallCatch({ name: 'fails' }), {
      ok: false,
      code: 'ATTESTATION_FAILED',
      message: 'no AESM here',
      isEnclaveError: true,
    });
    assert.deepEqual(await main.ecalls.ocallCatch({ name: 'failsPlain' }), {
      ok: false,
      code: 'CALL_FAILED',
      message: 'host side broke',
      isEnclaveError: true,
    });
    const unknown = (await main.ecalls.ocallCatch({ name: 'missing' })) as { code: string };
    assert.equal(unknown.code, 'UNKNOWN_CALL');
    const proto = (await main.ecalls.ocallCatch({ name: 'toString' })) as { code: string };
    assert.equal(proto.code, 'UNKNOWN_CALL', 'inherited properties are not ocalls');
    // An uncaught ocall failure propagates out of the ecall with the ocall's code.
    await rejectsWith(main.ecalls.ocall({ name: 'fails' }), 'ATTESTATION_FAILED');
  });

  it('reaches the platform services (report, quote, self, seal, unseal)', async () => {
    services.calls.length = 0;
    const r = (await main.ecalls.services()) as Record<string, unknown>;
    assert.equal(r.reportLen, 432);
    assert.equal(r.targetedLen, 432);
    assert.deepEqual([...(r.quote as Uint8Array)], [3, 0, 9, 9, 9, 9]);
    assert.deepEqual(r.self, SELF);
    assert.deepEqual([...(r.sealed as Uint8Array)], [0xee, 1, 2, 3]);
    assert.deepEqual([...(r.unsealed as { data: Uint8Array }).data], [1, 2, 3]);
    assert.equal(r.unsealError, 'UNSEAL_FAILED');
    assert.equal(r.reportError, 'INVALID_ARGUMENT');
    assert.deepEqual(
      services.calls.map((c) => c.op),
      ['report', 'report', 'quote', 'self', 'seal', 'unseal', 'unseal'],
    );
    const report0 = services.calls[0]!;
    assert.equal((report0.args[0] as Uint8Array).length, 64);
    assert.equal(report0.args[1], undefined);
    assert.equal((services.calls[1]!.args[1] as Uint8Array).length, 512);
    assert.deepEqual(services.calls[4]!.args[1], { policy: 'MRENCLAVE', additionalData: new Uint8Array([5]) });
  });

  it('forwards ctx.log to the host logger', async () => {
    assert.equal(await main.ecalls.log('hello from inside'), 'logged');
    await sleep(20);
    const info = logger.lines.find((l) => l.message === 'hello from inside');
    assert.ok(info !== undefined && info.level === 'info');
    assert.equal(info.obj.k, 1);
    assert.equal(info.obj.enclave, true);
    assert.ok(logger.lines.some((l) => l.level === 'warn' && l.message === 'w'));
    assert.ok(logger.lines.some((l) => l.level === 'error' && l.message === 'e' && l.obj.fieldsDropped === true));
  });

  it('reads only declared files', async () => {
    assert.equal(await main.ecalls.read(declared), 'declared-content');
    assert.equal(await main.ecalls.read(join(declaredDir, 'inner.txt')), 'inner-content');
    await rejectsWith(main.ecalls.read(undeclared), 'ERR_ACCESS_DENIED');
    await rejectsWith(main.ecalls.read('/etc/hostname'), 'ERR_ACCESS_DENIED');
    await rejectsWith(main.ecalls.read('/etc/passwd'), 'ERR_ACCESS_DENIED');
  });

  it('cannot write files, spawn processes or start workers', async () => {
    const target = join(dir, 'written-by-enclave.txt');
    await rejectsWith(main.ecalls.write(target), 'ERR_ACCESS_DENIED');
    await rejectsWith(main.ecalls.write(declared), 'ERR_ACCESS_DENIED');
    assert.equal(existsSync(target), false);
    await rejectsWith(main.ecalls.spawn(), 'ERR_ACCESS_DENIED');
    await rejectsWith(main.ecalls.worker(), 'ERR_ACCESS_DENIED');
  });

  it('sees only the allowlisted environment', async () => {
    assert.deepEqual(await main.ecalls.env(), { ALLOWED_ONE: 'one', ALLOWED_TWO: 'two' });
  });

  it('answers 100 concurrent ecalls', async () => {
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => main.ecalls.delay({ ms: (i * 7) % 13, v: { i, payload: new Uint8Array([i]) } })),
    );
    results.forEach((r, i) => {
      const v = r as { i: number; payload: Uint8Array };
      assert.equal(v.i, i);
      assert.equal(v.payload[0], i);
    });
  });

  it('passes a tight permission argv', () => {
    const argv = simEnclaveExecArgv({ bundlePath: join(dir, 'main.mjs'), readablePaths: [declared], heapSizeMiB: 96 });
    assert.ok(argv.includes('--experimental-permission'));
    assert.ok(argv.includes('--max-old-space-size=96'));
    assert.ok(!argv.some((a) => /allow-(fs-write|child-process|worker|addons|wasi)/.test(a)));
    assert.ok(argv.filter((a) => a.startsWith('--allow-fs-read=')).every((a) => !a.endsWith('=/')));
  });
});

describe('sim enclave lifecycle', () => {
  const lifecycle = `
let n = 0;
export default defineEnclave({ ecalls: {
  ping: (a) => a,
  hang: () => new Promise(() => {}),
  exit: (code) => { setTimeout(() => process.exit(code), 10); return new Promise(() => {}); },
  timerThrow: () => { setTimeout(() => { throw new Error('boom in a timer'); }, 5); return 'scheduled'; },
  incr: () => ++n,
}});
`;

  it('fails every pending call with ENCLAVE_CRASHED when the process exits', async () => {
    const h = await start(bundle('crash-exit', lifecycle));
    const pending = [h.ecalls.hang(), h.ecalls.hang(), h.ecalls.exit(3)];
    await Promise.all(pending.map((p) => rejectsWith(p, 'ENCLAVE_CRASHED')));
    assert.equal(h.health(), 'crashed');
    const exit = await h.exited;
    assert.equal(exit.code, 3);
    assert.equal(exit.reason, 'crashed');
    await rejectsWith(h.ecalls.ping(1), 'ENCLAVE_CRASHED');
  });

  it('treats an uncaught throw in a timer as a crash', async () => {
    const logger = recordingLogger();
    const h = await start(bundle('crash-timer', lifecycle), { logger });
    const hanging = h.ecalls.hang();
    assert.equal(await h.ecalls.timerThrow(), 'scheduled');
    await rejectsWith(hanging, 'ENCLAVE_CRASHED');
    assert.equal(h.health(), 'crashed');
    await h.exited;
    await sleep(20);
    assert.ok(logger.lines.some((l) => l.obj.stream === 'stderr' && /boom in a timer/.test(l.message ?? '')), 'stderr reaches the logger');
  });

  it("restarts on crash with restart: 'on-crash'", async () => {
    const h = await start(bundle('restart', lifecycle), { restart: 'on-crash', restartBackoffMs: 20 });
    const exits: unknown[] = [];
    const restarted: number[] = [];
    h.on('exit', (e) => exits.push(e));
    h.on('restart', (n) => restarted.push(n));
    assert.equal(await h.ecalls.incr(), 1);
    assert.equal(await h.ecalls.incr(), 2);
    await rejectsWith(h.ecalls.exit(5), 'ENCLAVE_CRASHED');
    assert.equal(h.health(), 'crashed');
    // A call made during the restart waits for the new process (fresh state).
    assert.equal(await h.ecalls.incr(), 1);
    assert.equal(h.health(), 'running');
    assert.deepEqual(restarted, [1]);
    assert.equal((exits[0] as { code: number }).code, 5);
    // And again.
    await rejectsWith(h.ecalls.exit(6), 'ENCLAVE_CRASHED');
    assert.equal(await h.ecalls.ping('back'), 'back');
    await h.terminate();
    assert.equal(h.health(), 'terminated');
    assert.equal((await h.exited).reason, 'terminated');
  });

  it('gives up after maxRestarts consecutive crashes', async () => {
    const h = await start(bundle('restart-limit', lifecycle), { restart: 'on-crash', restartBackoffMs: 10, maxRestarts: 1 });
    await rejectsWith(h.ecalls.exit(7), 'ENCLAVE_CRASHED');
    assert.equal(await h.ecalls.ping(1), 1, 'first restart');
    await rejectsWith(h.ecalls.exit(8), 'ENCLAVE_CRASHED');
    const exit = await h.exited;
    assert.equal(exit.code, 8);
    assert.equal(h.health(), 'crashed');
    await rejectsWith(h.ecalls.ping(2), 'ENCLAVE_CRASHED');
  });

  it('terminate() fails pending and later calls with ENCLAVE_TERMINATED', async () => {
    const h = await start(bundle('terminate', lifecycle));
    const pending = [h.ecalls.hang(), h.ecalls.hang()].map((p) => rejectsWith(p, 'ENCLAVE_TERMINATED'));
    await h.terminate();
    await Promise.all(pending);
    await rejectsWith(h.ecalls.ping(1), 'ENCLAVE_TERMINATED');
    assert.equal(h.health(), 'terminated');
    await h.terminate(); // idempotent
  });

  it('times out calls when callTimeoutMs is set', async () => {
    const h = await start(bundle('timeout', lifecycle), { callTimeoutMs: 100 });
    await rejectsWith(h.ecalls.hang(), 'ENCLAVE_TIMEOUT');
    assert.equal(await h.ecalls.ping(2), 2);
  });

  it('rejects bundles without a valid definition (INVALID_MANIFEST)', async () => {
    await rejectsWith(start(bundle('no-default', 'export const x = 1;')), 'INVALID_MANIFEST');
    await rejectsWith(start(bundle('bad-ecall', 'export default { ecalls: { a: 1 } };')), 'INVALID_MANIFEST');
    await rejectsWith(start(bundle('throws', "throw new Error('top-level');")), 'INVALID_MANIFEST', /top-level/);
    // A bundle reaching for an undeclared file at load time fails with the permission error.
    await rejectsWith(start(bundle('reads', "import fs from 'node:fs'; fs.readFileSync('/etc/hostname');")), 'ERR_ACCESS_DENIED');
  });

  it('refuses loader-affecting environment variables', async () => {
    await rejectsWith(start(bundle('env', lifecycle), { env: { NODE_OPTIONS: '--require=/x' } }), 'ENV_NOT_ALLOWED');
  });
});
