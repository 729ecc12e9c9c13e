/**
 * Unix-socket ownership shared by the quote helper and the device plugin, on real sockets in a temp directory: the
 * liveness probe, claiming a path (free, live, stale, not a socket), and the inode check that keeps a server from
 * unlinking a socket that another server has put at the same path since.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, linkSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BoundSocketFile, claimSocketPath, probeSocket } from '../src/unix-socket.js';

const dir = mkdtempSync(join(tmpdir(), 'cloister-unix-socket-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;
const path = (): string => join(dir, `s${seq++}.sock`);

async function listen(at: string): Promise<Server> {
  const server = createServer((s) => s.destroy());
  server.listen(at);
  await once(server, 'listening');
  return server;
}

const close = (server: Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

/** A socket file nobody listens on, as a crashed server leaves it: a second name for a socket inode outlives close(). */
async function staleSocket(): Promise<string> {
  const live = path();
  const stale = path();
  const server = await listen(live);
  linkSync(live, stale);
  await close(server);
  return stale;
}

test('probeSocket: absent, live, stale', async () => {
  assert.equal(await probeSocket(path()), 'absent');
  const p = path();
  const server = await listen(p);
  try {
    assert.equal(await probeSocket(p), 'live');
  } finally {
    await close(server);
  }
  assert.equal(await probeSocket(await staleSocket()), 'stale');
});

test('claimSocketPath: free; a live server is never taken; a stale socket is removed', async () => {
  assert.equal(await claimSocketPath(path()), 'free');
  const p = path();
  const server = await listen(p);
  try {
    assert.equal(await claimSocketPath(p), 'live');
    assert.equal(await probeSocket(p), 'live', 'still served');
  } finally {
    await close(server);
  }
  const stale = await staleSocket();
  assert.equal(await claimSocketPath(stale), 'stale_removed');
  assert.equal(existsSync(stale), false);
});

test('claimSocketPath: a file that is not a socket is refused unless replaceNonSocket', async () => {
  const p = path();
  writeFileSync(p, 'not a socket');
  assert.equal(await claimSocketPath(p), 'not_socket');
  assert.equal(existsSync(p), true, 'left alone');
  assert.equal(await claimSocketPath(p, { replaceNonSocket: true }), 'stale_removed');
  assert.equal(existsSync(p), false);
});

test('BoundSocketFile: release unlinks our socket, never one that replaced it; idempotent', async () => {
  const p = path();
  const first = await listen(p);
  const ours = await BoundSocketFile.record(p);
  assert.equal(ours.intact(), true);
  // Another server takes the path (it removed our file and bound its own).
  rmSync(p);
  const second = await listen(p);
  try {
    assert.equal(ours.intact(), false);
    await ours.release();
    assert.equal(await probeSocket(p), 'live', 'the newer socket is still there');
    const theirs = await BoundSocketFile.record(p);
    await theirs.release(theirs.intact());
    assert.equal(existsSync(p), false, 'the owner removes its own socket');
    await theirs.release();
    assert.equal(theirs.intact(), false);
  } finally {
    await close(second);
    await close(first);
  }
});

test('BoundSocketFile.record refuses a path that is not a socket', async () => {
  const p = path();
  writeFileSync(p, 'x');
  await assert.rejects(BoundSocketFile.record(p), /not a socket/);
});
