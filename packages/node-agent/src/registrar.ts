/**
 * Registration with kubelet (`/v1beta1.Registration/Register` on kubelet.sock) and the backoff used between attempts.
 * kubelet answers Register only after it has dialled the plugin back and called GetDevicePluginOptions, so the plugin's
 * server must be serving before register() is called.
 */
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import {
  DevicePluginOptionsSchema,
  RegisterRequestSchema,
} from '../gen/k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1/api_pb.js';
import { AgentError } from './errors.js';
import {
  DEVICE_PLUGIN_API_VERSION,
  RegistrationClient,
  UNIX_CLIENT_CHANNEL_OPTIONS,
  unixTarget,
} from './grpc/services.js';

export interface RegisterOptions {
  readonly preStartRequired: boolean;
  readonly getPreferredAllocationAvailable: boolean;
}

export interface RegistrationRequest {
  readonly resourceName: string;
  /** Socket file name of the plugin, relative to the device-plugins directory. */
  readonly endpoint: string;
  readonly options: RegisterOptions;
}

export interface RegisterCallOptions {
  /** Deadline of the Register call (kubelet dials back with a 10 s timeout of its own). Default 10 000 ms. */
  readonly timeoutMs?: number;
  /** Aborting cancels the call; the promise then rejects with REGISTRATION_FAILED. */
  readonly signal?: AbortSignal;
}

/**
 * Calls Register on kubelet's socket. Resolves when kubelet accepted the plugin; rejects with AgentError
 * REGISTRATION_FAILED carrying kubelet's message (or why kubelet could not be reached).
 */
export function register(
  kubeletSocketPath: string,
  request: RegistrationRequest,
  callOptions: RegisterCallOptions = {},
): Promise<void> {
  const timeoutMs = callOptions.timeoutMs ?? 10_000;
  const what = `register ${request.resourceName} (endpoint ${request.endpoint}) with kubelet at ${kubeletSocketPath}`;
  if (callOptions.signal?.aborted) {
    return Promise.reject(new AgentError('REGISTRATION_FAILED', `cloister: cannot ${what}: cancelled`));
  }
  const client = new RegistrationClient(
    unixTarget(kubeletSocketPath),
    grpc.credentials.createInsecure(),
    UNIX_CLIENT_CHANNEL_OPTIONS,
  );
  const message = create(RegisterRequestSchema, {
    version: DEVICE_PLUGIN_API_VERSION,
    endpoint: request.endpoint,
    resourceName: request.resourceName,
    options: create(DevicePluginOptionsSchema, {
      preStartRequired: request.options.preStartRequired,
      getPreferredAllocationAvailable: request.options.getPreferredAllocationAvailable,
    }),
  });
  return new Promise<void>((resolve, reject) => {
    let onAbort: (() => void) | undefined;
    const call = client.register(message, { deadline: Date.now() + timeoutMs }, (err) => {
      if (onAbort) callOptions.signal?.removeEventListener('abort', onAbort);
      client.close();
      if (!err) {
        resolve();
        return;
      }
      reject(
        new AgentError('REGISTRATION_FAILED', `cloister: cannot ${what}: ${describeRegisterError(err)}`, {
          cause: err,
        }),
      );
    });
    if (callOptions.signal) {
      onAbort = () => call.cancel();
      callOptions.signal.addEventListener('abort', onAbort, { once: true });
    }
  });
}

function describeRegisterError(err: grpc.ServiceError): string {
  switch (err.code) {
    case grpc.status.UNAVAILABLE:
      return `kubelet is not reachable (${err.details || 'connection failed'})`;
    case grpc.status.DEADLINE_EXCEEDED:
      return 'kubelet did not answer in time (it dials the plugin back and calls GetDevicePluginOptions first)';
    case grpc.status.CANCELLED:
      return 'cancelled';
    default:
      // kubelet returns plain Go errors, which arrive as UNKNOWN with its text in details.
      return err.details || err.message;
  }
}

export interface BackoffOptions {
  /** First delay. Default 250 ms. */
  readonly baseMs?: number;
  /** Growth per failed attempt. Default 2. */
  readonly factor?: number;
  /** Upper bound of any delay. Default 30 000 ms. */
  readonly maxMs?: number;
  /** Fraction of the delay removed at random (0..1), so that several plugins do not retry in lockstep. Default 0.2. */
  readonly jitter?: number;
  /** Source of randomness in [0, 1). Default Math.random. */
  readonly random?: () => number;
}

/** Delay before retry number `attempt` (0-based): min(max, base·factor^attempt), minus up to `jitter` of it. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 250;
  const factor = options.factor ?? 2;
  const max = options.maxMs ?? 30_000;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.2));
  const random = options.random ?? Math.random;
  const exponent = Math.max(0, Math.floor(attempt));
  const raw = Math.min(max, base * Math.pow(factor, exponent));
  return Math.round(raw * (1 - jitter * random()));
}

/** Stateful wrapper of backoffDelay: next() grows the delay, reset() after a success. */
export class Backoff {
  readonly #options: BackoffOptions;
  #attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.#options = options;
  }

  get attempt(): number {
    return this.#attempt;
  }

  next(): number {
    return backoffDelay(this.#attempt++, this.#options);
  }

  reset(): void {
    this.#attempt = 0;
  }
}
