/**
 * Attested TLS over Node's `tls` and `https`: the peer is verified from its RA-TLS certificate before the
 * application sees the connection.
 *
 * The handshake itself runs with `rejectUnauthorized: false`, because RA-TLS certificates are self-signed and are
 * not trusted through a CA. The TLS handshake proves that the peer holds the private key of the certificate it sent
 * (CertificateVerify). The attestation then proves that this key belongs to an enclave the policy accepts: quote
 * verification, the report-data binding of the key, and the policy. Quote verification is asynchronous, so it runs
 * after the handshake and before any application data is exchanged:
 *  - client side (`connectAttested`, `attestedHttpsAgent`): the socket is handed to the caller, or to the HTTP
 *    client, only once the server's certificate verifies. On failure the socket is destroyed and the promise rejects
 *    with the RatlsError (or DcapError, or the PolicyError of @cloister/policy when the policy refuses the peer).
 *  - the policy is validated (@cloister/policy parsePolicy) when the server, agent or connection is made: a malformed
 *    one is a PolicyError POLICY_INVALID at once, never a refusal at the first handshake.
 *  - server side (`createAttestedServer`, `createAttestedHttpsServer` with `requestClientCertificate`): the server's
 *    `secureConnection` event, which is what the application and the HTTP parser listen to, is emitted only once the
 *    client's certificate verifies. Until then nothing listens to the socket: what the client sends stays buffered.
 *    On failure the socket is destroyed without a byte having been delivered, and the server emits `tlsClientError`
 *    with the error.
 */
import type { Duplex } from 'node:stream';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { QuoteVerifier } from '@cloister/dcap';
import { nodeCryptoProvider } from '@cloister/dcap/node';
import { parsePolicy } from '@cloister/policy';
import { RatlsError } from './errors.js';
import { verifyAttestedCertificate, type AttestedPolicy, type AttestedVerification, type VerifyAttestedOptions } from './verify.js';

/** How to verify a peer: the policy its enclave must satisfy, and how to verify its quote. */
export interface PeerVerification {
  readonly policy: AttestedPolicy;
  readonly verifyOptions?: VerifyAttestedOptions;
}

/**
 * One warm QuoteVerifier (Node crypto; memoised chains, collateral and signatures) per verifyOptions object, unless
 * the caller passes its own: every handshake of a server, an agent, or connections sharing their options reuses it.
 */
const warmVerifiers = new WeakMap<VerifyAttestedOptions, QuoteVerifier>();
const NO_OPTIONS: VerifyAttestedOptions = {};

function withWarmVerifier(options: VerifyAttestedOptions | undefined): VerifyAttestedOptions {
  const o = options ?? NO_OPTIONS;
  if (o.verifier !== undefined) return o;
  let verifier = warmVerifiers.get(o);
  if (verifier === undefined) {
    verifier = new QuoteVerifier({ crypto: nodeCryptoProvider(), ...(o.trustRoots !== undefined ? { trustAnchors: o.trustRoots } : {}) });
    warmVerifiers.set(o, verifier);
  }
  return { ...o, verifier };
}

const attestations = new WeakMap<tls.TLSSocket, AttestedVerification>();

/** The verified attestation of the peer of `socket`, when it was verified by one of these helpers. */
export function peerAttestation(socket: tls.TLSSocket): AttestedVerification | undefined {
  return attestations.get(socket);
}

/** The peer's certificate, DER, as received in the handshake (undefined when it sent none). */
function peerCertificateDer(socket: tls.TLSSocket): Uint8Array | undefined {
  const x509 = socket.getPeerX509Certificate();
  if (x509 === undefined) return undefined;
  const raw = x509.raw;
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
}

/**
 * Verify the peer certificate of an established TLS socket. Resolves with the verification (also kept for
 * {@link peerAttestation}); rejects when the peer sent no certificate or when its certificate fails.
 */
