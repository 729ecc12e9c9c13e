/**
 * Hostile enclaves on the sim backend (issue 10 §1, docs/security.md "Enclave sim backend"): one test per class.
 * Each builds its own hostile bundle, asserts the host's typed error code, and that the host then starts a fresh
 * enclave that answers. The host is this test process: it surviving each test is part of every assertion.
 *
 * Runs as root here: the privileged sandbox (PID + network namespaces, uid 65534) is what `sandbox: 'auto'` gives;
 * the tests that matter without privilege also run with `sandbox: 'unprivileged'`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { Platform, createSimPki } from '@cloister/sgx-sim';
import { EnclaveError } from '../src/errors.js';
import { createSimEnclaveProcess, type EnclaveHandle, type HostLogger, type SimEnclaveProcessOptions } from '../src/host/create-sim-enclave.js';
import { deepestChild } from '../src/host/memory-watchdog.js';
import { buildEnclave } from '../src/package/build.js';
import { envNameRefusal } from '../src/package/env-policy.js';
import { validateEnclaveJson } from '../src/package/manifest.js';
import type { EcallHandler, EnclaveSelf, EnclaveServices } from '../src/types.js';

const DEFINE_URL = new URL('../src/define.js', import.meta.url).href;
const HOST_URL = new URL('../src/host/create-sim-enclave.js', import.meta.url).href;
const IS_ROOT = process.getuid?.() === 0;

type AnyEcalls = Record<string, EcallHandler<never, unknown>>;
type Loose = Omit<EnclaveHandle<AnyEcalls>, 'ecalls'> & { readonly ecalls: Record<string, (args?: unknown) => Promise<unknown>> };

const SELF: EnclaveSelf = { mrenclave: 'ab'.repeat(32), mrsigner: 'cd'.repeat(32), productId: 1, securityVersion: 1, debug: true };
const services: EnclaveServices = {
  self: () => SELF,
  report: async () => new Uint8Array(432),
  quote: async () => new Uint8Array(1),
  seal: async (d) => d,
  unseal: async (b) => ({ data: b, additionalData: new Uint8Array(0) }),
};

function recordingLogger(): HostLogger & { lines: Array<{ level: string; obj: Record<string, unknown>; message?: string }> } {
  const lines: Array<{ level: string; obj: Record<string, unknown>; message?: string }> = [];
  const at = (level: string) => (obj: Record<string, unknown>, message?: string) => {
    lines.push(message === undefined ? { level, obj } : { level, obj, message });
  };
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

let dir: string;
/** A bundle with `ping` plus the given ecalls (and an optional onConnection), importing defineEnclave by URL. */
function bundle(name: string, ecalls: string, extra = '', onConnection = ''): string {
  const path = join(dir, `${name}.mjs`);
  writeFileSync(
    path,
    `import { defineEnclave } from ${JSON.stringify(DEFINE_URL)};
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import v8 from 'node:v8';
/** Write raw bytes to the host channel (fd 3, non-blocking), bypassing the runtime. */
const raw = (bytes) => {
  for (let at = 0; at < bytes.length; ) {
    try { at += fs.writeSync(3, bytes, at); } catch (e) { if (e.code !== 'EAGAIN') throw e; }
  }
};
const header = (length, kind) => { const h = Buffer.alloc(5); h.writeUInt32LE(length, 0); h[4] = kind; return h; };
const never = () => new Promise(() => {});
${extra}
export default defineEnclave({ ecalls: { ping: (a) => a, ${ecalls} }${onConnection === '' ? '' : `, onConnection: ${onConnection}`} });
`,
  );
  return path;
}

const handles: Loose[] = [];
async function start(bundlePath: string, extra: Partial<SimEnclaveProcessOptions> = {}): Promise<Loose> {
  const h = (await createSimEnclaveProcess<AnyEcalls>({
    bundlePath,
    services,
    heapSizeMiB: 64,
    logger: recordingLogger(),
    restart: 'on-crash',
    restartBackoffMs: 10,
    ...extra,
  })) as Loose;
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

/** The same handle has restarted a fresh enclave that answers. */
async function answersAgain(h: Loose): Promise<void> {
  assert.equal(await h.ecalls.ping!('fresh'), 'fresh');
  assert.equal(h.health(), 'running');
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cloister-hostile-'));
});
after(async () => {
  await Promise.all(handles.map((h) => h.terminate()));
  rmSync(dir, { recursive: true, force: true });
});

