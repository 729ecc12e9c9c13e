/**
 * The gRPC `v1beta1.DevicePlugin` server for one DeviceResource, on `<pluginDir>/<socketName>` (h2c over a unix socket,
 * insecure, as kubelet dials it). Registration with kubelet and restarts are the PluginManager's job.
 */
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { chmod, mkdir } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { BoundSocketFile, claimSocketPath, probeSocket, type SocketProbe } from '@cloister/aesm';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { pino } from 'pino';
import {
  AllocateResponseSchema,
  ContainerAllocateResponseSchema,
  ContainerPreferredAllocationResponseSchema,
  DevicePluginOptionsSchema,
  DeviceSchema,
  DeviceSpecSchema,
  ListAndWatchResponseSchema,
  MountSchema,
  PreStartContainerResponseSchema,
  PreferredAllocationResponseSchema,
  type ContainerAllocateResponse,
  type Empty,
  type ListAndWatchResponse,
} from '../gen/k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1/api_pb.js';
import { AgentError } from './errors.js';
import { clip } from './util/clip.js';
import { ConnectionGate, type ConnectionGateLimits } from '@cloister/service-kit/core';
import { readHttp2Preface } from './net/http2-preface.js';
import { devicePluginServiceDefinition, type DevicePluginHandlers } from './grpc/services.js';
import { HEALTHY, type AgentMetrics, type ContainerAllocation, type DeviceResource, type PluginDevice } from './types.js';

/** AgentMetrics that records nothing. */
export const noopMetrics: AgentMetrics = {
  registration() {},
  allocate() {},
  error() {},
  setEpcTotalMiB() {},
  setDevices() {},
};

/** A pino logger that writes nothing. */
export function silentLogger(): Logger {
  return pino({ enabled: false });
}

export interface DevicePluginServerOptions {
  /** Directory of kubelet.sock and the plugin sockets (default on a node: /var/lib/kubelet/device-plugins). */
  readonly pluginDir: string;
  readonly resource: DeviceResource;
  readonly logger?: Logger;
  readonly metrics?: AgentMetrics;
  /** How long stop() waits for in-flight calls before forcing the server down. Default 1000 ms. */
  readonly shutdownTimeoutMs?: number;
  /** Mode of the socket file. Default 0o660 (kubelet runs as root; the directory is root-owned). */
  readonly socketMode?: number;
  /** Called when a client (kubelet) ended a ListAndWatch stream, with the number of streams still open. */
  readonly onListAndWatchEnded?: (remainingStreams: number) => void;
  /** Connection admission on the socket. Default DEVICE_PLUGIN_CONNECTION_LIMITS. */
  readonly connectionLimits?: ConnectionGateLimits;
}

// Socket-path ownership (stale-socket probe, inode check, unlink on stop) is shared with the quote helper: @cloister/aesm.
export { probeSocket, type SocketProbe };

/** The ListAndWatchResponse for a device list. Devices never carry `topology` (field 3): absent means "no NUMA preference". */
export function toListAndWatchResponse(devices: readonly PluginDevice[]): ListAndWatchResponse {
  return create(ListAndWatchResponseSchema, {
    devices: devices.map((d) => create(DeviceSchema, { ID: d.id, health: d.health })),
  });
}

/** One ContainerAllocateResponse from the resource's plain allocation. */
export function toContainerAllocateResponse(allocation: ContainerAllocation): ContainerAllocateResponse {
  return create(ContainerAllocateResponseSchema, {
    envs: { ...allocation.envs },
    annotations: { ...allocation.annotations },
    mounts: allocation.mounts.map((m) =>
      create(MountSchema, { containerPath: m.containerPath, hostPath: m.hostPath, readOnly: m.readOnly }),
    ),
    devices: allocation.devices.map((d) =>
      create(DeviceSpecSchema, { containerPath: d.containerPath, hostPath: d.hostPath, permissions: d.permissions }),
    ),
    // ContainerAllocation carries no CDI names; kubelet then injects only the DeviceSpecs and mounts.
    cdiDevices: [],
  });
}

/** Status details are bounded whatever they quote (client IDs are clipped where they are quoted; this is the backstop). */
export const MAX_STATUS_DETAILS = 1024;