export async function verifyPeer(socket: tls.TLSSocket, verification: PeerVerification): Promise<AttestedVerification> {
  const der = peerCertificateDer(socket);
  if (der === undefined) throw new RatlsError('NO_EVIDENCE', 'the TLS peer presented no certificate, so no attestation evidence');
  const result = await verifyAttestedCertificate(der, verification.policy, withWarmVerifier(verification.verifyOptions));
  attestations.set(socket, result);
  return result;
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

// ---------------------------------------------------------------------------------------------------------------------
// Servers

export interface AttestedServerOptions extends tls.TlsOptions {
  /** The server's RA-TLS certificate (createAttestedCertificate). */
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  /** Mutual attested TLS: require a client RA-TLS certificate that satisfies this. */
  readonly requestClientCertificate?: PeerVerification;
}

function serverTlsOptions(options: AttestedServerOptions): tls.TlsOptions {
  const { certificatePem, privateKeyPem, requestClientCertificate, ...rest } = options;
  const mutual = requestClientCertificate !== undefined;
  return {
    ...rest,
    cert: certificatePem,
    key: privateKeyPem,
    ...(mutual ? { requestCert: true, rejectUnauthorized: false } : {}),
  };
}

/**
 * Hold `secureConnection` back until the client's certificate verifies. Every listener (the caller's, and for https
 * the HTTP parser) is attached to that event, so nothing reads the socket before the verification succeeds.
 */
function gateSecureConnection(server: tls.Server, peer: PeerVerification): void {
  const verification: PeerVerification = { ...peer, policy: parsePolicy(peer.policy) };
  const emit = server.emit.bind(server) as (event: string | symbol, ...args: unknown[]) => boolean;
  server.emit = ((event: string | symbol, ...args: unknown[]): boolean => {
    if (event !== 'secureConnection') return emit(event, ...args);
    const socket = args[0] as tls.TLSSocket;
    // Nobody listens to the socket yet: what the client sends stays buffered (not flowing) until then.
    verifyPeer(socket, verification).then(
      () => {
        if (!socket.destroyed) emit('secureConnection', socket);
      },
      (e: unknown) => {
        socket.destroy();
        emit('tlsClientError', asError(e), socket);
      },
    );
    return true;
  }) as typeof server.emit;
}

/**
 * A TLS server presenting an RA-TLS certificate. With `requestClientCertificate`, mutual attested TLS: a client is
 * delivered to `secureConnection` (and `listener`) only once its attested certificate satisfies the policy; a failing
 * client is destroyed and reported with `tlsClientError` (error, socket).
 */
export function createAttestedServer(options: AttestedServerOptions, listener?: (socket: tls.TLSSocket) => void): tls.Server {
  const server = tls.createServer(serverTlsOptions(options));
  if (options.requestClientCertificate !== undefined) gateSecureConnection(server, options.requestClientCertificate);
  if (listener !== undefined) server.on('secureConnection', listener);
  return server;
}

export interface AttestedHttpsServerOptions extends AttestedServerOptions, Omit<https.ServerOptions, keyof tls.TlsOptions> {}

/** The same as an https server: requests are parsed only on connections whose client verified (when mutual). */
export function createAttestedHttpsServer(
  options: AttestedHttpsServerOptions,
  requestListener?: Parameters<typeof https.createServer>[1],
): https.Server {
  const server =
    requestListener !== undefined
      ? https.createServer(serverTlsOptions(options), requestListener)
      : https.createServer(serverTlsOptions(options));
  if (options.requestClientCertificate !== undefined) gateSecureConnection(server, options.requestClientCertificate);
  return server;
}

// ---------------------------------------------------------------------------------------------------------------------
// Clients

export interface ConnectAttestedOptions
  extends PeerVerification,
    Omit<tls.ConnectionOptions, 'cert' | 'key' | 'rejectUnauthorized' | 'checkServerIdentity'> {
  readonly host?: string;
  readonly port?: number;
  /** Mutual attested TLS: the client's own RA-TLS certificate and key. */
  readonly certificatePem?: string;
  readonly privateKeyPem?: string;
}

/** The identity is the attestation, not a name: RA-TLS certificates carry no DNS names. */
function noNameCheck(): undefined {
  return undefined;
}

function clientTlsOptions(options: ConnectAttestedOptions): tls.ConnectionOptions {
  const { policy: _policy, verifyOptions: _verifyOptions, certificatePem, privateKeyPem, ...rest } = options;
  return {
    ...rest,
    ...(certificatePem !== undefined ? { cert: certificatePem } : {}),
    ...(privateKeyPem !== undefined ? { key: privateKeyPem } : {}),
    rejectUnauthorized: false,
    checkServerIdentity: noNameCheck,
  };
}

/**
 * Verify `socket` once its handshake completes: resolve with it, or destroy it and reject with the verification
 * error (or the connection error).
 */
function attestOnSecureConnect(socket: tls.TLSSocket, verification: PeerVerification): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => {
      socket.removeListener('secureConnect', onSecure);
      reject(e);
    };
    const onSecure = (): void => {
      verifyPeer(socket, verification).then(
        () => {
          socket.removeListener('error', onError);
          if (socket.destroyed) reject(new Error('the attested TLS connection closed during verification'));
          else resolve(socket);
        },
        (e: unknown) => {
          socket.removeListener('error', onError);
          socket.destroy();
          reject(asError(e));
        },
      );
    };
    socket.once('error', onError);
    socket.once('secureConnect', onSecure);
  });
}

