/**
 * Test utility (entry point @cloister/node-agent/testing), not used by the agent itself.
 * A kubelet stand-in for tests, built from the same generated schemas as the agent: a real grpc-js
 * `v1beta1.Registration` server on `<dir>/kubelet.sock` that behaves like kubelet's device manager where the plugin can
 * tell the difference: Register validates version and resource name, dials the plugin back (authority "localhost")
 * and calls GetDevicePluginOptions BEFORE answering, then runs ListAndWatch and keeps capacity (all devices) and
 * allocatable (Healthy devices) per resource. restart() wipes the directory as kubelet's CleanupPluginDirectory does.
 */
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { mkdirSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AllocateRequestSchema,
  ContainerAllocateRequestSchema,
  ContainerPreferredAllocationRequestSchema,
  EmptySchema,
  PreferredAllocationRequestSchema,
  type AllocateResponse,
  type DevicePluginOptions,
  type Empty,
  type ListAndWatchResponse,
  type PreferredAllocationResponse,
  type RegisterRequest,
} from '../../gen/k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1/api_pb.js';
import {
  DEVICE_PLUGIN_API_VERSION,
  KUBELET_SOCKET_NAME,
  devicePluginServiceDefinition,
  registrationServiceDefinition,
  unixTarget,
  type DevicePluginClient,
  type RegistrationHandlers,
  type ServerStreamingMethod,
} from '../grpc/services.js';

export const CHECKPOINT_FILE = 'kubelet_internal_checkpoint';
export const DEPRECATION_FILE = 'DEPRECATION';

export interface RegistrationRecord {
  readonly resourceName: string;
  readonly endpoint: string;
  readonly version: string;
  readonly options: { readonly preStartRequired: boolean; readonly getPreferredAllocationAvailable: boolean } | undefined;
  /** What the dial-back GetDevicePluginOptions returned. */
  readonly pluginOptions: { readonly preStartRequired: boolean; readonly getPreferredAllocationAvailable: boolean };
  readonly at: number;
}

export interface SeenDevice {
  readonly id: string;
  readonly health: string;
  readonly hasTopology: boolean;
}

export interface DeviceListRecord {
  readonly resourceName: string;
  /** Which registration (index into registrations) the stream belongs to. */
  readonly registration: number;
  readonly devices: readonly SeenDevice[];
  readonly capacity: number;
  readonly allocatable: number;
  /** The message exactly as it came off the wire. */
  readonly raw: Uint8Array;
  readonly at: number;
}

export interface ResourceState {
  readonly endpoint: string;
  /** ListAndWatch of the latest registration is open. */
  readonly connected: boolean;
  readonly capacity: number;
  /** 0 after the stream ended, as kubelet marks every device of a disconnected plugin unhealthy. */
  readonly allocatable: number;
  readonly devices: readonly SeenDevice[];
}

interface RawList {
  readonly raw: Uint8Array;
  readonly message: ListAndWatchResponse;
}

type KubeletSideClient = Omit<DevicePluginClient, 'listAndWatch'> & {
  listAndWatch: ServerStreamingMethod<Empty, RawList>;
};

const listAndWatchDefinition = devicePluginServiceDefinition.listAndWatch;
const KubeletSideClient = grpc.makeGenericClientConstructor(
  {
    ...devicePluginServiceDefinition,
    listAndWatch: {
      ...listAndWatchDefinition,
      responseDeserialize: (bytes: Buffer): RawList => ({
        raw: Uint8Array.from(bytes),
        message: listAndWatchDefinition.responseDeserialize(bytes),
      }),
    },
  },
  'v1beta1.DevicePlugin',
) as unknown as new (address: string, credentials: grpc.ChannelCredentials, options?: Partial<grpc.ChannelOptions>) => KubeletSideClient;

interface Endpoint {
  readonly registration: number;
  readonly endpoint: string;
  readonly client: KubeletSideClient;
  stream: grpc.ClientReadableStream<RawList> | undefined;
  connected: boolean;
  devices: readonly SeenDevice[];
  capacity: number;
  allocatable: number;
}

/** Close to kubelet's v1helper.IsExtendedResourceName: namespaced, not kubernetes.io, a valid qualified name. */
export function isExtendedResourceName(name: string): boolean {
  if (!name.includes('/') || name.includes('kubernetes.io/') || name.startsWith('requests.')) return false;
  const [prefix, local, ...rest] = name.split('/');
  if (prefix === undefined || local === undefined || rest.length > 0) return false;
  const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
  const qualifiedLocal = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
  return `requests.${prefix}`.length <= 253 && dnsSubdomain.test(prefix) && local.length <= 63 && qualifiedLocal.test(local);
}

function unary<T>(start: (callback: grpc.requestCallback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    start((err, value) => {
      if (err) reject(err);
      else if (value === undefined) reject(new Error('empty response'));
      else resolve(value);
    });
  });
}

