/**
 * Runs one DevicePluginServer and one kubelet registration per DeviceResource and keeps them registered:
 * serve first, then Register; restart (new server, new socket, Register again) when our socket is removed or renamed
 * or when kubelet.sock is (re)created; Register again when kubelet ends ListAndWatch. Failures retry with backoff and
 * never throw out of the lifecycle.
 */
import { watch, statSync, type FSWatcher } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AgentError } from './errors.js';
import { DEVICE_PLUGIN_PATH, KUBELET_SOCKET_NAME } from './grpc/services.js';
import { DevicePluginServer, noopMetrics, silentLogger } from './plugin-server.js';
import { Backoff, register, type BackoffOptions } from './registrar.js';
import type { AgentMetrics, DeviceResource } from './types.js';

export interface PluginManagerOptions {
  readonly resources: readonly DeviceResource[];
  /** Default /var/lib/kubelet/device-plugins. */
  readonly pluginDir?: string;
  /** Default `<pluginDir>/kubelet.sock`. */
  readonly kubeletSocket?: string;
  readonly logger?: Logger;
  readonly metrics?: AgentMetrics;
  /** Deadline of each Register call. Default 10 000 ms. */
  readonly registerTimeoutMs?: number;
  /** Retry delays after failed starts or registrations. Default base 250 ms, factor 2, max 30 s, jitter 0.2. */
  readonly backoff?: BackoffOptions;
  /** Safety net besides fs.watch: how often the sockets are checked. Default 10 000 ms; 0 disables. */
  readonly checkIntervalMs?: number;
  /** Passed to each DevicePluginServer. Default 1000 ms. */
  readonly shutdownTimeoutMs?: number;
}

export interface PluginStatus {
  readonly resourceName: string;
  readonly socketPath: string;
  /** Serving and accepted by the current kubelet (until the next restart trigger). */
  readonly registered: boolean;
  /** Successful Register calls so far. */
  readonly registrations: number;
  /** Servers started so far (1 + restarts). */
  readonly starts: number;
  readonly lastError: string | undefined;
}

const NONE = 0;
const REGISTER = 1;
const RESTART = 2;
type Pending = typeof NONE | typeof REGISTER | typeof RESTART;

interface Slot {
  readonly resource: DeviceResource;
  readonly socketPath: string;
  readonly backoff: Backoff;
  server: DevicePluginServer | undefined;
  pending: Pending;
  looping: boolean;
  loop: Promise<void>;
  restarting: boolean;
  registered: boolean;
  registrations: number;
  starts: number;
  lastError: string | undefined;
  wake: (() => void) | undefined;
}

export class PluginManager {
  readonly pluginDir: string;
  readonly kubeletSocket: string;
  readonly #logger: Logger;
  readonly #metrics: AgentMetrics;
  readonly #registerTimeoutMs: number;
  readonly #checkIntervalMs: number;
  readonly #shutdownTimeoutMs: number;
  readonly #slots: Slot[];
  readonly #abort = new AbortController();
  #watcher: FSWatcher | undefined;
  #rewatchTimer: NodeJS.Timeout | undefined;
  #checkTimer: NodeJS.Timeout | undefined;
  #kubeletId: string | undefined;
  #state: 'new' | 'running' | 'stopped' = 'new';

