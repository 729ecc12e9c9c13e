/**
 * Starts a Hono app on the shared gated listener (./listener.ts): Node http or https with the receiving-side limits
 * every service needs — per-connection deadlines for the request head (TLS handshake included) and the whole
 * request, the slow-client admission rules of ./connection-gate.ts (a small budget for connections without a complete
 * request, short deadlines beyond it, nothing admitted closed to make room), header-size cap, short keep-alive. With
 * `tls.certFile`/`keyFile` the certificate is reloaded when either file changes (a rotated Kubernetes Secret), without
 * a restart.
 */
import type { Server } from 'node:http';
import type { Server as HttpsServer, ServerOptions as HttpsOptions } from 'node:https';
import { readFileSync, watchFile, unwatchFile } from 'node:fs';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Logger } from 'pino';
import { ServiceError } from './errors.js';
import { listenGated, resolveLimits, SERVICE_LIMITS, type ListenerLimits } from './listener.js';

/**
 * Limits of a service listener (defaults: `SERVICE_LIMITS` — head 5 s, request 30 s, keep-alive 5 s, 16 KiB heads,
 * 64 waiting connections with the full head deadline, 1 s beyond them, 1,024 connections before 50 ms probation).
 */
export type ServerLimits = ListenerLimits;

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

export async function startService(options: StartServiceOptions): Promise<ServiceHandle> {
  const host = options.host ?? '127.0.0.1';
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new ServiceError('CONFIG_INVALID', 400, `port must be 0-65535, got ${options.port}`);
  }
  let limits;
  try {
    limits = resolveLimits(options.limits, SERVICE_LIMITS);
  } catch (e) {
    throw new ServiceError('CONFIG_INVALID', 400, `server limits: ${(e as Error).message}`);
  }
  const handler = getRequestListener(options.app.fetch, {
    errorHandler: (err) => {
      options.logger?.error({ err }, 'request failed before the application answered');
    },
  });
  const tls = options.tls;
  let tlsOptions: HttpsOptions | undefined;
  if (tls !== undefined && 'certFile' in tls) {
    tlsOptions = { ...readTls(tls), requestCert: tls.caFile !== undefined, rejectUnauthorized: false };
  } else if (tls !== undefined) {
    tlsOptions = { cert: toBuf(tls.cert), key: toBuf(tls.key) };
  }
  let listener;
  try {
    listener = await listenGated({
      host,
      port: options.port,
      handler,
      limits,
      ...(tlsOptions !== undefined ? { tls: tlsOptions } : {}),
      onDrop: (reason) => options.logger?.debug({ reason }, 'connection closed by the admission gate'),
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new ServiceError('ADDRESS_IN_USE', 400, `${host}:${options.port} is already in use`);
    if (code === 'EACCES') throw new ServiceError('ADDRESS_NOT_PERMITTED', 400, `not permitted to listen on ${host}:${options.port}`);
    if (e instanceof RangeError) throw new ServiceError('CONFIG_INVALID', 400, `server limits: ${e.message}`);
    throw e;
  }
  let stopWatching = (): void => undefined;
  if (tls !== undefined && 'certFile' in tls && tls.watch !== false) {
    const s = listener.server as HttpsServer;
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
  const scheme = tls === undefined ? 'http' : 'https';
  const shownHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    server: listener.server,
    port: listener.port,
    host,
    url: `${scheme}://${shownHost}:${listener.port}`,
    close: () =>
      (closing ??= (async () => {
        stopWatching();
        await listener.close();
      })()),
  };
}