export class KubeletDouble {
  readonly dir: string;
  readonly socketPath: string;
  readonly registrations: RegistrationRecord[] = [];
  readonly lists: DeviceListRecord[] = [];
  /** Register calls that failed, with kubelet's reason. */
  readonly refusals: { readonly resourceName: string; readonly reason: string }[] = [];
  readonly #endpoints = new Map<string, Endpoint>();
  readonly #retired: Endpoint[] = [];
  readonly #dialTimeoutMs: number;
  #server: grpc.Server | undefined;

  private constructor(dir: string, dialTimeoutMs: number) {
    this.dir = dir;
    this.#dialTimeoutMs = dialTimeoutMs;
    this.socketPath = join(dir, KUBELET_SOCKET_NAME);
  }

  /**
   * Starts like kubelet: clean the directory, then listen on kubelet.sock. `dialTimeoutMs` bounds the dial-back of
   * Register (kubelet: 10 s, blocking until the plugin socket accepts).
   */
  static async start(dir: string, options: { readonly dialTimeoutMs?: number } = {}): Promise<KubeletDouble> {
    const kubelet = new KubeletDouble(dir, options.dialTimeoutMs ?? 10_000);
    mkdirSync(dir, { recursive: true });
    kubelet.#cleanupPluginDirectory();
    await kubelet.#listen();
    return kubelet;
  }

  get listening(): boolean {
    return this.#server !== undefined;
  }

  state(resourceName: string): ResourceState | undefined {
    const e = this.#endpoints.get(resourceName);
    if (!e) return undefined;
    return { endpoint: e.endpoint, connected: e.connected, capacity: e.capacity, allocatable: e.allocatable, devices: e.devices };
  }

  registrationsOf(resourceName: string): RegistrationRecord[] {
    return this.registrations.filter((r) => r.resourceName === resourceName);
  }

  listsOf(resourceName: string): DeviceListRecord[] {
    return this.lists.filter((l) => l.resourceName === resourceName);
  }

