/**
 * The out-of-process quote helper: the server side of the AESM socket protocol (intel/linux-sgx aesmd,
 * /var/run/aesmd/aesm.socket) for DCAP ECDSA quoting, backed by a simulated Quoting Enclave (@cloister/sgx-sim).
 * What an application with SGX_AESM_ADDR=1 and libsgx-quote-ex talks to (shared/reference/kubernetes-node.md §4).
 *
 * Protocol (§4.1): one connection per transaction. The client sends one frame (LE u32 length ‖ aesm.message.Request),
 * the server answers one frame (LE u32 length ‖ aesm.message.Response) and closes. Messages and field numbers:
 * proto/aesm/message/messages.proto (from intel/linux-sgx psw/ae/aesm_service/source/core/ipc/messages.proto, §4.2).
 *
 * Served: InitQuoteEx, GetQuoteSizeEx, GetQuoteEx, SelectAttKeyID, GetSupportedAttKeyIDNum, GetSupportedAttKeyIDs for
 * one attestation key, Intel's reference ECDSA-P256 key ID (./att-key-id.ts).
 *
 * Choices where aesmd gives no single answer (each is an `aesm_error_t` from ./errors.ts):
 *   - A frame that is not a Request (protobuf parse error), too large, truncated, followed by extra bytes, or not
 *     complete in time: the connection is closed without a response, as aesmd does for a "Malformed request".
 *   - A Request with no known sub-request (empty, or only unknown field numbers), with two or more, or with a legacy
 *     one (EPID InitQuote/GetQuote, GetLaunchToken, white list, extended EPID group, register, report attestation
 *     error, check update status): UnsupportedRequestResponse (field 20) with errorCode 1 AESM_UNEXPECTED_ERROR.
 *     Field 20 exists for requests a server does not implement; 1 is what aesmd's own request classes answer when
 *     they cannot act on a request (`execute()` starts from AESM_UNEXPECTED_ERROR). This helper has no EPID
 *     provisioning and no launch enclave, so those requests cannot succeed here; answering (instead of closing)
 *     lets a client fail fast with SGX_ERROR_UNEXPECTED instead of waiting for its IPC timeout.
 *   - A known DCAP sub-request that lacks a proto2 `required` field: its own response type with errorCode 1, as
 *     aesmd's `check()` (IsInitialized) failing does (AEGetQuoteExRequest::execute).
 *   - att_key_id absent: Intel's ECDSA key is used (libsgx_quote_ex always sends one); present but not 256 bytes:
 *     3 PARAMETER_ERROR; a different key (compared on the 158-byte base, as aesmd does): 38 UNSUPPORTED_ATT_KEY_ID.
 *   - GetQuoteEx with buf_size below the quote size: 3 PARAMETER_ERROR (the QE library's SGX_QL_ERROR_INVALID_PARAMETER,
 *     mapped by aesmd's quote3_error_to_aesm_error). The quote is returned at its exact length, not padded to
 *     buf_size (the client copies any quote ≤ its buffer: AEGetQuoteExResponse::GetValues).
 *   - A REPORT whose MAC does not verify with the QE's report key (another target, another platform, tampered):
 *     47 INVALID_REPORT.
 *   - The `timeout` fields are not used: the server bounds every connection with its own timeouts.
 *
 * Slow clients (docs/security.md, "Quote helper and node agent"): the socket is 0777, so any local process is a client.
 * A connection must deliver its complete frame within `requestTimeoutMs` (default 1 s; Intel's client writes its
 * request at once). Connections still waiting for a frame get a separate, small budget (`maxPendingConnections`);
 * waiting connections beyond it get only `overflowTimeoutMs` (default 500 ms); beyond `maxConnections` a new
 * connection is still read but only for a 50 ms probation, and nothing admitted is closed to make room
 * (@cloister/service-kit's connection-gate.ts). Answering is synchronous once a frame is in, so a complete request never waits behind
 * slow ones.
 */