  constructor(options: PluginManagerOptions) {
    this.pluginDir = options.pluginDir ?? DEVICE_PLUGIN_PATH;
    this.kubeletSocket = options.kubeletSocket ?? join(this.pluginDir, KUBELET_SOCKET_NAME);
    this.#logger = options.logger ?? silentLogger();
    this.#metrics = options.metrics ?? noopMetrics;
    this.#registerTimeoutMs = options.registerTimeoutMs ?? 10_000;
    this.#checkIntervalMs = options.checkIntervalMs ?? 10_000;
    this.#shutdownTimeoutMs = options.shutdownTimeoutMs ?? 1000;
    const names = new Set<string>();
    const sockets = new Set<string>([KUBELET_SOCKET_NAME]);
    this.#slots = options.resources.map((resource) => {
      if (names.has(resource.resourceName)) {
        throw new AgentError('CONFIG_INVALID', `cloister: resource ${resource.resourceName} is configured twice`);
      }
      if (sockets.has(resource.socketName) || resource.socketName.includes('/')) {
        throw new AgentError(
          'CONFIG_INVALID',
          `cloister: socket name "${resource.socketName}" of ${resource.resourceName} is taken or not a plain file name`,
        );
      }
      names.add(resource.resourceName);
      sockets.add(resource.socketName);
      return {
        resource,
        socketPath: join(this.pluginDir, resource.socketName),
        backoff: new Backoff(options.backoff),
        server: undefined,
        pending: NONE,
        looping: false,
        loop: Promise.resolve(),
        restarting: false,
        registered: false,
        registrations: 0,
        starts: 0,
        lastError: undefined,
        wake: undefined,
      };
    });
  }

  /**
   * Starts every plugin server, then registers in the background. Rejects only if a server cannot start the first time
   * (e.g. SOCKET_IN_USE: another agent serves that socket); registration failures are retried, never thrown.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error('PluginManager.start() called twice');
    this.#state = 'running';
    await mkdir(this.pluginDir, { recursive: true, mode: 0o750 });
    this.#kubeletId = this.#socketId(this.kubeletSocket);
    this.#watch();
    try {
      for (const slot of this.#slots) await this.#startServer(slot);
    } catch (err) {
      await this.stop();
      throw err;
    }
    for (const slot of this.#slots) this.#trigger(slot, REGISTER, 'start');
    if (this.#checkIntervalMs > 0) {
      this.#checkTimer = setInterval(() => this.#check(), this.#checkIntervalMs);
      this.#checkTimer.unref();
    }
  }

  /** Stops watching, cancels registrations in flight and stops every server (their sockets are removed). */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#abort.abort();
    this.#watcher?.close();
    this.#watcher = undefined;
    clearTimeout(this.#rewatchTimer);
    clearInterval(this.#checkTimer);
    for (const slot of this.#slots) slot.wake?.();
    await Promise.all(this.#slots.map((s) => s.loop));
    await Promise.all(
      this.#slots.map(async (slot) => {
        const server = slot.server;
        slot.server = undefined;
        slot.registered = false;
        await server?.stop();
      }),
    );
    this.#logger.info({ event: 'manager_stopped' }, 'device plugins stopped');
  }

  status(): PluginStatus[] {
    return this.#slots.map((s) => ({
      resourceName: s.resource.resourceName,
      socketPath: s.socketPath,
      registered: s.registered,
      registrations: s.registrations,
      starts: s.starts,
      lastError: s.lastError,
    }));
  }

  /** True when every resource is registered with the current kubelet. */
  ready(): boolean {
    return this.#state === 'running' && this.#slots.every((s) => s.registered);
  }

  #trigger(slot: Slot, kind: Pending, reason: string): void {
    if (this.#state !== 'running') return;
    if (kind > slot.pending) slot.pending = kind;
    slot.registered = false;
    this.#logger.debug({ event: 'trigger', resource: slot.resource.resourceName, kind, reason }, 'plugin trigger');
    slot.wake?.();
    if (!slot.looping) {
      slot.looping = true;
      slot.loop = this.#run(slot);
    }
  }

  /** Works off `pending` until nothing is left; the only place that restarts servers and calls Register. */
  async #run(slot: Slot): Promise<void> {
    for (;;) {
      if (this.#state !== 'running' || slot.pending === NONE) {
        slot.looping = false;
        return;
      }
      const restart = slot.pending === RESTART || slot.server === undefined || !slot.server.serving;
      slot.pending = NONE;
      let phase: 'start' | 'register' = 'start';
      try {
        if (restart) await this.#restartServer(slot);
        phase = 'register';
        await this.#register(slot);
        slot.backoff.reset();
        // Socket events seen while the server was being replaced were ignored; look once more now.
        if (slot.server && !slot.server.socketIntact()) this.#trigger(slot, RESTART, 'socket changed during restart');
      } catch (err) {
        if (this.#state !== 'running') continue;
        const message = err instanceof Error ? err.message : String(err);
        slot.lastError = message;
        slot.registered = false;
        if (phase === 'register') this.#metrics.registration(slot.resource.resourceName, false);
        this.#metrics.error(phase === 'start' ? 'plugin_start' : 'registration');
        const delay = slot.backoff.next();
        const event = phase === 'start' ? 'plugin_start_failed' : 'registration_failed';
        this.#logger.warn(
          { event, resource: slot.resource.resourceName, retryInMs: delay, err: message },
          phase === 'start' ? 'device plugin could not start; retrying' : 'registration with kubelet failed; retrying',
        );
        const retry: Pending = phase === 'start' ? RESTART : REGISTER;
        if (retry > slot.pending) slot.pending = retry;
        await this.#sleep(slot, delay);
      }
    }
  }

  async #startServer(slot: Slot): Promise<void> {
    const server: DevicePluginServer = new DevicePluginServer({
      pluginDir: this.pluginDir,
      resource: slot.resource,
      logger: this.#logger,
      metrics: this.#metrics,
      shutdownTimeoutMs: this.#shutdownTimeoutMs,
      onListAndWatchEnded: (remaining) => {
        // Only the last stream of the current server matters: kubelet has let go of this plugin.
        if (remaining === 0 && slot.server === server && !slot.restarting) {
          this.#trigger(slot, REGISTER, 'kubelet ended ListAndWatch');
        }
      },
    });
    await server.start();
    slot.server = server;
    slot.starts++;
  }

  async #restartServer(slot: Slot): Promise<void> {
    slot.restarting = true;
    try {
      // The old server must be closed before the new one binds: Node unlinks a unix socket's path when its listener
      // closes, which would otherwise delete the new socket.
      const old = slot.server;
      slot.server = undefined;
      slot.registered = false;
      await old?.stop();
      await this.#startServer(slot);
      this.#logger.info(
        { event: 'plugin_restarted', resource: slot.resource.resourceName, starts: slot.starts },
        'device plugin restarted',
      );
    } finally {
      slot.restarting = false;
    }
  }

  async #register(slot: Slot): Promise<void> {
    const started = Date.now();
    await register(
      this.kubeletSocket,
      {
        resourceName: slot.resource.resourceName,
        endpoint: slot.resource.socketName,
        options: {
          preStartRequired: false,
          getPreferredAllocationAvailable: slot.resource.preferredAllocationAvailable,
        },
      },
      { timeoutMs: this.#registerTimeoutMs, signal: this.#abort.signal },
    );
    slot.registered = slot.pending === NONE;
    slot.registrations++;
    slot.lastError = undefined;
    this.#metrics.registration(slot.resource.resourceName, true);
    this.#logger.info(
      {
        event: 'registered',
        resource: slot.resource.resourceName,
        endpoint: slot.resource.socketName,
        ms: Date.now() - started,
      },
      'registered with kubelet',
    );
  }

  /** Waits `ms`, or less if a new trigger (or stop) arrives. */
  #sleep(slot: Slot, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        slot.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      slot.wake = done;
    });
  }

  #watch(): void {
    if (this.#state !== 'running') return;
    try {
      const watcher = watch(this.pluginDir, { persistent: false }, (_event, filename) => this.#onDirEvent(filename));
      watcher.on('error', (err) => {
        this.#logger.warn(
          { event: 'watch_failed', dir: this.pluginDir, err: err.message },
          'plugin directory watch failed',
        );
        watcher.close();
        if (this.#watcher === watcher) this.#watcher = undefined;
        this.#rewatchSoon();
      });
      this.#watcher = watcher;
      // Anything that happened while no watcher was active.
      this.#check();
    } catch (err) {
      this.#logger.warn(
        { event: 'watch_failed', dir: this.pluginDir, err: (err as Error).message },
        'cannot watch plugin directory',
      );
      this.#rewatchSoon();
    }
  }

  #rewatchSoon(): void {
    if (this.#state !== 'running') return;
    clearTimeout(this.#rewatchTimer);
    this.#rewatchTimer = setTimeout(() => {
      void mkdir(this.pluginDir, { recursive: true, mode: 0o750 })
        .catch(() => {})
        .then(() => this.#watch());
    }, 500);
    this.#rewatchTimer.unref();
  }

  #onDirEvent(filename: string | Buffer | null): void {
    if (this.#state !== 'running') return;
    if (filename === null) {
      // The kernel queue overflowed or the name is unknown: check everything.
      this.#check();
      return;
    }
    const name = filename.toString();
    if (name === KUBELET_SOCKET_NAME && join(this.pluginDir, name) === this.kubeletSocket) {
      this.#checkKubelet();
      return;
    }
    for (const slot of this.#slots) {
      if (slot.resource.socketName === name) this.#checkSocket(slot);
    }
    // Other entries (kubelet's DEPRECATION file, its checkpoint, other plugins' sockets) are none of our business.
  }

  #check(): void {
    if (this.#state !== 'running') return;
    this.#checkKubelet();
    for (const slot of this.#slots) this.#checkSocket(slot);
  }

  /** A kubelet.sock with a new identity means a (re)started kubelet: every plugin restarts and registers with it. */
  #checkKubelet(): void {
    const id = this.#socketId(this.kubeletSocket);
    if (id === this.#kubeletId) return;
    this.#kubeletId = id;
    if (id === undefined) {
      this.#logger.info({ event: 'kubelet_socket_removed', socket: this.kubeletSocket }, 'kubelet socket disappeared');
      return;
    }
    this.#logger.info({ event: 'kubelet_socket_created', socket: this.kubeletSocket }, 'kubelet socket (re)created');
    for (const slot of this.#slots) this.#trigger(slot, RESTART, 'kubelet.sock created');
  }

  /** Our socket removed or replaced (kubelet wipes the directory when it starts) → restart that plugin. */
  #checkSocket(slot: Slot): void {
    if (slot.restarting || slot.server === undefined) return;
    if (slot.server.socketIntact()) return;
    this.#logger.info({ event: 'plugin_socket_removed', socket: slot.socketPath }, 'plugin socket removed or replaced');
    this.#trigger(slot, RESTART, 'plugin socket removed');
  }

  /** Identity of a socket file: inode numbers are reused at once on tmpfs/ext4, so the change time is part of it. */
  #socketId(path: string): string | undefined {
    try {
      const st = statSync(path);
      return st.isSocket() ? `${st.dev}:${st.ino}:${st.ctimeMs}` : undefined;
    } catch {
      return undefined;
    }
  }
}