describe('hostile enclaves (sim backend)', () => {
  it('bytes that are not the protocol on the channel fd end the enclave with ENCLAVE_PROTOCOL, never the host', async () => {
    const path = bundle(
      'protocol',
      `
      hang: () => never(),
      tenBytes: () => { raw(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])); return never(); },
      hugeResult: () => { raw(header(2 ** 30, 2)); return never(); },
      hugeLog: () => { raw(header(1024 * 1024, 3)); return never(); },
      zero: () => { raw(header(0, 2)); return never(); },
      notV8: () => { raw(Buffer.concat([header(3, 2), Buffer.from([0xff, 0x0f, 0x99])])); return never(); },
      wrongKind: () => { const p = v8.serialize({ t: 'result', id: 1, ok: true, value: 1 }); raw(Buffer.concat([header(p.length, 3), p])); return never(); },
      truncated: () => { raw(header(100, 2)); raw(new Uint8Array(10)); process.exit(0); },
      windowBreach: async (_a, ctx) => {
        // Stream data on a stream the host never opened, past the window: malformed chunk sizes are violations.
        const p = v8.serialize({ t: 'sdata', sid: 1, data: new Uint8Array(70 * 1024) });
        raw(Buffer.concat([header(p.length, 4), p]));
        return never();
      },
    `,
    );
    const h = await start(path, { maxRestarts: 50 });
    const rssBefore = process.memoryUsage().rss;
    for (const [name, message] of [
      ['tenBytes', /frame/],
      ['hugeResult', /invalid frame length 1073741824/],
      ['hugeLog', /invalid frame length 1048576 for kind 3/],
      ['zero', /invalid frame length 0/],
      ['notV8', /does not deserialize/],
      ['wrongKind', /does not carry a message of that kind/],
      ['truncated', /ended inside a frame|closed inside a frame/],
      ['windowBreach', /invalid frame length|malformed/],
    ] as const) {
      const pending = rejectsWith(h.ecalls.hang!(), 'ENCLAVE_PROTOCOL');
      await rejectsWith(h.ecalls[name]!(), 'ENCLAVE_PROTOCOL', message);
      await pending;
      await answersAgain(h);
    }
    // A 1 GiB frame header was refused before anything was allocated for it.
    assert.ok(process.memoryUsage().rss - rssBefore < 256 * 1024 * 1024, 'host memory did not follow the enclave');
    const exits: unknown[] = [];
    h.on('exit', (e) => exits.push(e));
    await rejectsWith(h.ecalls.tenBytes!(), 'ENCLAVE_PROTOCOL');
    assert.equal((exits[0] as { error?: string }).error, 'ENCLAVE_PROTOCOL');
    await answersAgain(h);
  });

  for (const sandbox of ['auto', 'unprivileged'] as const) {
    it(`enclave code cannot signal its host or other processes (sandbox: ${sandbox})`, async () => {
      const sibling = spawn('sleep', ['30'], { stdio: 'ignore' });
      try {
        const path = bundle(
          `signals-${sandbox}`,
          `
      attack: ({ sibling }) => {
        const tries = {};
        const attempt = (name, fn) => { try { fn(); tries[name] = 'done'; } catch (e) { tries[name] = e.code ?? String(e); } };
        attempt('killParent', () => process.kill(process.ppid, 'SIGKILL'));
        attempt('killSibling', () => process.kill(sibling, 'SIGKILL'));
        attempt('killGroup', () => process.kill(0, 'SIGKILL'));
        attempt('killAll', () => process.kill(-1, 'SIGKILL'));
        attempt('rawKill', () => process._kill(process.ppid, 9));
        attempt('debugProcess', () => process._debugProcess(process.ppid));
        attempt('binding', () => process.binding('process_methods'));
        attempt('redefine', () => Object.defineProperty(process, 'kill', { value: () => 'mine' }));
        attempt('assign', () => { process.kill = () => 'mine'; if (process.kill() === 'mine') throw new Error('replaced'); });
        return { tries, pid: process.pid, ppid: process.ppid, uid: process.getuid() };
      },
    `,
        );
        const h = await start(path, { sandbox });
        const r = (await h.ecalls.attack!({ sibling: sibling.pid })) as { tries: Record<string, string>; pid: number; ppid: number; uid: number };
        for (const name of ['killParent', 'killSibling', 'killGroup', 'killAll', 'rawKill', 'debugProcess', 'binding']) {
          assert.equal(r.tries[name], 'ERR_ACCESS_DENIED', `${name}: ${r.tries[name]}`);
        }
        assert.notEqual(r.tries.redefine, 'done', 'process.kill cannot be redefined');
        assert.equal(sibling.exitCode, null, 'the sibling process lives');
        assert.equal(sibling.signalCode, null);
        const iso = h.isolation!;
        assert.equal(iso.processGroup, true);
        assert.equal(iso.killLocked, true);
        if (sandbox === 'auto' && IS_ROOT) {
          // Privileged path: alone in a PID namespace, as an unprivileged uid.
          assert.equal(iso.pidNamespace, true);
          assert.equal(r.pid, 1);
          assert.equal(r.ppid, 0, 'the host is not even visible');
          assert.equal(r.uid, 65534);
          assert.equal(iso.uid, 65534);
        } else {
          assert.equal(iso.pidNamespace, false);
          assert.equal(iso.uid, null);
        }
        await answersAgain(h);
        const fresh = await start(path, { sandbox });
        assert.equal(await fresh.ecalls.ping!(1), 1);
      } finally {
        sibling.kill('SIGKILL');
      }
    });
  }

  it('log records: the enclave cannot set reserved logger keys; fields are bounded; oversized records end it', async () => {
    const logger = recordingLogger();
    const path = bundle(
      'logs',
      `
      forge: (_a, ctx) => {
        const fields = { level: 60, msg: 'forged', hostname: 'evil', time: 0, pid: 1, enclave: false, stream: 'stdout', ok: 1, nested: { deep: [1, 2] }, long: 'x'.repeat(5000) };
        for (let i = 0; i < 40; i++) fields['f' + i] = i;
        ctx.log.warn('hello', fields);
        return 'logged';
      },
      rawForge: () => {
        const p = v8.serialize({ t: 'log', level: 'error', message: 'raw', fields: { level: 'fatal', hostname: 'evil', __proto__: null, ok: 2 } });
        raw(Buffer.concat([header(p.length, 3), p]));
        return 'sent';
      },
      tooBig: () => { const p = v8.serialize({ t: 'log', level: 'info', message: 'big', fields: { blob: 'y'.repeat(200000) } }); raw(Buffer.concat([header(p.length, 3), p])); return never(); },
    `,
    );
    const h = await start(path, { logger });
    assert.equal(await h.ecalls.forge!(), 'logged');
    assert.equal(await h.ecalls.rawForge!(), 'sent');
    await h.ecalls.ping!(0);
    const forged = logger.lines.find((l) => l.message === 'hello');
    assert.ok(forged !== undefined);
    assert.equal(forged.level, 'warn');
    for (const key of ['level', 'msg', 'hostname', 'time', 'pid']) assert.equal(Object.hasOwn(forged.obj, key), false, key);
    assert.equal(forged.obj.enclave, true, 'the host marks enclave lines itself');
    assert.equal(forged.obj.ok, 1);
    assert.equal(forged.obj.nested, '[object]', 'nothing nested reaches the host logger');
    assert.ok((forged.obj.long as string).length <= 1024);
    assert.ok(Object.keys(forged.obj).length <= 32 + 2);
    assert.ok((forged.obj.droppedFields as number) >= 7);
    const rawLine = logger.lines.find((l) => l.message === 'raw');
    assert.ok(rawLine !== undefined && rawLine.level === 'error');
    assert.equal(Object.hasOwn(rawLine.obj, 'level'), false);
    assert.equal(Object.hasOwn(rawLine.obj, 'hostname'), false);
    assert.equal(rawLine.obj.ok, 2);
    await rejectsWith(h.ecalls.tooBig!(), 'ENCLAVE_PROTOCOL', /for kind 3/);
    await answersAgain(h);
  });

  it('an ocall flood is bounded: at most 64 host requests run at once, the rest get REQUEST_LIMIT', async () => {
    const path = bundle(
      'ocall-flood',
      `
      flood: async (_a, ctx) => {
        const results = await Promise.allSettled(Array.from({ length: 200 }, () => ctx.ocall('slow', new Uint8Array(1024))));
        const codes = {};
        for (const r of results) { const k = r.status === 'fulfilled' ? 'ok' : r.reason.code; codes[k] = (codes[k] ?? 0) + 1; }
        return codes;
      },
    `,
    );
    let running = 0;
    let peak = 0;
    const h = await start(path, {
      ocalls: {
        slow: async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setTimeout(r, 100));
          running--;
          return 'done';
        },
      },
    });
    const codes = (await h.ecalls.flood!()) as Record<string, number>;
    assert.equal(peak, 64);
    assert.equal(codes.ok, 64);
    assert.equal(codes.REQUEST_LIMIT, 136);
    await answersAgain(h);
  });

  it('the EPC budget holds: heap, ArrayBuffer and external memory over heapSizeMiB end the enclave (ENCLAVE_OUT_OF_MEMORY)', async () => {
    const path = bundle(
      'memory',
      `
      arrayBuffer: () => { globalThis.keep = new Uint8Array(2 ** 30); return never(); },
      touched: () => { const a = new Uint8Array(512 * 1024 * 1024); for (let i = 0; ; i = (i + 4096) % a.length) a[i] = 1; },
      external: () => { globalThis.keep = []; for (;;) globalThis.keep.push(Buffer.alloc(8 * 1024 * 1024, 1)); },
      heap: () => { const a = []; for (;;) a.push({ i: a.length, s: 'x' + a.length }); },
      modest: () => { globalThis.small = new Uint8Array(8 * 1024 * 1024).fill(1); return globalThis.small.length; },
    `,
    );
    const h = await start(path, { heapSizeMiB: 64 });
    assert.equal(await h.ecalls.modest!(), 8 * 1024 * 1024, 'an allocation inside the budget works');
    for (const name of ['arrayBuffer', 'touched', 'external', 'heap']) {
      await rejectsWith(h.ecalls[name]!(), 'ENCLAVE_OUT_OF_MEMORY', /heapSizeMiB = 64/);
      await answersAgain(h);
    }
  });

  it('calls time out (ENCLAVE_TIMEOUT): a spinning enclave is ended and restarted, a slow one keeps running', async () => {
    const path = bundle(
      'timeout',
      `
      spin: () => { for (;;); },
      slow: () => new Promise((r) => setTimeout(() => r('late'), 1500)),
    `,
    );
    const h = await start(path, { callTimeoutMs: 400, livenessTimeoutMs: 1000 });
    const restarts: number[] = [];
    h.on('restart', (n) => restarts.push(n));
    await rejectsWith(h.ecalls.slow!(), 'ENCLAVE_TIMEOUT', /within 400 ms/);
    assert.equal(await h.ecalls.ping!('same'), 'same');
    assert.deepEqual(restarts, [], 'a responsive enclave is not ended');
    const restarted = new Promise((r) => h.on('restart', r));
    const spinning = rejectsWith(h.ecalls.spin!(), 'ENCLAVE_TIMEOUT', /within 400 ms/);
    // In flight on the generation that is about to be ended: it fails with the same code.
    const other = rejectsWith(h.ecalls.slow!(), 'ENCLAVE_TIMEOUT');
    await spinning;
    await other;
    await restarted;
    await answersAgain(h);
    assert.deepEqual(restarts, [1]);
  });

  for (const [sandbox, signal, hostUser] of [
    ['auto', 'SIGKILL', 'root'],
    ['auto', 'SIGKILL', 'nobody'],
    ['unprivileged', 'SIGTERM', 'root'],
    ['unprivileged', 'SIGKILL', 'root'],
  ] as const) {
    it(`a host (${IS_ROOT ? hostUser : 'this user'}) killed with ${signal} takes its spinning enclave with it (sandbox: ${sandbox})`, async (t) => {
      // A world-readable directory: the host may run as uid 65534.
      const shared = mkdtempSync(join(tmpdir(), 'cloister-hostile-host-'));
      chmodSync(shared, 0o755);
      t.after(() => rmSync(shared, { recursive: true, force: true }));
      const path = join(shared, 'spin.mjs');
      writeFileSync(
        path,
        `import { defineEnclave } from ${JSON.stringify(DEFINE_URL)};
import net from 'node:net';
export default defineEnclave({ ecalls: {
  spin: () => { for (;;); },
  inside: () => new Promise((res) => {
    const s = net.connect(9, '127.0.0.1');
    const done = (network) => res({ pid: process.pid, ppid: process.ppid, network });
    s.on('connect', () => { s.destroy(); done('connected'); });
    s.on('error', (e) => done(e.code));
  }),
} });
`,
      );
      const script = join(shared, 'host.mjs');
      writeFileSync(
        script,
        `const { createSimEnclaveProcess } = await import(${JSON.stringify(HOST_URL)});
const services = { self: () => (${JSON.stringify(SELF)}) };
const h = await createSimEnclaveProcess({ bundlePath: ${JSON.stringify(path)}, services, heapSizeMiB: 32, sandbox: ${JSON.stringify(sandbox)}, callTimeoutMs: 0 });
const inside = await h.ecalls.inside();
h.ecalls.spin().catch(() => {});
setTimeout(() => process.stdout.write(JSON.stringify({ isolation: h.isolation, inside }) + '\\n'), 200);
`,
      );
      const asNobody = IS_ROOT && hostUser === 'nobody';
      const host = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'], ...(asNobody ? { uid: 65534, gid: 65534 } : {}) });
      // The host's first line, or its exit (e.g. a uid-65534 host that cannot read a checkout under a 0700
      // directory) as a failure with its stderr, never a hang.
      let stderr = '';
      host.stderr?.on('data', (d: Buffer) => {
        if (stderr.length < 4000) stderr += d.toString();
      });
      const line = await new Promise<Buffer>((resolve, reject) => {
        host.stdout.once('data', resolve);
        host.once('exit', (code) => reject(new Error(`the host exited (${code}) before reporting: ${stderr.slice(-1500)}`)));
      });
      const report = JSON.parse(line.toString()) as { isolation: { pidNamespace: boolean; networkNamespace: boolean; userNamespace: boolean }; inside: { pid: number; ppid: number; network: string } };
      if (sandbox === 'auto' && (IS_ROOT || report.isolation.userNamespace)) {
        // Root: namespaces from root; a host without privilege: from a user namespace (where the kernel allows it).
        assert.equal(report.isolation.userNamespace, asNobody || !IS_ROOT);
        assert.equal(report.inside.pid, 1);
        assert.equal(report.inside.ppid, 0);
        assert.notEqual(report.inside.network, 'connected');
        assert.equal(report.isolation.networkNamespace, true);
      } else {
        assert.equal(report.isolation.pidNamespace, false);
      }
      const chain = Number(readFileSync(`/proc/${host.pid}/task/${host.pid}/children`, 'latin1').trim().split(' ')[0]);
      const enclavePid = deepestChild(chain);
      assert.ok(alive(enclavePid), 'the enclave runs');
      host.kill(signal);
      await once(host, 'exit');
      for (let i = 0; i < 200 && alive(enclavePid); i++) await new Promise((r) => setTimeout(r, 25));
      assert.equal(alive(enclavePid), false, 'the enclave died with its host');
      // And a fresh enclave from this host answers.
      const fresh = await start(bundle(`after-${sandbox}-${signal}-${hostUser}`, ''), { sandbox });
      assert.equal(await fresh.ecalls.ping!(2), 2);
    });
  }

  it("the manifest's env is an allowlist: loader and runtime variables are refused at build time and at run time (ENV_NOT_ALLOWED)", async () => {
    for (const name of ['LD_PRELOAD', 'LD_LIBRARY_PATH', 'NODE_OPTIONS', 'UV_THREADPOOL_SIZE', 'OPENSSL_CONF', 'GCONV_PATH', 'MALLOC_ARENA_MAX', 'GLIBC_TUNABLES', 'ICU_DATA', 'LC_ALL', 'TZ', 'ld_preload', 'CLOISTER_GRAMINE_FAKE_SERVICES']) {
      assert.notEqual(envNameRefusal(name), undefined, name);
    }
    for (const name of ['GREETING', 'APP_MODE', 'LOG_LEVEL2']) assert.equal(envNameRefusal(name), undefined, name);
    const manifest = { name: 'env', entry: 'src/enclave.ts', heapSizeMiB: 32, debug: false, productId: 1, securityVersion: 1, env: ['LD_PRELOAD=/tmp/evil.so'] };
    assert.throws(() => validateEnclaveJson(manifest), (e: unknown) => EnclaveError.is(e) && e.code === 'ENV_NOT_ALLOWED');
    const project = join(dir, 'env-project');
    mkdirSync(join(project, 'src'), { recursive: true });
    writeFileSync(join(project, 'enclave.json'), JSON.stringify(manifest));
    writeFileSync(join(project, 'src', 'enclave.ts'), "export default { ecalls: { a: () => 1 } };\n");
    await rejectsWith(buildEnclave(project), 'ENV_NOT_ALLOWED', /LD_PRELOAD/);
    assert.equal(existsSync(join(project, 'dist', 'enclave.bundle.mjs')), false, 'nothing was built');
    const path = bundle('env', `env: () => ({ ...process.env }),`);
    await rejectsWith(start(path, { env: { LD_PRELOAD: '/tmp/evil.so' } }), 'ENV_NOT_ALLOWED');
    await rejectsWith(start(path, { env: { NODE_OPTIONS: '--require=/tmp/x.js' } }), 'ENV_NOT_ALLOWED');
    const h = await start(path, { env: { GREETING: 'hi' } });
    assert.deepEqual(await h.ecalls.env!(), { GREETING: 'hi' });
  });

  describe('network: relayed streams through the host, TLS inside the enclave', () => {
    let key: string;
    let cert: string;
    let ca: string;
    before(async () => {
      const pki = await createSimPki(Platform.create());
      key = pki.keys.pck.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
      cert = pki.pckChainPem;
      ca = pki.rootCertPem;
    });

    const ENCLAVE_NET = `
      tlsClient: async ({ port, ca, size }, ctx) => {
        const socket = await ctx.connect('127.0.0.1', port);
        const s = tls.connect({ socket, ca, servername: 'enclave.test', checkServerIdentity: () => undefined });
        await new Promise((res, rej) => { s.once('secureConnect', res); s.once('error', rej); });
        const protocol = s.getProtocol();
        s.end(new Uint8Array(size).fill(7));
        const chunks = [];
        for await (const c of s) chunks.push(c);
        return { protocol, answer: Buffer.concat(chunks).toString() };
      },
      connectTo: async ({ host, port }, ctx) => { try { (await ctx.connect(host, port)).destroy(); return 'connected'; } catch (e) { return e.code; } },
      direct: ({ port }) => new Promise((res) => {
        const s = net.connect(port, '127.0.0.1');
        s.on('connect', () => { s.destroy(); res('connected'); });
        s.on('error', (e) => res(e.code));
      }),
      serve: ({ key, cert }) => { globalThis.tlsIdentity = { key, cert }; return 'ok'; },
      armFlood: () => { globalThis.flood = true; return 'armed'; },
      hang: () => never(),
    `;
    const ON_CONNECTION = `(stream) => {
      if (globalThis.flood) {
        // Ignore the window: 1 MiB on this stream without waiting for acknowledgements.
        const p = v8.serialize({ t: 'sdata', sid: stream.sid, data: new Uint8Array(64 * 1024) });
        const frame = Buffer.concat([header(p.length, 4), p]);
        for (let i = 0; i < 16; i++) raw(frame);
        return;
      }
      const s = new tls.TLSSocket(stream, { isServer: true, ...globalThis.tlsIdentity });
      let n = 0;
      s.on('data', (d) => { n += d.length; });
      s.on('end', () => s.end('enclave got ' + n));
      s.on('error', () => stream.destroy());
    }`;

    async function tlsServer(): Promise<{ port: number; close(): void }> {
      const server = createTlsServer({ key, cert }, (s) => {
        let n = 0;
        s.on('data', (d: Buffer) => (n += d.length));
        s.on('end', () => s.end(`host got ${n}`));
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return { port: (server.address() as AddressInfo).port, close: () => server.close() };
    }

    it('TLS over a relayed outbound stream: the host connects and moves ciphertext, the enclave terminates TLS', async () => {
      const server = await tlsServer();
      try {
        const path = bundle('net-out', ENCLAVE_NET, '', ON_CONNECTION);
        const h = await start(path, { connect: ({ host, port }) => host === '127.0.0.1' && port === server.port });
        const r = (await h.ecalls.tlsClient!({ port: server.port, ca, size: 1024 * 1024 })) as { protocol: string; answer: string };
        assert.equal(r.protocol, 'TLSv1.3');
        assert.equal(r.answer, `host got ${1024 * 1024}`, 'a megabyte through the windowed relay');
        // The host's policy decides: anything else is CONNECT_REFUSED.
        assert.equal(await h.ecalls.connectTo!({ host: '127.0.0.1', port: server.port + 1 }), 'CONNECT_REFUSED');
        assert.equal(await h.ecalls.connectTo!({ host: 'example.com', port: 443 }), 'CONNECT_REFUSED');
        // Direct sockets: none in the privileged sandbox (network namespace); said so otherwise.
        const direct = await h.ecalls.direct!({ port: server.port });
        if (IS_ROOT) {
          assert.equal(h.isolation!.networkNamespace, true);
          assert.notEqual(direct, 'connected');
        } else {
          assert.equal(h.isolation!.networkNamespace, false);
        }
        // An enclave that ignores the window towards a peer that does not drain is ended (the host buffers at most
        // one window per stream): a relayed connection whose socket never completes a write.
        assert.equal(await h.ecalls.armFlood!(), 'armed');
        const pending = rejectsWith(h.ecalls.hang!(), 'ENCLAVE_PROTOCOL', /unacknowledged/);
        const stalled = new Duplex({ read() {}, write() {} });
        assert.equal(h.relay(stalled as unknown as Socket), true);
        await pending;
        await answersAgain(h);
      } finally {
        server.close();
      }
    });

    it('TLS over a relayed inbound connection: the host listens, the enclave is the TLS server', async () => {
      const path = bundle('net-in', ENCLAVE_NET, '', ON_CONNECTION);
      const h = await start(path, { sandbox: 'unprivileged' });
      assert.equal(h.isolation!.networkNamespace, false, 'the unprivileged sandbox says the enclave has its own network');
      assert.equal(await h.ecalls.serve!({ key, cert }), 'ok');
      const listener = await h.listen();
      try {
        const c = tlsConnect({ host: '127.0.0.1', port: listener.port, ca, checkServerIdentity: () => undefined });
        await once(c, 'secureConnect');
        assert.equal(c.getProtocol(), 'TLSv1.3');
        assert.equal(c.authorized, true, 'the enclave presented the certificate it was given');
        c.end(new Uint8Array(300 * 1024).fill(1));
        const chunks: Buffer[] = [];
        for await (const chunk of c) chunks.push(chunk as Buffer);
        assert.equal(Buffer.concat(chunks).toString(), `enclave got ${300 * 1024}`);
      } finally {
        await listener.close();
      }
      assert.equal(await h.ecalls.ping!('still'), 'still');
    });
  });
});

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
