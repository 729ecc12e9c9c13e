/**
 * Unit tests of the host-side boundary rules, without an enclave process: log records (host/log-record.ts), frame
 * limits per kind (runtime/protocol.ts + stdio-channel.ts), the env allowlist (package/env-policy.ts) and the relay's
 * window (host/relay-host.ts) with in-memory sockets.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { Duplex, PassThrough } from 'node:stream';
import { EnclaveError } from '../src/errors.js';
import { MAX_LOG_FIELDS, RESERVED_LOG_KEYS, sanitizeLogRecord } from '../src/host/log-record.js';
import { createRelayHost } from '../src/host/relay-host.js';
import { assertEnvAllowed, envNameRefusal } from '../src/package/env-policy.js';
import { FRAME_CALL, FRAME_CONTROL, FRAME_LOG, FRAME_STREAM, STREAM_WINDOW_BYTES, frameLimits } from '../src/runtime/protocol.js';
import { createStdioChannel, encodeFrame } from '../src/runtime/stdio-channel.js';

describe('log records from an enclave', () => {
  it('drop reserved keys, bound the fields, flatten nested values', () => {
    const fields: Record<string, unknown> = { level: 60, msg: 'x', hostname: 'h', time: 1, enclave: false, 'bad key': 1, ok: 'yes', n: 2, obj: { a: 1 }, big: 10n };
    for (let i = 0; i < 50; i++) fields[`f${i}`] = i;
    const r = sanitizeLogRecord({ t: 'log', level: 'warn', message: 'm'.repeat(10_000), fields });
    assert.ok(r !== undefined);
    assert.equal(r.level, 'warn');
    assert.ok(r.message.length <= 8192);
    for (const key of Object.keys(r.fields)) assert.ok(!RESERVED_LOG_KEYS.has(key) || key === 'droppedFields', key);
    assert.equal(r.fields.ok, 'yes');
    assert.equal(r.fields.obj, '[object]');
    assert.equal(r.fields.big, '10');
    assert.ok(Object.keys(r.fields).length <= MAX_LOG_FIELDS + 1);
    assert.ok((r.fields.droppedFields as number) >= 6 + 1);
  });

  it('refuse a level or message that is not one', () => {
    assert.equal(sanitizeLogRecord({ t: 'log', level: 'fatal', message: 'x' }), undefined);
    assert.equal(sanitizeLogRecord({ t: 'log', level: 'info', message: 42 }), undefined);
  });
});

describe('frame limits', () => {
  it('are per kind and checked from the header, before the payload arrives', async () => {
    const limits = frameLimits(64 * 1024);
    assert.equal(limits(FRAME_CALL), 128 * 1024);
    assert.ok(limits(FRAME_LOG) < limits(FRAME_CONTROL));
    assert.ok(limits(FRAME_STREAM) > 64 * 1024);
    assert.equal(limits(9), 0);
    const input = new PassThrough();
    const ch = createStdioChannel(input, new PassThrough(), { maxFrameBytes: limits });
    const got: unknown[] = [];
    let closed: Error | undefined;
    ch.onMessage((m) => got.push(m));
    ch.onClose((e) => (closed = e));
    input.write(encodeFrame({ t: 'log', level: 'info', message: 'ok', fields: {} }));
    // A log frame announcing 1 MiB: refused at its 5-byte header.
    const header = Buffer.alloc(5);
    header.writeUInt32LE(1024 * 1024, 0);
    header[4] = FRAME_LOG;
    input.write(header);
    await new Promise((r) => setImmediate(r));
    assert.equal(got.length, 1);
    assert.ok(EnclaveError.is(closed) && closed.code === 'ENCLAVE_PROTOCOL', String(closed));
    assert.match(String(closed?.message), /for kind 3/);
  });
});

describe('env allowlist', () => {
  it('accepts portable application names and refuses what loaders and runtimes read', () => {
    assert.equal(envNameRefusal('MODE'), undefined);
    for (const n of ['LD_AUDIT', 'NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'LOCPATH', 'Mode', '1X', 'A-B', '']) {
      assert.notEqual(envNameRefusal(n), undefined, n);
    }
    assert.throws(() => assertEnvAllowed({ OK: 'a\0b' }, 'x'), (e: unknown) => EnclaveError.is(e) && e.code === 'ENV_NOT_ALLOWED');
    assert.throws(() => assertEnvAllowed({ OK: 'x'.repeat(5000) }, 'x'), (e: unknown) => EnclaveError.is(e) && e.code === 'ENV_NOT_ALLOWED');
  });
});

describe('relay window', () => {
  it('an enclave that sends past the window towards a socket that does not drain is a violation', () => {
    const sent: Array<Record<string, unknown>> = [];
    const violations: EnclaveError[] = [];
    const relay = createRelayHost({
      send: (m) => sent.push(m),
      reply: () => undefined,
      onViolation: (e) => violations.push(e),
      maxStreams: 2,
      connectTimeoutMs: 1000,
    });
    const stalled = new Duplex({ read() {}, write() {} });
    assert.equal(relay.accept(stalled as unknown as Socket), true);
    const sid = (sent[0] as { sid: number }).sid;
    assert.equal(sent[0]?.t, 'saccept');
    const chunk = new Uint8Array(64 * 1024);
    for (let i = 0; i < STREAM_WINDOW_BYTES / chunk.length; i++) relay.handle({ t: 'sdata', sid, data: chunk });
    assert.equal(violations.length, 0, 'a full window is allowed');
    relay.handle({ t: 'sdata', sid, data: chunk });
    assert.equal(violations.length, 1);
    assert.equal(violations[0]?.code, 'ENCLAVE_PROTOCOL');
    // Over the stream limit, an accepted socket is refused and destroyed.
    assert.equal(relay.accept(new Duplex({ read() {}, write() {} }) as unknown as Socket), true);
    const third = new Duplex({ read() {}, write() {} });
    assert.equal(relay.accept(third as unknown as Socket), false);
    assert.equal(third.destroyed, true);
    relay.closeAll();
    assert.equal(stalled.destroyed, true);
  });
});
