/**
 * Ownership of a unix-socket path, shared by every Cloister server that binds one (the quote helper on
 * /var/run/aesmd/aesm.socket, the device plugin in /var/lib/kubelet/device-plugins): before binding, a path a live
 * server answers on is never taken and a stale socket left by a crashed process is removed; after binding, the inode is
 * recorded, so that stopping unlinks the path only while it still is the socket this process bound (not one a newer
 * server, or kubelet, put there since).
 *
 * Callers turn the outcomes into their own typed errors (SOCKET_IN_USE, CONFIG_INVALID …).
 */
import { lstatSync } from 'node:fs';
import { lstat, unlink } from 'node:fs/promises';
import { connect } from 'node:net';

/** Result of probing an existing path before binding: someone listens there, nobody does, or there is nothing. */
export type SocketProbe = 'live' | 'stale' | 'absent';

/** Connects to a unix socket path within `timeoutMs` to learn whether a server is listening on it. */
export function probeSocket(path: string, timeoutMs = 1000): Promise<SocketProbe> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    const finish = (result: SocketProbe): void => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish('stale'), timeoutMs);
    socket.once('connect', () => finish('live'));
    socket.once('error', (err: NodeJS.ErrnoException) => finish(err.code === 'ENOENT' ? 'absent' : 'stale'));
  });
}

/** What {@link claimSocketPath} found (and did) at the path. */
export type SocketClaim =
  /** Nothing there: free to bind. */
  | 'free'
  /** A socket (or, with replaceNonSocket, any file) nobody listens on: removed, free to bind. */
  | 'stale_removed'
  /** A live server answers there: do not bind. */
  | 'live'
  /** Something that is not a socket (and replaceNonSocket is off): left alone, do not bind. */
  | 'not_socket';

export interface ClaimSocketOptions {
  /** Connect timeout of the liveness probe. Default 1000 ms. */
  readonly probeTimeoutMs?: number;
  /** Remove a leftover non-socket file too (a directory kubelet owns). Default false: refuse. */
  readonly replaceNonSocket?: boolean;
}

/** Makes `path` free to bind unless a live server owns it or (by default) it is not a socket. */
export async function claimSocketPath(path: string, options: ClaimSocketOptions = {}): Promise<SocketClaim> {
  const probe = await probeSocket(path, options.probeTimeoutMs ?? 1000);
  if (probe === 'absent') return 'free';
  if (probe === 'live') return 'live';
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'free';
    throw err;
  }
  if (!isSocket && options.replaceNonSocket !== true) return 'not_socket';
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  return 'stale_removed';
}

/** The socket file a server bound: its inode, to tell it apart from whatever may replace it at the same path. */
export class BoundSocketFile {
  readonly path: string;
  readonly #ino: number;
  #released = false;

  private constructor(path: string, ino: number) {
    this.path = path;
    this.#ino = ino;
  }

  /** Records the socket now at `path` (call right after binding). */
  static async record(path: string): Promise<BoundSocketFile> {
    const st = await lstat(path);
    if (!st.isSocket()) throw new Error(`${path} is not a socket after binding`);
    return new BoundSocketFile(path, st.ino);
  }

  /** True while the path still is the socket recorded (not removed or replaced). */
  intact(): boolean {
    if (this.#released) return false;
    try {
      const st = lstatSync(this.path);
      return st.isSocket() && st.ino === this.#ino;
    } catch {
      return false;
    }
  }

  /**
   * Unlinks the path if it still is our socket; `wasIntact` (checked before the listener closed — some runtimes unlink
   * on close) says whether it was ours then. Idempotent.
   */
  async release(wasIntact = true): Promise<void> {
    if (this.#released) return;
    const ours = wasIntact && this.intact();
    this.#released = true;
    if (ours) await unlink(this.path).catch(() => {});
  }
}