import { create, fromBinary, isFieldSet, toBinary } from '@bufbuild/protobuf';
import { createHash } from 'node:crypto';
import { chmod, chown, mkdir } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import {
  AESM_ERROR,
  ATT_KEY_ID_SIZE,
  BoundSocketFile,
  DEFAULT_MAX_REQUEST_BYTES,
  FrameError,
  aesmErrorName,
  claimSocketPath,
  intelEcdsaAttKeyId,
  parseAttKeyIdList,
  readFrame,
  sameAttKeyIdBase,
  writeFrame,
  type FrameErrorCode,
} from '@cloister/aesm';
import {
  REPORT_BODY_SIZE,
  REPORT_SIZE,
  SimError,
  TARGET_INFO_SIZE,
  attestationKeyOf,
  buildQuote,
  ereportFor,
  parseTargetInfo,
  type SimQuotingEnclave,
} from '@cloister/sgx-sim';
import {
  RequestSchema,
  Request_GetQuoteExRequestSchema,
  Request_GetSupportedAttKeyIDsRequestSchema,
  Request_InitQuoteExRequestSchema,
  ResponseSchema,
  Response_GetQuoteExResponseSchema,
  Response_GetQuoteSizeExResponseSchema,
  Response_GetSupportedAttKeyIDNumResponseSchema,
  Response_GetSupportedAttKeyIDsResponseSchema,
  Response_InitQuoteExResponseSchema,
  Response_SelectAttKeyIDResponseSchema,
  Response_UnsupportedRequestResponseSchema,
  type Request,
  type Request_GetQuoteExRequest,
  type Request_GetQuoteSizeExRequest,
  type Request_GetSupportedAttKeyIDsRequest,
  type Request_InitQuoteExRequest,
  type Request_SelectAttKeyIDRequest,
  type Response,
} from '@cloister/aesm/messages';
import { AgentError } from '../errors.js';
import { ConnectionGate, type GateDropReason } from '@cloister/service-kit/core';
import { silentLogger } from '../plugin-server.js';
import {
  NOOP_QUOTE_HELPER_METRICS,
  type QuoteHelperMetrics,
  type QuoteHelperRejection,
  type QuoteHelperRequestType,
} from './quote-helper-metrics.js';

/** CONFIG_SOCKET_PATH of aesmd (psw/ae/aesm_service/source/core/ipc/SocketConfig.h): a compile-time constant. Not exported here: client.ts exports the same constant. */
const AESM_SOCKET_PATH = '/var/run/aesmd/aesm.socket';
/** pub_key_id is a SHA-256 hash. */
export const PUB_KEY_ID_SIZE = 32;
/** sgx_qe_report_info_t (sgx_ql_lib_common.h / sgx_quote_3.h): nonce 16 ‖ app TARGETINFO 512 ‖ QE REPORT 432. */
export const QE_REPORT_INFO_SIZE = 16 + TARGET_INFO_SIZE + REPORT_SIZE;
const NONCE_SIZE = 16;

export interface QuoteHelperServerOptions {
  /** Default /var/run/aesmd/aesm.socket. Its directory is created (0755) when missing. */
  readonly socketPath?: string;
  /** Mode of the socket file. Default 0o777, as aesmd chmods it (any local process may ask for a quote). */
  readonly socketMode?: number;
  /** Group of the socket file (with a stricter socketMode, e.g. 0o660). Default: left as created. */
  readonly socketGid?: number;
  readonly quotingEnclave: SimQuotingEnclave;
  /** Quote format: 3 (Intel's SGX QE3, default) or 4. */
  readonly quoteVersion?: 3 | 4;
  /** Largest request frame accepted. Default 64 KiB. */
  readonly maxRequestBytes?: number;
  /**
   * A request frame must be complete this long after the connection is accepted. Default 1000 ms: Intel's client
   * writes its whole request right after connecting (a local socket delivers it in microseconds).
   */
  readonly requestTimeoutMs?: number;
  /** A connection that sends nothing is closed after this long. Default: requestTimeoutMs. */
  readonly idleTimeoutMs?: number;
  /**
   * Connections still waiting for their frame that get the full requestTimeoutMs. Default 64: above the concurrency of
   * any one node's workloads in normal use, small next to maxConnections.
   */
  readonly maxPendingConnections?: number;
  /**
   * Deadline of a waiting connection beyond maxPendingConnections. Default 500 ms: ample for a client that writes with
   * its connect even on a CPU-starved node (a Node client's write waits for its own event loop), short for a slow one.
   */
  readonly overflowTimeoutMs?: number;
  /**
   * Open connections before new ones go on probation: read for only 50 ms, served if their frame is in by then (at
   * most this many on probation; beyond that, refused). Default 1024 (above maxPendingConnections): with the default
   * limits, 4096 reconnecting slow clients raised the agent's peak RSS to about 140 MiB (bench/quote-helper).
   */
  readonly maxConnections?: number;
  readonly logger?: Logger;
  readonly metrics?: QuoteHelperMetrics;
}