/**
 * The gRPC server's limits (grpc-js server options). kubelet opens one connection per plugin, keeps one ListAndWatch
 * stream on it and sends small unary calls; anything else on the socket is bounded by these:
 *   - max_receive_message_length 4 MiB: the largest legitimate request is GetPreferredAllocation listing every EPC
 *     device (65 536 IDs ≈ 0.8 MB);
 *   - max_concurrent_streams 16 per connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS);
 *   - keepalive: the server pings every 60 s and drops a peer that does not answer within 10 s;
 *   - max_connection_idle_ms 5 min: a connection with no open stream is closed (kubelet's carries ListAndWatch);
 *   - no max_connection_age: it would end kubelet's ListAndWatch stream, which kubelet treats as the plugin failing.
 * Before grpc-js sees a connection, the listener (this module's own, handing connections to grpc-js through a
 * connection injector) holds it in a ConnectionGate until the 24-byte HTTP/2 client preface has arrived
 * (DEVICE_PLUGIN_CONNECTION_LIMITS): a peer that trickles or never sends it cannot take what kubelet needs.
 */
export const DEVICE_PLUGIN_GRPC_OPTIONS: Readonly<Record<string, number>> = Object.freeze({
  'grpc.max_receive_message_length': 4 * 1024 * 1024,
  'grpc.max_concurrent_streams': 16,
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.max_connection_idle_ms': 5 * 60_000,
  // channelz keeps per-call bookkeeping a device plugin never reads; off, Allocate tail latency drops.
  'grpc.enable_channelz': 0,
});

/**
 * Connections to a plugin socket: kubelet keeps one (plus short-lived ones on restarts). A connection must send the
 * HTTP/2 preface within 2 s; 8 may wait that long, any more get 250 ms; beyond 64 open connections a new one gets a
 * 50 ms probation (nothing admitted is closed for it).
 */
export const DEVICE_PLUGIN_CONNECTION_LIMITS: ConnectionGateLimits = Object.freeze({
  maxPending: 8,
  pendingTimeoutMs: 2_000,
  overflowTimeoutMs: 250,
  maxConnections: 64,
});

/** The grpc status for an error thrown by the resource; the message keeps the resource's reason. */
export function toGrpcError(err: unknown, resourceName: string, operation: string): Partial<grpc.ServiceError> {
  if (AgentError.is(err)) {
    const code =
      err.code === 'UNKNOWN_DEVICE'
        ? grpc.status.NOT_FOUND
        : err.code === 'UNHEALTHY_DEVICE' || err.code === 'NO_SGX'
          ? grpc.status.FAILED_PRECONDITION
          : err.code === 'INVALID_REQUEST'
            ? grpc.status.INVALID_ARGUMENT
            : grpc.status.INTERNAL;
    return { code, details: clip(withPrefix(err.message), MAX_STATUS_DETAILS) };
  }
  const reason = err instanceof Error ? err.message : String(err);
  return { code: grpc.status.INTERNAL, details: clip(`cloister: ${operation} for ${resourceName} failed: ${reason}`, MAX_STATUS_DETAILS) };
}

function withPrefix(message: string): string {
  return message.startsWith('cloister:') ? message : `cloister: ${message}`;
}

interface OpenStream {
  readonly call: grpc.ServerWritableStream<Empty, ListAndWatchResponse>;
  readonly unsubscribe: () => void;
}

export class DevicePluginServer {
  readonly resource: DeviceResource;
  readonly socketPath: string;
  readonly #pluginDir: string;
  readonly #logger: Logger;
  readonly #metrics: AgentMetrics;
  readonly #shutdownTimeoutMs: number;
  readonly #socketMode: number;
  readonly #onListAndWatchEnded: ((remaining: number) => void) | undefined;
  readonly #streams = new Set<OpenStream>();
  #server: grpc.Server | undefined;
  #listener: Server | undefined;
  readonly #gate: ConnectionGate;
  #socketFile: BoundSocketFile | undefined;
  #unsubscribeMetrics: (() => void) | undefined;
  #state: 'new' | 'starting' | 'serving' | 'stopping' | 'stopped' = 'new';