  /** Resolves once predicate() holds (polled every 5 ms); rejects after timeoutMs. */
  async waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`kubelet double: timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Allocate as kubelet calls it at container admission: one ContainerAllocateRequest per container. */
  allocate(resourceName: string, containers: readonly (readonly string[])[], timeoutMs = 5000): Promise<AllocateResponse> {
    const client = this.#client(resourceName);
    const request = create(AllocateRequestSchema, {
      containerRequests: containers.map((ids) => create(ContainerAllocateRequestSchema, { devicesIds: [...ids] })),
    });
    return unary((cb) => client.allocate(request, { deadline: Date.now() + timeoutMs }, cb));
  }

  /** GetPreferredAllocation, preceded by GetDevicePluginOptions as kubelet does before any optional call. */
  async preferred(
    resourceName: string,
    containers: readonly { readonly available: readonly string[]; readonly mustInclude: readonly string[]; readonly size: number }[],
    timeoutMs = 5000,
  ): Promise<PreferredAllocationResponse> {
    const client = this.#client(resourceName);
    const options = await unary<DevicePluginOptions>((cb) =>
      client.getDevicePluginOptions(create(EmptySchema), { deadline: Date.now() + timeoutMs }, cb),
    );
    if (!options.getPreferredAllocationAvailable) {
      throw new Error(`kubelet double: ${resourceName} does not offer GetPreferredAllocation`);
    }
    const request = create(PreferredAllocationRequestSchema, {
      containerRequests: containers.map((c) =>
        create(ContainerPreferredAllocationRequestSchema, {
          availableDeviceIDs: [...c.available],
          mustIncludeDeviceIDs: [...c.mustInclude],
          allocationSize: c.size,
        }),
      ),
    });
    return unary((cb) => client.getPreferredAllocation(request, { deadline: Date.now() + timeoutMs }, cb));
  }

  /** Cancels kubelet's ListAndWatch of the resource (as when kubelet drops the connection to a plugin). */
  /** GetDevicePluginOptions, as kubelet calls it before optional calls. */
  pluginOptions(resourceName: string, timeoutMs = 5000): Promise<DevicePluginOptions> {
    const client = this.#client(resourceName);
    return unary((cb) => client.getDevicePluginOptions(create(EmptySchema), { deadline: Date.now() + timeoutMs }, cb));
  }

  cancelListAndWatch(resourceName: string): void {
    const e = this.#endpoints.get(resourceName);
    if (!e?.stream) throw new Error(`kubelet double: no ListAndWatch open for ${resourceName}`);
    e.stream.cancel();
  }

  /**
   * A kubelet restart: the process goes away (server and plugin connections closed), the new one deletes every
   * non-directory entry of the directory except the checkpoint, creates DEPRECATION and listens on kubelet.sock again.
   * `downMs`: time without a kubelet; `cleanupToListenMs`: time between the wipe and listening (both default 0).
   */
  async restart(options: { readonly downMs?: number; readonly cleanupToListenMs?: number } = {}): Promise<void> {
    this.#shutdown();
    if (options.downMs) await new Promise((r) => setTimeout(r, options.downMs));
    this.#cleanupPluginDirectory();
    writeFileSync(join(this.dir, DEPRECATION_FILE), '');
    if (options.cleanupToListenMs) await new Promise((r) => setTimeout(r, options.cleanupToListenMs));
    await this.#listen();
  }

  /** kubelet goes away; files stay as they are (apart from kubelet.sock, which Node removes when it stops listening). */
  async stop(): Promise<void> {
    this.#shutdown();
  }

  #shutdown(): void {
    this.#server?.forceShutdown();
    this.#server = undefined;
    for (const e of [...this.#endpoints.values(), ...this.#retired]) {
      e.stream?.cancel();
      e.client.close();
    }
    this.#endpoints.clear();
    this.#retired.length = 0;
  }

  #cleanupPluginDirectory(): void {
    for (const entry of readdirSync(this.dir, { withFileTypes: true })) {
      if (entry.isDirectory() || entry.name === CHECKPOINT_FILE) continue;
      try {
        unlinkSync(join(this.dir, entry.name));
      } catch {
        // gone already
      }
    }
  }

  async #listen(): Promise<void> {
    const server = new grpc.Server();
    const handlers: RegistrationHandlers = {
      register: (call, callback) => {
        this.#register(call.request).then(
          () => callback(null, create(EmptySchema, {})),
          (err: Error) => {
            this.refusals.push({ resourceName: call.request.resourceName, reason: err.message });
            // kubelet returns plain Go errors: grpc status Unknown with the text.
            callback({ code: grpc.status.UNKNOWN, details: err.message });
          },
        );
      },
    };
    server.addService(registrationServiceDefinition, handlers);
    await new Promise<void>((resolve, reject) => {
      server.bindAsync(unixTarget(this.socketPath), grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      );
    });
    this.#server = server;
  }

  async #register(request: RegisterRequest): Promise<void> {
    if (request.version !== DEVICE_PLUGIN_API_VERSION) {
      throw new Error(`device plugin API version "${request.version}" is not supported by this kubelet (supported: v1beta1)`);
    }
    if (!isExtendedResourceName(request.resourceName)) {
      throw new Error(`resource name "${request.resourceName}" is not a valid extended resource name`);
    }
    const endpointPath = join(this.dir, request.endpoint);
    const client = new KubeletSideClient(unixTarget(endpointPath), grpc.credentials.createInsecure(), {
      'grpc.default_authority': 'localhost',
      'grpc.use_local_subchannel_pool': 1,
    });
    let pluginOptions: DevicePluginOptions;
    try {
      const deadline = Date.now() + this.#dialTimeoutMs;
      await new Promise<void>((resolve, reject) => client.waitForReady(deadline, (err) => (err ? reject(err) : resolve())));
      pluginOptions = await unary<DevicePluginOptions>((cb) =>
        client.getDevicePluginOptions(create(EmptySchema), { deadline }, cb),
      );
    } catch (err) {
      client.close();
      throw new Error(`failed to dial device plugin at ${endpointPath}: ${(err as Error).message}`);
    }
    if (!this.#server) {
      client.close();
      throw new Error('kubelet is shutting down');
    }
    const index = this.registrations.length;
    this.registrations.push({
      resourceName: request.resourceName,
      endpoint: request.endpoint,
      version: request.version,
      options: request.options && {
        preStartRequired: request.options.preStartRequired,
        getPreferredAllocationAvailable: request.options.getPreferredAllocationAvailable,
      },
      pluginOptions: {
        preStartRequired: pluginOptions.preStartRequired,
        getPreferredAllocationAvailable: pluginOptions.getPreferredAllocationAvailable,
      },
      at: Date.now(),
    });
    const previous = this.#endpoints.get(request.resourceName);
    if (previous) this.#retired.push(previous);
    const endpoint: Endpoint = {
      registration: index,
      endpoint: request.endpoint,
      client,
      stream: undefined,
      connected: true,
      devices: [],
      capacity: 0,
      allocatable: 0,
    };
    this.#endpoints.set(request.resourceName, endpoint);
    // kubelet runs ListAndWatch after Register has returned (its client's Run goroutine).
    setImmediate(() => this.#listAndWatch(request.resourceName, endpoint));
  }

  #listAndWatch(resourceName: string, e: Endpoint): void {
    if (this.#endpoints.get(resourceName) !== e) return;
    const stream = e.client.listAndWatch(create(EmptySchema));
    e.stream = stream;
    stream.on('data', ({ raw, message }: RawList) => {
      const devices = message.devices.map((d) => ({ id: d.ID, health: d.health, hasTopology: d.topology !== undefined }));
      const allocatable = devices.filter((d) => d.health === 'Healthy').length;
      this.lists.push({ resourceName, registration: e.registration, devices, capacity: devices.length, allocatable, raw, at: Date.now() });
      if (this.#endpoints.get(resourceName) === e) {
        e.devices = devices;
        e.capacity = devices.length;
        e.allocatable = allocatable;
      }
    });
    const ended = (): void => {
      e.connected = false;
      e.allocatable = 0;
      e.stream = undefined;
      if (this.#endpoints.get(resourceName) !== e) e.client.close();
    };
    stream.on('error', ended);
    stream.on('end', ended);
  }

  #client(resourceName: string): KubeletSideClient {
    const e = this.#endpoints.get(resourceName);
    if (!e) throw new Error(`kubelet double: ${resourceName} is not registered`);
    return e.client;
  }
}
