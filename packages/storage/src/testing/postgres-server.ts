/**
 * Tests only: a real PostgreSQL server (Debian's `postgresql` package, which `.ci/run` installs) in a temporary data
 * directory on a free loopback port. As root it runs as the `postgres` user (PostgreSQL refuses to run as root).
 * `stop()` and `start()` let a test take the database away and bring it back with the same data.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPostgres {
  /** `postgresql://postgres@127.0.0.1:PORT/postgres` */
  readonly url: string;
  readonly port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops the server and removes its data directory. */
  destroy(): Promise<void>;
}

/** The directory holding initdb/postgres, or undefined when PostgreSQL is not installed. */
export function findPostgresBin(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(base, versions[0], 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function pgUid(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const bin = findPostgresBin();
  if (bin === undefined) throw new Error('PostgreSQL is not installed (apt-get install postgresql); .ci/run installs it');
  const ids = pgUid();
  const root = mkdtempSync(join(tmpdir(), 'cloister-pg-'));
  const data = join(root, 'data');
  if (ids !== undefined) chownSync(root, ids.uid, ids.gid);
  const runAs = ids === undefined ? {} : { uid: ids.uid, gid: ids.gid };
  execFileSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C'], { ...runAs, stdio: 'ignore', cwd: root });
  const port = await freePort();
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    if (child !== undefined) return;
    const c = spawn(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', root, '-c', 'fsync=off', '-c', 'max_connections=100'], {
      ...runAs,
      stdio: ['ignore', 'ignore', 'pipe'],
      cwd: root,
    });
    child = c;
    let log = '';
    c.stderr?.on('data', (d: Buffer) => {
      if (log.length < 20_000) log += d.toString();
    });
    // Ready when it accepts connections: poll the port.
    for (let i = 0; i < 150; i++) {
      if (c.exitCode !== null) throw new Error(`postgres exited: ${log.slice(-2000)}`);
      const ok = await new Promise<boolean>((r) => {
        const s = createServer();
        s.once('error', () => r(true)); // in use → listening
        s.listen(port, '127.0.0.1', () => s.close(() => r(false)));
      });
      if (ok && /ready to accept connections/.test(log)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`postgres did not start: ${log.slice(-2000)}`);
  };

  const stop = async (): Promise<void> => {
    const c = child;
    if (c === undefined) return;
    child = undefined;
    if (c.exitCode !== null) return;
    await new Promise<void>((r) => {
      c.once('exit', () => r());
      c.kill('SIGINT'); // fast shutdown: clients are disconnected
    });
  };

  await start();
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    async destroy() {
      await stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
