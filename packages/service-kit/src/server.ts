/**
 * Starts a Hono app on Node's http or https server with the receiving-side limits every service needs: a deadline
 * for the request head and for the whole request (slow clients are cut off), a cap on header size and on open
 * connections, short keep-alive. With `tls.certFile`/`keyFile` the certificate is reloaded when either file changes
 * (a rotated Kubernetes Secret), without a restart.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { readFileSync, watchFile, unwatchFile } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Logger } from 'pino';
import { ServiceError } from './errors.js';

export interface ServerLimits {
  /** Time for a client to send the request head (default 5 s). */
  readonly headersTimeoutMs?: number;
  /** Time for the whole request, body included (default 30 s). */
  readonly requestTimeoutMs?: number;
  /** Idle keep-alive (default 5 s). */
  readonly keepAliveTimeoutMs?: number;
  /** Largest request head (default 16 KiB). */
  readonly maxHeaderSize?: number;
  /** Open connections at most; more are closed at once (default 1024). */
  readonly maxConnections?: number;
  /** Requests one keep-alive connection may carry (default 10 000; 0 = unlimited). */
  readonly maxRequestsPerSocket?: number;
}

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** Extra CA certificates (PEM) to request and verify client certificates with (mutual TLS). */
  readonly caFile?: string;
  /** Reload when the files change (default true). */
  readonly watch?: boolean;
}

export interface TlsInline {
  readonly cert: string | Uint8Array;
  readonly key: string | Uint8Array;
}

export interface StartServiceOptions {
  readonly app: Hono;
  readonly host?: string;
  readonly port: number;
  readonly tls?: TlsFiles | TlsInline;
  readonly limits?: ServerLimits;
  readonly logger?: Logger;
}

export interface ServiceHandle {
  readonly server: Server | HttpsServer;
  readonly port: number;
  readonly host: string;
  /** `http(s)://host:port` (IPv6 in brackets). */
  readonly url: string;
  close(): Promise<void>;
}

function toBuf(v: string | Uint8Array): Buffer {
  return typeof v === 'string' ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function readTls(files: TlsFiles): { cert: Buffer; key: Buffer; ca?: Buffer } {
  try {
    const out: { cert: Buffer; key: Buffer; ca?: Buffer } = { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
    if (files.caFile !== undefined) out.ca = readFileSync(files.caFile);
    return out;
  } catch (e) {
    throw new ServiceError('CONFIG_INVALID', 400, `cannot read TLS files: ${(e as NodeJS.ErrnoException).code ?? 'error'} (${(e as NodeJS.ErrnoException).path ?? ''})`);
  }
}

export function startService(options: StartServiceOptions): Promise<ServiceHandle> {
  const host = options.host ?? '127.0.0.1';
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    return Promise.reject(new ServiceError('CONFIG_INVALID', 400, `port must be 0-65535, got ${options.port}`));
  }
  const limits = options.limits ?? {};
  const listener = getRequestListener(options.app.fetch, {
    errorHandler: (err) => {
      options.logger?.error({ err }, 'request failed before the application answered');
    },
  });
  const maxHeaderSize = limits.maxHeaderSize ?? 16 * 1024;
  // Node checks the head/request deadlines every `connectionsCheckingInterval` ms (30 s by default): check often
  // enough that the deadlines mean what they say.
  const connectionsCheckingInterval = Math.max(100, Math.min(1000, Math.floor((limits.headersTimeoutMs ?? 5_000) / 2)));
  let server: Server | HttpsServer;
  let stopWatching = (): void => undefined;
  const tls = options.tls;
  if (tls === undefined) {
    server = createHttpServer({ maxHeaderSize, connectionsCheckingInterval }, listener);
  } else if ('certFile' in tls) {
    const material = readTls(tls);
    const s = createHttpsServer({ ...material, maxHeaderSize, connectionsCheckingInterval, handshakeTimeout: limits.headersTimeoutMs ?? 5_000, requestCert: tls.caFile !== undefined, rejectUnauthorized: false }, listener);
    server = s;
    if (tls.watch !== false) {
      const reload = (): void => {
        try {
          s.setSecureContext({ ...readTls(tls) });
          options.logger?.info({ certFile: tls.certFile }, 'TLS certificate reloaded');
        } catch (e) {
          options.logger?.error({ code: (e as ServiceError).code }, 'TLS certificate reload failed; keeping the previous one');
        }
      };
      watchFile(tls.certFile, { interval: 1000 }, reload);
      watchFile(tls.keyFile, { interval: 1000 }, reload);
      stopWatching = () => {
        unwatchFile(tls.certFile, reload);
        unwatchFile(tls.keyFile, reload);
      };
    }
  } else {
    server = createHttpsServer({ cert: toBuf(tls.cert), key: toBuf(tls.key), maxHeaderSize, connectionsCheckingInterval, handshakeTimeout: limits.headersTimeoutMs ?? 5_000 }, listener);
  }
  server.headersTimeout = limits.headersTimeoutMs ?? 5_000;
  server.requestTimeout = limits.requestTimeoutMs ?? 30_000;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs ?? 5_000;
  server.maxConnections = limits.maxConnections ?? 1024;
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket ?? 10_000;
  // Our own head deadline per connection, on top of Node's (whose periodic check was seen to miss a slow connection
  // once another connection had been served): a connection must deliver each request head within
  // `headersTimeoutMs` of connecting or of its previous response finishing, else it is destroyed.
  const headMs = limits.headersTimeoutMs ?? 5_000;
  const idleMs = limits.keepAliveTimeoutMs ?? 5_000;
  const deadlines = new WeakMap<Socket, NodeJS.Timeout>();
  const arm = (socket: Socket, ms: number): void => {
    clearTimeout(deadlines.get(socket));
    const t = setTimeout(() => socket.destroy(), ms);
    t.unref();
    deadlines.set(socket, t);
  };
  server.on(tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => {
    arm(socket, headMs);
    socket.once('close', () => clearTimeout(deadlines.get(socket)));
  });
  server.on('request', (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    const socket = req.socket;
    clearTimeout(deadlines.get(socket));
    res.once('finish', () => {
      if (!socket.destroyed) arm(socket, idleMs + headMs);
    });
  });
  // A TLS handshake that never completes must not hold a connection slot forever.
  server.on('tlsClientError', (_e: Error, socket: Socket) => socket.destroy());
  // A malformed or too slow request: answer once (408 for a missed deadline, 400 otherwise) and close.
  server.on('clientError', (e: NodeJS.ErrnoException, socket: Socket) => {
    const status = e.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : e.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`, () => socket.destroy());
    else socket.destroy();
  });

  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      stopWatching();
      reject(
        e.code === 'EADDRINUSE'
          ? new ServiceError('ADDRESS_IN_USE', 400, `${host}:${options.port} is already in use`)
          : e.code === 'EACCES'
            ? new ServiceError('ADDRESS_NOT_PERMITTED', 400, `not permitted to listen on ${host}:${options.port}`)
            : e,
      );
    };
    server.once('error', onError);
    server.listen(options.port, host, () => {
      server.off('error', onError);
      const port = (server.address() as AddressInfo).port;
      const scheme = tls === undefined ? 'http' : 'https';
      const shownHost = host.includes(':') ? `[${host}]` : host;
      let closing: Promise<void> | undefined;
      resolve({
        server,
        port,
        host,
        url: `${scheme}://${shownHost}:${port}`,
        close: () =>
          (closing ??= new Promise<void>((done, fail) => {
            stopWatching();
            server.close((e) => (e === undefined ? done() : fail(e)));
            server.closeAllConnections();
          })),
      });
    });
  });
}