/**
 * Connect to an attested TLS server: resolves with the socket once the server's RA-TLS certificate satisfies
 * `policy` (what the server sent meanwhile is buffered, unread). On failure the socket is destroyed
 * and the promise rejects with the RatlsError. With certificatePem/privateKeyPem, presents the client's own RA-TLS
 * certificate (mutual).
 */
export function connectAttested(options: ConnectAttestedOptions): Promise<tls.TLSSocket> {
  let verification: PeerVerification;
  try {
    verification = { ...(options.verifyOptions !== undefined ? { verifyOptions: options.verifyOptions } : {}), policy: parsePolicy(options.policy) };
  } catch (e) {
    return Promise.reject(asError(e));
  }
  const socket = tls.connect(clientTlsOptions(options));
  return attestOnSecureConnect(socket, verification);
}

export interface AttestedHttpsAgentOptions extends PeerVerification, https.AgentOptions {
  /** Mutual attested TLS: the client's own RA-TLS certificate and key. */
  readonly certificatePem?: string;
  readonly privateKeyPem?: string;
}

type CreateConnectionCallback = (err: Error | null, socket?: Duplex) => void;

/**
 * An https.Agent whose connections are attested: a request is written only on a socket whose server certificate
 * satisfies `policy`; otherwise the request fails with the RatlsError. TLS session resumption is off by default
 * (maxCachedSessions 0), so every connection is verified from a full handshake.
 */
export function attestedHttpsAgent(options: AttestedHttpsAgentOptions): https.Agent {
  const { policy, verifyOptions, certificatePem, privateKeyPem, ...agentOptions } = options;
  const verification: PeerVerification = { policy: parsePolicy(policy), ...(verifyOptions !== undefined ? { verifyOptions } : {}) };
  const agent = new https.Agent({ maxCachedSessions: 0, ...agentOptions });
  // Node's Agent accepts an asynchronous createConnection: return nothing and call back with the socket.
  const create = (connectOptions: tls.ConnectionOptions, callback: CreateConnectionCallback): undefined => {
    const socket = tls.connect({
      ...connectOptions,
      ...(certificatePem !== undefined ? { cert: certificatePem } : {}),
      ...(privateKeyPem !== undefined ? { key: privateKeyPem } : {}),
      rejectUnauthorized: false,
      checkServerIdentity: noNameCheck,
    });
    attestOnSecureConnect(socket, verification).then(
      (s) => callback(null, s),
      (e: unknown) => callback(asError(e)),
    );
    return undefined;
  };
  (agent as unknown as { createConnection: typeof create }).createConnection = create;
  return agent;
}
