import type { Duplex } from 'node:stream';

/**
 * The programming model, declared once and typed on both sides (docs/developers/enclave-sdk.md).
 *
 * Enclave side: `export default defineEnclave({ ecalls: { name: async (args, ctx) => result } })`.
 * Host side: `const enclave = await createEnclave<typeof definition>(dir, options); await enclave.ecalls.name(args)`.
 * Values cross the boundary by structured serialization (the HTML structured clone algorithm: v8.serialize, in
 * frames of the host channel) with a size limit; nothing else crosses.
 */

/** What an enclave knows about itself (from its SECS / SIGSTRUCT). */
export interface EnclaveSelf {
  readonly mrenclave: string;
  readonly mrsigner: string;
  readonly productId: number;
  readonly securityVersion: number;
  readonly debug: boolean;
}

export type SealPolicy = 'MRENCLAVE' | 'MRSIGNER';

export interface SealOptions {
  /** Default MRSIGNER (as the Intel SDK and Open Enclave). */
  readonly policy?: SealPolicy;
  /** Authenticated, not encrypted (the SDK's additional MAC text). */
  readonly additionalData?: Uint8Array;
}

export interface EnclaveLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** What the host tells an enclave about a connection it accepted and relays (onConnection). */
export interface ConnectionInfo {
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly localPort?: number;
}

/**
 * The `ctx` every ecall receives: the enclave's way out through its host (ocalls, platform services, relayed
 * streams). On the sim backend it is the ONLY way out where the sandbox has a network namespace (root); elsewhere
 * enclave code can still open sockets itself (docs/security.md).
 */
export interface EnclaveContext {
  /**
   * A TCP connection opened BY THE HOST (if its `connect` policy allows host:port) and relayed to the enclave as a
   * byte stream: use it with `tls.connect({ socket })` so that the host only moves ciphertext. CONNECT_REFUSED if
   * the host refuses or cannot connect; STREAM_LIMIT over the stream limit.
   */
  connect(host: string, port: number): Promise<Duplex>;
  /** Call a host function the host declared in `ocalls`. */
  ocall<T = unknown>(name: string, args?: unknown): Promise<T>;
  /** EREPORT: a 432-byte REPORT with `reportData` (≤ 64 bytes), targeted at `targetInfo` (default: itself). */
  getReport(reportData: Uint8Array, targetInfo?: Uint8Array): Promise<Uint8Array>;
  /** A DCAP quote over `reportData` (≤ 64 bytes): out of process through AESM when SGX_AESM_ADDR is set, else in process. */
  getQuote(reportData: Uint8Array): Promise<Uint8Array>;
  identity(): Promise<EnclaveSelf>;
  seal(data: Uint8Array, options?: SealOptions): Promise<Uint8Array>;
  unseal(blob: Uint8Array): Promise<{ data: Uint8Array; additionalData: Uint8Array }>;
  readonly log: EnclaveLogger;
}

// eslint-style `any` is avoided: arguments are `never`-safe unknowns narrowed by the handler's own signature.
export type EcallHandler<A = never, R = unknown> = (args: A, ctx: EnclaveContext) => R | Promise<R>;

/**
 * A connection the host accepted (handle.listen / handle.relay) relayed into the enclave as a byte stream; typically
 * `new tls.TLSSocket(stream, { isServer: true, key, cert })` so that TLS ends inside the enclave.
 */
export type ConnectionHandler = (stream: Duplex, info: ConnectionInfo, ctx: EnclaveContext) => void | Promise<void>;

export interface EnclaveDefinition<E extends Record<string, EcallHandler<never, unknown>>> {
  readonly ecalls: E;
  readonly onConnection?: ConnectionHandler;
}

/** Host-side view of an ecall: the same argument and result types, always async. */
export type HostEcalls<E extends Record<string, EcallHandler<never, unknown>>> = {
  readonly [K in keyof E]: E[K] extends (args: infer A, ctx: EnclaveContext) => infer R
    ? (...args: [A] extends [never] ? [] : [args: A]) => Promise<Awaited<R>>
    : never;
};

export type OcallHandler = (args: never) => unknown;

/**
 * What the (simulated or real) CPU and platform provide to one enclave, implemented on the host side by a backend
 * (sim: @cloister/sgx-sim + the AESM client). The enclave runtime reaches these only through the boundary.
 */
export interface EnclaveServices {
  self(): EnclaveSelf;
  report(reportData: Uint8Array, targetInfo?: Uint8Array): Promise<Uint8Array>;
  quote(reportData: Uint8Array): Promise<Uint8Array>;
  seal(data: Uint8Array, options?: SealOptions): Promise<Uint8Array>;
  unseal(blob: Uint8Array): Promise<{ data: Uint8Array; additionalData: Uint8Array }>;
}