/** One answered request. */
export interface QuoteHelperAnswer {
  readonly type: QuoteHelperRequestType;
  readonly errorCode: number;
  readonly response: Response;
}

type State = 'new' | 'starting' | 'serving' | 'stopping' | 'stopped';

const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

const GATE_REJECTION: Record<GateDropReason, QuoteHelperRejection> = {
  overflow_timeout: 'overflow_timeout',
  pending_timeout: 'timeout',
  probation_timeout: 'probation_timeout',
  refused: 'max_connections',
};

const REJECTION_OF: Record<FrameErrorCode, QuoteHelperRejection> = {
  TOO_LARGE: 'too_large',
  TIMEOUT: 'timeout',
  IDLE: 'idle',
  TRAILING_BYTES: 'trailing_bytes',
  TRUNCATED: 'truncated',
  SOCKET_ERROR: 'socket_error',
};

function checkInt(value: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new AgentError('CONFIG_INVALID', `cloister: quote helper ${what} must be an integer ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

export class QuoteHelperServer {
  readonly socketPath: string;
  readonly quoteVersion: 3 | 4;
  /** Size of every quote this server returns (GetQuoteSizeEx). */
  readonly quoteSize: number;

  readonly #qe: SimQuotingEnclave;
  readonly #socketMode: number;
  readonly #socketGid: number | undefined;
  readonly #maxRequestBytes: number;
  readonly #requestTimeoutMs: number;
  readonly #idleTimeoutMs: number;
  readonly #gate: ConnectionGate;
  /** Connections the gate closed (their read then fails as truncated: counted once, under the gate's reason). */
  readonly #gateDropped = new WeakSet<Socket>();
  readonly #logger: Logger;
  readonly #metrics: QuoteHelperMetrics;
  /** The only supported key ID; a private copy so that no caller can change what requests are compared with. */
  readonly #attKeyId: Uint8Array = intelEcdsaAttKeyId();
  readonly #targetInfo: Uint8Array;
  readonly #pubKeyId: Uint8Array;

  #state: State = 'new';
  #server: Server | undefined;
  #socketFile: BoundSocketFile | undefined;
  readonly #connections = new Set<Socket>();

  constructor(options: QuoteHelperServerOptions) {
    this.socketPath = options.socketPath ?? AESM_SOCKET_PATH;
    this.#qe = options.quotingEnclave;
    const version = options.quoteVersion ?? 3;
    if (version !== 3 && version !== 4) {
      throw new AgentError('CONFIG_INVALID', `cloister: quote helper quoteVersion must be 3 or 4, got ${String(version)}`);
    }
    this.quoteVersion = version;
    this.#socketMode = checkInt(options.socketMode ?? 0o777, 0, 0o777, 'socketMode');
    this.#socketGid = options.socketGid === undefined ? undefined : checkInt(options.socketGid, 0, 0xffff_fffe, 'socketGid');
    this.#maxRequestBytes = checkInt(options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES, 16, 16 * 1024 * 1024, 'maxRequestBytes');
    this.#requestTimeoutMs = checkInt(options.requestTimeoutMs ?? 1_000, 1, 600_000, 'requestTimeoutMs');
    this.#idleTimeoutMs = checkInt(options.idleTimeoutMs ?? this.#requestTimeoutMs, 1, 600_000, 'idleTimeoutMs');
    const maxConnections = checkInt(options.maxConnections ?? 1024, 2, 65_536, 'maxConnections');
    const maxPending = checkInt(
      options.maxPendingConnections ?? Math.min(64, maxConnections - 1),
      1,
      maxConnections - 1,
      'maxPendingConnections (below maxConnections)',
    );
    const overflowTimeoutMs = checkInt(options.overflowTimeoutMs ?? Math.min(500, this.#requestTimeoutMs), 1, 600_000, 'overflowTimeoutMs');
    this.#logger = (options.logger ?? silentLogger()).child({ subsystem: 'quote-helper' });
    this.#metrics = options.metrics ?? NOOP_QUOTE_HELPER_METRICS;
    this.#gate = new ConnectionGate({
      maxPending,
      maxConnections,
      overflowTimeoutMs,
      onDrop: (socket, reason) => {
        this.#gateDropped.add(socket);
        if (this.#state !== 'serving') return;
        this.#metrics.rejected(GATE_REJECTION[reason]);
        if (reason === 'refused') {
          this.#logger.debug({ event: 'aesm_connection_refused', reason, open: this.#gate.open }, 'too many AESM connections');
        }
      },
    });

    const platform = this.#qe.platform;
    this.#targetInfo = this.#qe.targetInfo();
    // aesmd's ECDSA plugin: pub_key_id = SHA-256 of the attestation public key (raw X ‖ Y, 64 bytes).
    this.#pubKeyId = sha256(attestationKeyOf(platform).raw);
    try {
      // Every quote of a (platform, PKI, version) has the same size: the body is fixed-size, the cert data is fixed.
      this.quoteSize = buildQuote(platform, new Uint8Array(REPORT_BODY_SIZE), { pki: this.#qe.pki, version }).length;
    } catch (err) {
      throw new AgentError('CONFIG_INVALID', `cloister: the quoting enclave cannot quote: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Connections currently open. */
  get openConnections(): number {
    return this.#connections.size;
  }

  /** Connections waiting for their request frame: in the pending budget, and beyond it (short deadline). */
  get waitingConnections(): { readonly pending: number; readonly overflow: number; readonly peakPending: number } {
    return { pending: this.#gate.pending, overflow: this.#gate.overflow, peakPending: this.#gate.peakPending };
  }

  /**
   * Creates the socket directory (0755) if missing, refuses a path a live server answers on (AgentError
   * SOCKET_IN_USE), removes a stale socket file, listens, and sets the socket's mode (and group).
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`QuoteHelperServer.start() called twice for ${this.socketPath}`);
    this.#state = 'starting';
    try {
      await mkdir(dirname(this.socketPath), { recursive: true, mode: 0o755 });
      await this.#clearStaleSocket();
      const server = createServer({ pauseOnConnect: true }, (socket) => this.#onConnection(socket));
      // The kernel queues connections we have not accepted yet (capped by net.core.somaxconn, 4096 on current kernels;
      // aesmd uses 32). A deep queue turns a burst beyond the accept rate into latency instead of refused connects.
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ path: this.socketPath, backlog: 4096 }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (err) => this.#logger.error({ event: 'aesm_listener_error', err }, 'quote helper listener error'));
      this.#server = server;
      await chmod(this.socketPath, this.#socketMode);
      if (this.#socketGid !== undefined) await chown(this.socketPath, -1, this.#socketGid);
      this.#socketFile = await BoundSocketFile.record(this.socketPath);
    } catch (err) {
      this.#state = 'stopped';
      this.#server?.close();
      this.#server = undefined;
      if (AgentError.is(err)) throw err;
      throw new AgentError('CONFIG_INVALID', `cloister: cannot serve AESM on ${this.socketPath}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.#state = 'serving';
    this.#logger.info(
      { event: 'aesm_serving', socket: this.socketPath, quoteVersion: this.quoteVersion, quoteSize: this.quoteSize },
      'quote helper serving',
    );
  }

  /** Stops accepting, destroys open connections, and removes the socket file if it still is ours. */
  async stop(): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    if (this.#state === 'new') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopping';
    const intact = this.#socketFile?.intact() ?? false;
    const server = this.#server;
    this.#server = undefined;
    const closed = server === undefined ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.#connections) socket.destroy();
    this.#connections.clear();
    this.#gate.closeAll();
    await closed;
    await this.#socketFile?.release(intact);
    this.#socketFile = undefined;
    this.#state = 'stopped';
    this.#logger.info({ event: 'aesm_stopped', socket: this.socketPath }, 'quote helper stopped');
  }

  async #clearStaleSocket(): Promise<void> {
    // Shared with the device plugin (@cloister/aesm unix-socket): never take a live server's path, remove a stale one.
    const claim = await claimSocketPath(this.socketPath, { probeTimeoutMs: 1000 });
    if (claim === 'live') {
      throw new AgentError(
        'SOCKET_IN_USE',
        `cloister: ${this.socketPath} is served by another process (aesmd, or a second quote helper on this node?)`,
      );
    }
    if (claim === 'not_socket') {
      throw new AgentError('CONFIG_INVALID', `cloister: ${this.socketPath} exists and is not a socket; refusing to replace it`);
    }
    if (claim === 'stale_removed') {
      this.#logger.warn({ event: 'aesm_stale_socket_removed', socket: this.socketPath }, 'removed a stale AESM socket');
    }
  }

  #onConnection(socket: Socket): void {
    // Errors are handled where the socket is used; this keeps an EPIPE/ECONNRESET from being an uncaught 'error'.
    socket.on('error', () => {});
    if (this.#state !== 'serving') {
      socket.destroy();
      return;
    }
    if (!this.#gate.accept(socket)) return;
    this.#connections.add(socket);
    this.#metrics.setOpenConnections(this.#connections.size);
    socket.once('close', () => {
      this.#connections.delete(socket);
      this.#metrics.setOpenConnections(this.#connections.size);
    });
    void this.#serve(socket, performance.now());
  }

  async #serve(socket: Socket, acceptedAt: number): Promise<void> {
    let frame: Uint8Array;
    try {
      frame = await readFrame(socket, {
        maxBytes: this.#maxRequestBytes,
        timeoutMs: this.#requestTimeoutMs,
        firstByteTimeoutMs: this.#idleTimeoutMs,
      });
      this.#gate.complete(socket);
    } catch (err) {
      this.#reject(socket, err instanceof FrameError ? REJECTION_OF[err.code] : 'socket_error', err);
      return;
    }
    let request: Request;
    try {
      request = fromBinary(RequestSchema, frame);
    } catch (err) {
      this.#reject(socket, 'malformed', err);
      return;
    }
    const answer = this.respond(request);
    const bytes = toBinary(ResponseSchema, answer.response);
    // A client that never reads cannot hold the connection: the write must finish within the request timeout.
    const writeTimer = setTimeout(() => socket.destroy(), this.#requestTimeoutMs);
    try {
      await writeFrame(socket, bytes);
    } catch (err) {
      this.#reject(socket, 'socket_error', err);
      return;
    } finally {
      clearTimeout(writeTimer);
    }
    // The bytes are in the peer's receive queue (AF_UNIX); closing now delivers them, then EOF.
    socket.end();
    socket.destroy();
    const seconds = (performance.now() - acceptedAt) / 1000;
    this.#metrics.request(answer.type, aesmErrorName(answer.errorCode), seconds);
    this.#logger.debug(
      { event: 'aesm_request', type: answer.type, errorCode: answer.errorCode, ms: Math.round(seconds * 1e4) / 10 },
      'AESM request answered',
    );
  }

  #reject(socket: Socket, reason: QuoteHelperRejection, err: unknown): void {
    socket.destroy();
    if (this.#state !== 'serving') return; // stop() destroyed it
    if (this.#gateDropped.has(socket)) return; // counted by the gate
    this.#metrics.rejected(reason);
    this.#logger.debug({ event: 'aesm_connection_dropped', reason, err: (err as Error)?.message }, 'AESM connection closed without a response');
  }

  /**
   * The Response to one parsed Request (no I/O). Never throws: an unexpected failure is errorCode 1 in the response
   * type the request asked for.
   */
  respond(request: Request): QuoteHelperAnswer {
    let count = 0;
    for (const field of RequestSchema.fields) if (isFieldSet(request, field)) count++;
    if (count === 1) {
      if (request.initQuoteExReq !== undefined) return this.#guard('initQuoteEx', () => this.#initQuoteEx(request.initQuoteExReq!));
      if (request.getQuoteSizeExReq !== undefined) {
        return this.#guard('getQuoteSizeEx', () => this.#getQuoteSizeEx(request.getQuoteSizeExReq!));
      }
      if (request.getQuoteExReq !== undefined) return this.#guard('getQuoteEx', () => this.#getQuoteEx(request.getQuoteExReq!));
      if (request.selectAttKeyIDReq !== undefined) {
        return this.#guard('selectAttKeyID', () => this.#selectAttKeyId(request.selectAttKeyIDReq!));
      }
      if (request.getSupportedAttKeyIDNumReq !== undefined) {
        return this.#guard('getSupportedAttKeyIDNum', () => this.#getSupportedAttKeyIdNum());
      }
      if (request.getSupportedAttKeyIDsReq !== undefined) {
        return this.#guard('getSupportedAttKeyIDs', () => this.#getSupportedAttKeyIds(request.getSupportedAttKeyIDsReq!));
      }
    }
    // Legacy (EPID, launch token, …), none, or several sub-requests: see the module comment.
    return this.#unsupported();
  }

  #guard(type: QuoteHelperRequestType, handle: () => QuoteHelperAnswer): QuoteHelperAnswer {
    try {
      return handle();
    } catch (err) {
      this.#logger.error({ event: 'aesm_handler_failed', type, err }, 'AESM request failed unexpectedly');
      return this.#failure(type, AESM_ERROR.UNEXPECTED_ERROR);
    }
  }

  /** A response of `type` carrying only errorCode (always encoded: proto2 `required`). */
  #failure(type: QuoteHelperRequestType, errorCode: number): QuoteHelperAnswer {
    const init = { errorCode };
    let response: Response;
    switch (type) {
      case 'initQuoteEx':
        response = create(ResponseSchema, { initQuoteExRes: create(Response_InitQuoteExResponseSchema, init) });
        break;
      case 'getQuoteSizeEx':
        response = create(ResponseSchema, { getQuoteSizeExRes: create(Response_GetQuoteSizeExResponseSchema, init) });
        break;
      case 'getQuoteEx':
        response = create(ResponseSchema, { getQuoteExRes: create(Response_GetQuoteExResponseSchema, init) });
        break;
      case 'selectAttKeyID':
        response = create(ResponseSchema, { selectAttKeyIDRes: create(Response_SelectAttKeyIDResponseSchema, init) });
        break;
      case 'getSupportedAttKeyIDNum':
        response = create(ResponseSchema, {
          getSupportedAttKeyIDNumRes: create(Response_GetSupportedAttKeyIDNumResponseSchema, init),
        });
        break;
      case 'getSupportedAttKeyIDs':
        response = create(ResponseSchema, {
          getSupportedAttKeyIDsRes: create(Response_GetSupportedAttKeyIDsResponseSchema, init),
        });
        break;
      case 'unsupported':
        response = create(ResponseSchema, {
          unsupportedRequestResponse: create(Response_UnsupportedRequestResponseSchema, init),
        });
        break;
    }
    return { type, errorCode, response };
  }

  #unsupported(): QuoteHelperAnswer {
    return this.#failure('unsupported', AESM_ERROR.UNEXPECTED_ERROR);
  }

  /**
   * undefined when `attKeyId` is absent (proto2 bytes read as empty when unset; the ECDSA key is meant) or names the
   * supported key; else the aesm error: 3 when it is not 256 bytes, 38 for another key.
   */
  #checkAttKeyId(attKeyId: Uint8Array): number | undefined {
    if (attKeyId.length === 0) return undefined;
    if (attKeyId.length !== ATT_KEY_ID_SIZE) return AESM_ERROR.PARAMETER_ERROR;
    if (!sameAttKeyIdBase(attKeyId, this.#attKeyId)) return AESM_ERROR.UNSUPPORTED_ATT_KEY_ID;
    return undefined;
  }

  /**
   * InitQuoteEx (Request field 15 → Response field 15):
   *   request  { optional bytes att_key_id = 1; required bool b_pub_key_id = 3; optional uint64 buf_size = 4; }
   *   response { required uint32 errorCode = 1; optional bytes target_info = 2; optional uint64 pub_key_id_size = 3;
   *              optional bytes pub_key_id = 4; }
   * b_pub_key_id false: the size of pub_key_id (32) and the QE's TARGETINFO; true: also pub_key_id, when
   * buf_size ≥ 32 (else 3 PARAMETER_ERROR).
   */
  #initQuoteEx(req: Request_InitQuoteExRequest): QuoteHelperAnswer {
    const S = Request_InitQuoteExRequestSchema;
    if (!isFieldSet(req, S.field.bPubKeyId)) return this.#failure('initQuoteEx', AESM_ERROR.UNEXPECTED_ERROR);
    const keyError = this.#checkAttKeyId(req.attKeyId);
    if (keyError !== undefined) return this.#failure('initQuoteEx', keyError);
    if (req.bPubKeyId && req.bufSize < BigInt(PUB_KEY_ID_SIZE)) return this.#failure('initQuoteEx', AESM_ERROR.PARAMETER_ERROR);
    const res = create(Response_InitQuoteExResponseSchema, {
      errorCode: AESM_ERROR.SUCCESS,
      targetInfo: new Uint8Array(this.#targetInfo),
      pubKeyIdSize: BigInt(PUB_KEY_ID_SIZE),
      ...(req.bPubKeyId ? { pubKeyId: new Uint8Array(this.#pubKeyId) } : {}),
    });
    return { type: 'initQuoteEx', errorCode: AESM_ERROR.SUCCESS, response: create(ResponseSchema, { initQuoteExRes: res }) };
  }

  /**
   * GetQuoteSizeEx (16 → 16): request { optional bytes att_key_id = 1; }
   * response { required uint32 errorCode = 1; optional uint32 quote_size = 2; } — the exact size of this platform's
   * quote, certification data included.
   */
  #getQuoteSizeEx(req: Request_GetQuoteSizeExRequest): QuoteHelperAnswer {
    const keyError = this.#checkAttKeyId(req.attKeyId);
    if (keyError !== undefined) return this.#failure('getQuoteSizeEx', keyError);
    const res = create(Response_GetQuoteSizeExResponseSchema, { errorCode: AESM_ERROR.SUCCESS, quoteSize: this.quoteSize });
    return { type: 'getQuoteSizeEx', errorCode: AESM_ERROR.SUCCESS, response: create(ResponseSchema, { getQuoteSizeExRes: res }) };
  }

  /**
   * GetQuoteEx (17 → 17):
   *   request  { required bytes report = 1; optional bytes att_key_id = 2; optional bytes qe_report_info = 3;
   *              required uint32 buf_size = 4; }
   *   response { required uint32 errorCode = 1; optional bytes quote = 2; optional bytes qe_report_info = 3; }
   * With qe_report_info (sgx_ql_qe_report_info_t: nonce 16 ‖ app TARGETINFO 512 ‖ REPORT 432), the returned copy
   * carries a QE REPORT targeted at the app, REPORTDATA = SHA-256(nonce ‖ quote) ‖ 32 zero bytes, as Intel's QE3
   * produces it so that the app can check the quote came from the platform's QE.
   */
  #getQuoteEx(req: Request_GetQuoteExRequest): QuoteHelperAnswer {
    const S = Request_GetQuoteExRequestSchema;
    const fail = (code: number): QuoteHelperAnswer => this.#failure('getQuoteEx', code);
    if (!isFieldSet(req, S.field.report) || !isFieldSet(req, S.field.bufSize)) return fail(AESM_ERROR.UNEXPECTED_ERROR);
    if (req.report.length !== REPORT_SIZE) return fail(AESM_ERROR.PARAMETER_ERROR);
    const keyError = this.#checkAttKeyId(req.attKeyId);
    if (keyError !== undefined) return fail(keyError);
    const info = isFieldSet(req, S.field.qeReportInfo) ? req.qeReportInfo : undefined;
    let appTargetInfo: Uint8Array | undefined;
    if (info !== undefined) {
      if (info.length !== QE_REPORT_INFO_SIZE) return fail(AESM_ERROR.PARAMETER_ERROR);
      appTargetInfo = info.slice(NONCE_SIZE, NONCE_SIZE + TARGET_INFO_SIZE);
      try {
        parseTargetInfo(appTargetInfo);
      } catch {
        return fail(AESM_ERROR.PARAMETER_ERROR);
      }
    }
    if (req.bufSize < this.quoteSize) return fail(AESM_ERROR.PARAMETER_ERROR);

    let quote: Uint8Array;
    try {
      quote = this.#qe.getQuote(req.report, { version: this.quoteVersion });
    } catch (err) {
      if (SimError.is(err) && (err.code === 'MAC_MISMATCH' || err.code === 'INVALID_REPORT')) {
        return fail(AESM_ERROR.INVALID_REPORT);
      }
      throw err;
    }

    let qeReportInfo: Uint8Array | undefined;
    if (info !== undefined && appTargetInfo !== undefined) {
      const nonce = info.subarray(0, NONCE_SIZE);
      const reportData = new Uint8Array(64);
      reportData.set(sha256(nonce, quote), 0);
      let qeReport: Uint8Array;
      try {
        qeReport = ereportFor(this.#qe.platform, this.#qe.identity, appTargetInfo, reportData);
      } catch {
        return fail(AESM_ERROR.UNABLE_TO_GENERATE_QE_REPORT);
      }
      qeReportInfo = new Uint8Array(QE_REPORT_INFO_SIZE);
      qeReportInfo.set(nonce, 0);
      qeReportInfo.set(appTargetInfo, NONCE_SIZE);
      qeReportInfo.set(qeReport, NONCE_SIZE + TARGET_INFO_SIZE);
    }
    const res = create(Response_GetQuoteExResponseSchema, {
      errorCode: AESM_ERROR.SUCCESS,
      quote,
      ...(qeReportInfo === undefined ? {} : { qeReportInfo }),
    });
    return { type: 'getQuoteEx', errorCode: AESM_ERROR.SUCCESS, response: create(ResponseSchema, { getQuoteExRes: res }) };
  }

  /**
   * SelectAttKeyID (19 → 19): request { optional bytes att_key_id_list = 1; }
   * response { required uint32 errorCode = 1; optional bytes selected_att_key_id = 2; }
   * No list (or an empty one) means "any available": the ECDSA key. Otherwise the first entry whose base is the
   * ECDSA key's, as sent; none → 38 UNSUPPORTED_ATT_KEY_ID; a malformed list → 3 PARAMETER_ERROR.
   */
  #selectAttKeyId(req: Request_SelectAttKeyIDRequest): QuoteHelperAnswer {
    let selected: Uint8Array | undefined;
    if (req.attKeyIdList.length === 0) {
      selected = new Uint8Array(this.#attKeyId);
    } else {
      let ids: Uint8Array[];
      try {
        ids = parseAttKeyIdList(req.attKeyIdList);
      } catch {
        return this.#failure('selectAttKeyID', AESM_ERROR.PARAMETER_ERROR);
      }
      const match = ids.find((id) => sameAttKeyIdBase(id, this.#attKeyId));
      if (match === undefined) return this.#failure('selectAttKeyID', AESM_ERROR.UNSUPPORTED_ATT_KEY_ID);
      selected = match.slice();
    }
    const res = create(Response_SelectAttKeyIDResponseSchema, { errorCode: AESM_ERROR.SUCCESS, selectedAttKeyId: selected });
    return { type: 'selectAttKeyID', errorCode: AESM_ERROR.SUCCESS, response: create(ResponseSchema, { selectAttKeyIDRes: res }) };
  }

  /** GetSupportedAttKeyIDNum (21 → 21): response { required uint32 errorCode = 1; optional uint32 att_key_id_num = 2; } */
  #getSupportedAttKeyIdNum(): QuoteHelperAnswer {
    const res = create(Response_GetSupportedAttKeyIDNumResponseSchema, { errorCode: AESM_ERROR.SUCCESS, attKeyIdNum: 1 });
    return {
      type: 'getSupportedAttKeyIDNum',
      errorCode: AESM_ERROR.SUCCESS,
      response: create(ResponseSchema, { getSupportedAttKeyIDNumRes: res }),
    };
  }

  /**
   * GetSupportedAttKeyIDs (22 → 22): request { required uint32 buf_size = 1; }
   * response { required uint32 errorCode = 1; optional bytes att_key_ids = 2; } — num × 256 bytes; buf_size below
   * that → 3 PARAMETER_ERROR (quote_ex_service_bundle get_att_key_id).
   */
  #getSupportedAttKeyIds(req: Request_GetSupportedAttKeyIDsRequest): QuoteHelperAnswer {
    if (!isFieldSet(req, Request_GetSupportedAttKeyIDsRequestSchema.field.bufSize)) {
      return this.#failure('getSupportedAttKeyIDs', AESM_ERROR.UNEXPECTED_ERROR);
    }
    if (req.bufSize < ATT_KEY_ID_SIZE) return this.#failure('getSupportedAttKeyIDs', AESM_ERROR.PARAMETER_ERROR);
    const res = create(Response_GetSupportedAttKeyIDsResponseSchema, {
      errorCode: AESM_ERROR.SUCCESS,
      attKeyIds: new Uint8Array(this.#attKeyId),
    });
    return {
      type: 'getSupportedAttKeyIDs',
      errorCode: AESM_ERROR.SUCCESS,
      response: create(ResponseSchema, { getSupportedAttKeyIDsRes: res }),
    };
  }
}