  constructor(options: DevicePluginServerOptions) {
    this.resource = options.resource;
    this.#pluginDir = options.pluginDir;
    this.socketPath = join(options.pluginDir, options.resource.socketName);
    this.#logger = (options.logger ?? silentLogger()).child({ resource: options.resource.resourceName });
    this.#metrics = options.metrics ?? noopMetrics;
    this.#shutdownTimeoutMs = options.shutdownTimeoutMs ?? 1000;
    this.#socketMode = options.socketMode ?? 0o660;
    this.#onListAndWatchEnded = options.onListAndWatchEnded;
    this.#gate = new ConnectionGate({
      ...(options.connectionLimits ?? DEVICE_PLUGIN_CONNECTION_LIMITS),
      onDrop: (_socket, reason) => {
        this.#metrics.error(`connection_${reason}`);
        this.#logger.debug({ event: 'plugin_connection_dropped', reason }, 'plugin socket connection closed');
      },
    });
  }

  /** Connections open on the socket, and those still waiting for the HTTP/2 preface. */
  get connections(): { readonly open: number; readonly pending: number; readonly overflow: number } {
    return { open: this.#gate.open, pending: this.#gate.pending, overflow: this.#gate.overflow };
  }

  /** Number of ListAndWatch streams currently open. */
  get activeStreams(): number {
    return this.#streams.size;
  }

  get serving(): boolean {
    return this.#state === 'serving';
  }

  /** True while the socket path still is the socket this server bound (not removed or replaced, e.g. by kubelet). */
  socketIntact(): boolean {
    return this.#socketFile?.intact() ?? false;
  }

  /**
   * Binds the socket and serves. An existing path is probed first: a live listener → AgentError SOCKET_IN_USE,
   * a leftover file → removed.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`DevicePluginServer.start() called twice for ${this.socketPath}`);
    this.#state = 'starting';
    try {
      await mkdir(this.#pluginDir, { recursive: true, mode: 0o750 });
      await this.#clearStaleSocket();
      const server = new grpc.Server({ ...DEVICE_PLUGIN_GRPC_OPTIONS });
      server.addService(devicePluginServiceDefinition, this.#handlers());
      this.#server = server;
      // h2c over our own listener: connections reach grpc-js only once they have sent the HTTP/2 preface.
      const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
      const listener = createServer({ pauseOnConnect: true }, (socket) => this.#onConnection(socket, injector));
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        listener.listen({ path: this.socketPath, backlog: 511 }, () => {
          listener.off('error', reject);
          resolve();
        });
      });
      listener.on('error', (err) => this.#logger.error({ event: 'plugin_listener_error', err }, 'plugin socket listener error'));
      this.#listener = listener;
      await chmod(this.socketPath, this.#socketMode);
      this.#socketFile = await BoundSocketFile.record(this.socketPath);
    } catch (err) {
      this.#state = 'stopped';
      this.#listener?.close();
      this.#listener = undefined;
      if (this.#server) {
        this.#server.forceShutdown();
        this.#server = undefined;
      }
      if (AgentError.is(err)) throw err;
      throw new AgentError(
        'CONFIG_INVALID',
        `cloister: cannot serve ${this.resource.resourceName} on ${this.socketPath}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    this.#state = 'serving';
    this.#reportDevices();
    this.#unsubscribeMetrics = this.resource.onChange(() => this.#reportDevices());
    this.#logger.info({ event: 'plugin_serving', socket: this.socketPath }, 'device plugin serving');
  }

  /**
   * Ends every ListAndWatch stream, lets in-flight calls finish for up to shutdownTimeoutMs, then forces the server
   * down and removes the socket file if it still is ours.
   */
  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    const server = this.#server;
    this.#state = 'stopping';
    this.#unsubscribeMetrics?.();
    this.#unsubscribeMetrics = undefined;
    for (const stream of this.#streams) {
      stream.unsubscribe();
      if (!stream.call.cancelled) stream.call.end();
    }
    this.#streams.clear();
    const intact = this.socketIntact();
    // Stop accepting (Node unlinks the path as the listener closes); connections already handed over drain below.
    const listener = this.#listener;
    this.#listener = undefined;
    const listenerClosed =
      listener === undefined ? Promise.resolve() : new Promise<void>((resolve) => listener.close(() => resolve()));
    if (server) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, this.#shutdownTimeoutMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      server.forceShutdown();
    }
    this.#gate.closeAll();
    await listenerClosed;
    this.#server = undefined;
    await this.#socketFile?.release(intact);
    this.#socketFile = undefined;
    this.#state = 'stopped';
    this.#logger.info({ event: 'plugin_stopped', socket: this.socketPath }, 'device plugin stopped');
  }

  #onConnection(socket: Socket, injector: grpc.ConnectionInjector): void {
    // Errors surface through close; this keeps an ECONNRESET from being an uncaught 'error' event.
    socket.on('error', () => {});
    if (this.#state !== 'serving' && this.#state !== 'starting') {
      socket.destroy();
      return;
    }
    if (!this.#gate.accept(socket)) return;
    readHttp2Preface(socket).then(
      (received) => {
        if (socket.destroyed) return;
        this.#gate.complete(socket);
        socket.unshift(received);
        injector.injectConnection(socket);
      },
      () => {
        if (socket.destroyed) return;
        this.#metrics.error('connection_not_http2');
        socket.destroy();
      },
    );
  }

  async #clearStaleSocket(): Promise<void> {
    // kubelet's directory holds only plugin sockets: a leftover file of any kind at our path is ours to replace.
    const claim = await claimSocketPath(this.socketPath, { probeTimeoutMs: 1000, replaceNonSocket: true });
    if (claim === 'live') {
      throw new AgentError(
        'SOCKET_IN_USE',
        `cloister: ${this.socketPath} is served by another process (is a second node agent running on this node?)`,
      );
    }
    if (claim === 'stale_removed') {
      this.#logger.warn({ event: 'stale_socket_removed', socket: this.socketPath }, 'removed a stale plugin socket');
    }
  }

  #reportDevices(): void {
    const devices = this.resource.devices();
    let healthy = 0;
    for (const d of devices) if (d.health === HEALTHY) healthy++;
    this.#metrics.setDevices(this.resource.resourceName, healthy, devices.length - healthy);
  }

  #handlers(): DevicePluginHandlers {
    const resource = this.resource;
    const name = resource.resourceName;
    return {
      getDevicePluginOptions: (_call, callback) => {
        callback(
          null,
          create(DevicePluginOptionsSchema, {
            preStartRequired: false,
            getPreferredAllocationAvailable: resource.preferredAllocationAvailable,
          }),
        );
      },

      listAndWatch: (call) => {
        if (this.#state !== 'serving') {
          call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'cloister: device plugin is stopping' });
          return;
        }
        const send = (): void => {
          if (call.cancelled || call.writableEnded) return;
          call.write(toListAndWatchResponse(resource.devices()));
        };
        const unsubscribe = resource.onChange(send);
        const stream: OpenStream = { call, unsubscribe };
        this.#streams.add(stream);
        this.#logger.info({ event: 'list_and_watch_opened', streams: this.#streams.size }, 'ListAndWatch opened');
        call.on('cancelled', () => {
          unsubscribe();
          if (!this.#streams.delete(stream) || this.#state !== 'serving') return;
          this.#logger.info(
            { event: 'list_and_watch_ended', streams: this.#streams.size },
            'kubelet ended ListAndWatch',
          );
          this.#onListAndWatchEnded?.(this.#streams.size);
        });
        send();
      },

      getPreferredAllocation: (call, callback) => {
        try {
          const containerResponses = call.request.containerRequests.map((r) =>
            create(ContainerPreferredAllocationResponseSchema, {
              deviceIDs: [
                ...resource.preferredAllocation(r.availableDeviceIDs, r.mustIncludeDeviceIDs, r.allocationSize),
              ],
            }),
          );
          callback(null, create(PreferredAllocationResponseSchema, { containerResponses }));
        } catch (err) {
          this.#metrics.error('preferred_allocation');
          const status = toGrpcError(err, name, 'GetPreferredAllocation');
          this.#logger.warn({ event: 'preferred_allocation_failed', err: status.details }, 'GetPreferredAllocation failed');
          callback(status);
        }
      },

      allocate: (call, callback) => {
        const started = process.hrtime.bigint();
        const requests = call.request.containerRequests;
        if (requests.length === 0) {
          this.#metrics.error('allocate_invalid_request');
          callback({
            code: grpc.status.INVALID_ARGUMENT,
            details: `cloister: Allocate for ${name} carries no container requests`,
          });
          return;
        }
        let responses: ContainerAllocateResponse[];
        let devices = 0;
        try {
          // All containers or none: the first failure fails the whole call and nothing is returned.
          responses = requests.map((r) => {
            devices += r.devicesIds.length;
            return toContainerAllocateResponse(resource.allocate(r.devicesIds));
          });
        } catch (err) {
          const code = AgentError.is(err) ? err.code.toLowerCase() : 'internal';
          this.#metrics.error(`allocate_${code}`);
          const status = toGrpcError(err, name, 'Allocate');
          this.#logger.warn({ event: 'allocate_failed', err: status.details }, 'Allocate failed');
          callback(status);
          return;
        }
        callback(null, create(AllocateResponseSchema, { containerResponses: responses }));
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        this.#metrics.allocate(name, devices, seconds);
      },

      preStartContainer: (_call, callback) => {
        callback(null, create(PreStartContainerResponseSchema, {}));
      },
    };
  }
}
