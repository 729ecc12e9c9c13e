/**
 * A client for the AESM service's socket protocol (out-of-process quoting), speaking exactly what Intel's
 * libsgx_quote_ex sends when libsgx_dcap_ql runs with SGX_AESM_ADDR set: one unix-socket connection per call, a
 * little-endian u32 length, one serialized aesm.message.Request holding a single sub-message (proto2 required fields
 * always encoded, `timeout` in milliseconds), then one framed aesm.message.Response, after which the server closes.
 *
 * Written for Cloister from the behaviour described in shared/reference/kubernetes-node.md §4 (intel/linux-sgx
 * psw/uae_service, psw/ae/aesm_service/source/core/ipc; intel/confidential-computing.tee.dcap quote_wrapper/ql).
 *
 * Errors are AesmErrors: AESM_UNAVAILABLE (no socket / nobody listening: SGX_ERROR_SERVICE_UNAVAILABLE),
 * AESM_TIMEOUT (SGX_ERROR_SERVICE_TIMEOUT), AESM_PROTOCOL (closed early, oversized or malformed answer:
 * SGX_ERROR_UNEXPECTED) and AESM_ERROR (the service answered an aesm_error_t ≠ AESM_SUCCESS; see isAesmStatusError).
 */
import { connect, type Socket } from 'node:net';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  RequestSchema,
  Request_GetQuoteExRequestSchema,
  Request_GetQuoteSizeExRequestSchema,
  Request_GetSupportedAttKeyIDNumRequestSchema,
  Request_GetSupportedAttKeyIDsRequestSchema,
  Request_InitQuoteExRequestSchema,
  Request_SelectAttKeyIDRequestSchema,
  ResponseSchema,
  type Request,
  type Response,
} from '../gen/aesm/message/messages_pb.js';
import { AesmError } from './errors.js';
import { ATT_KEY_ID_SIZE, INTEL_ECDSA_ATT_KEY_ID, encodeAttKeyIdList } from './att-key-id.js';
import { aesmErrorName } from './status.js';
import { FrameError, readFrame, writeFrame } from './framing.js';

/** The socket path compiled into Intel's libraries and aesmd (SocketConfig.h); there is no runtime override. */
export const AESM_SOCKET_PATH = '/var/run/aesmd/aesm.socket';
/** IPC_LATENCY of a release build of Intel's uae_service (psw/uae_service/config.h), in milliseconds. */
export const AESM_DEFAULT_TIMEOUT_MS = 15_000;
/** Largest response accepted; a quote with PCK certificate chain is ~5 KiB, so 1 MiB is generous. */
export const AESM_MAX_RESPONSE_BYTES = 1024 * 1024;

/** sizeof(sgx_target_info_t). */
const TARGET_INFO_SIZE = 512;
/** sizeof(sgx_report_t). */
const REPORT_SIZE = 432;
/** sizeof(sgx_qe_report_info_t) = nonce 16 + QE target info 512 + QE report 432. */
const QE_REPORT_INFO_SIZE = 960;
/** The ECDSA QE's pub_key_id is a SHA-256 (ref_sha256_hash_t); sgx_qe_get_target_info insists on this size. */
const PUB_KEY_ID_SIZE = 32;
/** sgx_quote_t: 48-byte header + 384-byte report body, then u32 signature_data_len, then the signature data. */
export const QUOTE_SIGNATURE_LEN_OFFSET = 432;
export const QUOTE_SIGNATURE_OFFSET = 436;

const UINT32_MAX = 0xffff_ffff;

/** True iff SGX_AESM_ADDR is present. Like libsgx_dcap_ql and Open Enclave, the value is never read: '' and '0' count. */
export function outOfProcessQuotingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env['SGX_AESM_ADDR'] !== undefined;
}

export interface AesmClientOptions {
  /** Default /var/run/aesmd/aesm.socket (what Intel's libraries hard-code). */
  readonly socketPath?: string;
  /** Whole-transaction deadline (connect, send, answer), also sent as the request's `timeout` field. Default 15000. */
  readonly timeoutMs?: number;
  /** Cap on the announced response length. Default 1 MiB. */
  readonly maxResponseBytes?: number;
}

/** The detail carried by an AesmError with code AESM_ERROR. */
export interface AesmStatusDetails {
  /** The aesm_error_t name, e.g. 'AESM_INVALID_REPORT'. */
  readonly aesmError: string;
  /** The aesm_error_t number, e.g. 47. */
  readonly status: number;
  /** The request that failed, e.g. 'GetQuoteEx'. */
  readonly operation: string;
}

export type AesmStatusError = AesmError & { readonly code: 'AESM_ERROR' } & AesmStatusDetails;

export function isAesmStatusError(value: unknown): value is AesmStatusError {
  return (
    AesmError.is(value) &&
    value.code === 'AESM_ERROR' &&
    typeof (value as unknown as Record<string, unknown>)['aesmError'] === 'string' &&
    typeof (value as unknown as Record<string, unknown>)['status'] === 'number'
  );
}

/** What to do about the aesm_error_t values a workload or operator can act on. */
const AESM_HINTS: Readonly<Record<string, string>> = {
  AESM_INVALID_REPORT:
    'the REPORT was not targeted at the Quoting Enclave: EREPORT against the TARGETINFO from getTargetInfo() on this node',
  AESM_ERROR_REPORT: 'the REPORT failed verification by the Quoting Enclave (not targeted at its TARGETINFO?)',
  AESM_UNSUPPORTED_ATT_KEY_ID: "the service does not support this attestation key id (expected Intel's ECDSA-P256 QE)",
  AESM_ATT_KEY_NOT_INITIALIZED: 'the attestation key is not initialised: call initQuoteEx/getTargetInfo again',
  AESM_NO_PLATFORM_CERT_DATA: 'no PCK certificate data: check the quote provider library and its PCCS configuration',
  AESM_OUT_OF_EPC: 'not enough EPC to load the QE/PCE: raise the helper pod EPC request or free EPC on the node',
  AESM_SGX_DEVICE_NOT_AVAILABLE: 'the service cannot open the SGX device nodes',
  AESM_NO_DEVICE_ERROR: 'the service cannot open the SGX device nodes',
  AESM_PARAMETER_ERROR: 'the service rejected a parameter (sizes of report, key id or buffers)',
};

function statusError(operation: string, status: number): AesmStatusError {
  const name = `AESM_${aesmErrorName(status)}`;
  const hint = AESM_HINTS[name];
  const err = new AesmError(
    'AESM_ERROR',
    `AESM ${operation} failed: ${name} (${status})${hint === undefined ? '' : `: ${hint}`}`,
  );
  Object.defineProperties(err, {
    aesmError: { value: name, enumerable: true },
    status: { value: status, enumerable: true },
    operation: { value: operation, enumerable: true },
  });
  return err as AesmStatusError;
}

function unavailable(socketPath: string, cause: NodeJS.ErrnoException): AesmError {
  const dir = socketPath.slice(0, Math.max(socketPath.lastIndexOf('/'), 0)) || '/';
  let why: string;
  switch (cause.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      why = `${socketPath} does not exist: ${dir} is empty: is the quote helper running on this node, and is the hostPath mounted?`;
      break;
    case 'ECONNREFUSED':
      why = `${socketPath} exists but nothing listens on it (stale socket): the quote helper or aesmd on this node exited; restart it`;
      break;
    case 'EACCES':
    case 'EPERM':
      why = `permission denied on ${socketPath}: the socket must be world-writable (aesmd chmods it 0777) and ${dir} searchable`;
      break;
    default:
      why = `cannot connect to ${socketPath} (${cause.code ?? cause.message})`;
  }
  return new AesmError('AESM_UNAVAILABLE', `AESM service unavailable: ${why}`, { cause });
}

function checkSize(what: string, bytes: Uint8Array, size: number): void {
  if (bytes.length !== size) {
    throw new AesmError('INVALID_REQUEST', `${what} must be ${size} bytes, got ${bytes.length}`);
  }
}

function checkUint32(what: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX) {
    throw new AesmError('INVALID_REQUEST', `${what} must be an integer in 0..${UINT32_MAX}, got ${value}`);
  }
}

/**
 * The quote's real length: 436 + signature_data_len. The reference Quoting Enclave returns a buffer of exactly the
 * requested buf_size (as Gramine notes), so the tail past this length is padding. Undefined if not a plausible quote.
 */
export function quoteLength(quote: Uint8Array): number | undefined {
  if (quote.length < QUOTE_SIGNATURE_OFFSET) return undefined;
  const view = new DataView(quote.buffer, quote.byteOffset, quote.byteLength);
  const total = QUOTE_SIGNATURE_OFFSET + view.getUint32(QUOTE_SIGNATURE_LEN_OFFSET, true);
  return total <= quote.length ? total : undefined;
}

export interface InitQuoteExOptions {
  /** Default: Intel's ECDSA-P256 QE key id (what libsgx_dcap_ql passes). */
  readonly attKeyId?: Uint8Array;
  /** b_pub_key_id: false asks only for the size of the pub key id, true for the id itself. */
  readonly wantPubKeyId: boolean;
  /** buf_size (the caller's pub_key_id buffer); sent only when non-zero, as libsgx_quote_ex does. */
  readonly bufSize?: number;
}

export interface InitQuoteExResult {
  /** The QE's sgx_target_info_t, 512 bytes (zero-padded as Intel's client does if the service sent fewer). */
  readonly targetInfo: Uint8Array;
  /** pub_key_id_size as answered (0 if absent). */
  readonly pubKeyIdSize: number;
  /** Present when asked for and the service returned exactly pubKeyIdSize bytes. */
  readonly pubKeyId?: Uint8Array;
}

export interface TargetInfoResult {
  readonly targetInfo: Uint8Array;
  /** The QE's ECDSA_ID (SHA-256 of the attestation public key). */
  readonly pubKeyId: Uint8Array;
}

export interface GetQuoteOptions {
  readonly attKeyId?: Uint8Array;
  /** sgx_qe_report_info_t (960 bytes): nonce + app enclave target info; the QE fills in its REPORT. */
  readonly qeReportInfo?: Uint8Array;
  /** buf_size; by default the answer of getQuoteSize() (one extra connection, as sgx_qe_get_quote_size does). */
  readonly bufSize?: number;
}

export interface GetQuoteResult {
  /** The quote, trimmed to 436 + signature_data_len. */
  readonly quote: Uint8Array;
  /** The updated sgx_qe_report_info_t (960 bytes) when one was sent and returned. */
  readonly qeReportInfo?: Uint8Array;
}

type RequestKey = Exclude<keyof Request, '$typeName' | '$unknown'>;
type ResponseKey = Exclude<keyof Response, '$typeName' | '$unknown'>;

export class AesmClient {
  readonly socketPath: string;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;

  constructor(options: AesmClientOptions = {}) {
    this.socketPath = options.socketPath ?? AESM_SOCKET_PATH;
    this.timeoutMs = options.timeoutMs ?? AESM_DEFAULT_TIMEOUT_MS;
    this.maxResponseBytes = options.maxResponseBytes ?? AESM_MAX_RESPONSE_BYTES;
    if (!Number.isInteger(this.timeoutMs) || this.timeoutMs <= 0 || this.timeoutMs > UINT32_MAX) {
      throw new AesmError('CONFIG_INVALID', `AESM timeoutMs must be a positive integer (ms), got ${this.timeoutMs}`);
    }
    if (!Number.isInteger(this.maxResponseBytes) || this.maxResponseBytes <= 0 || this.maxResponseBytes > UINT32_MAX) {
      throw new AesmError('CONFIG_INVALID', `AESM maxResponseBytes must be a positive integer, got ${this.maxResponseBytes}`);
    }
  }

  /** InitQuoteEx, as sgx_init_quote_ex sends it (att_key_id always, buf_size only when non-zero). */
  async initQuoteEx(options: InitQuoteExOptions): Promise<InitQuoteExResult> {
    const attKeyId = options.attKeyId ?? INTEL_ECDSA_ATT_KEY_ID;
    checkSize('att_key_id', attKeyId, ATT_KEY_ID_SIZE);
    const bufSize = options.bufSize ?? 0;
    checkUint32('bufSize', bufSize);
    const req = create(Request_InitQuoteExRequestSchema, { attKeyId, bPubKeyId: options.wantPubKeyId });
    if (bufSize !== 0) req.bufSize = BigInt(bufSize);
    req.timeout = this.timeoutMs;
    const res = await this.#call('InitQuoteEx', 'initQuoteExReq', req, 'initQuoteExRes');
    if (res.targetInfo.length > TARGET_INFO_SIZE) {
      throw new AesmError(
        'AESM_PROTOCOL',
        `AESM InitQuoteEx answered a ${res.targetInfo.length}-byte target_info (sgx_target_info_t is ${TARGET_INFO_SIZE})`,
      );
    }
    const targetInfo = new Uint8Array(TARGET_INFO_SIZE);
    targetInfo.set(res.targetInfo);
    if (res.pubKeyIdSize > BigInt(UINT32_MAX)) {
      throw new AesmError('AESM_PROTOCOL', `AESM InitQuoteEx answered pub_key_id_size ${res.pubKeyIdSize}`);
    }
    const pubKeyIdSize = Number(res.pubKeyIdSize);
    let pubKeyId: Uint8Array | undefined;
    if (res.pubKeyId.length > 0 && res.pubKeyId.length === pubKeyIdSize) {
      if (res.pubKeyId.length > bufSize) {
        throw new AesmError(
          'AESM_PROTOCOL',
          `AESM InitQuoteEx answered a ${res.pubKeyId.length}-byte pub_key_id for a ${bufSize}-byte buffer`,
        );
      }
      pubKeyId = res.pubKeyId.slice();
    }
    return pubKeyId === undefined ? { targetInfo, pubKeyIdSize } : { targetInfo, pubKeyIdSize, pubKeyId };
  }

  /**
   * What sgx_qe_get_target_info does out of process: InitQuoteEx without a pub key id buffer (the size query, which
   * must answer 32), then again with b_pub_key_id=true and a 32-byte buffer; the second answer's target info counts.
   */
  async getTargetInfo(options: { readonly attKeyId?: Uint8Array } = {}): Promise<TargetInfoResult> {
    const attKeyId = options.attKeyId ?? INTEL_ECDSA_ATT_KEY_ID;
    const sizing = await this.initQuoteEx({ attKeyId, wantPubKeyId: false });
    if (sizing.pubKeyIdSize !== PUB_KEY_ID_SIZE) {
      // libsgx_dcap_ql returns SGX_QL_ERROR_UNEXPECTED (0xe001) here.
      throw new AesmError(
        'AESM_PROTOCOL',
        `AESM InitQuoteEx answered pub_key_id_size ${sizing.pubKeyIdSize}, expected ${PUB_KEY_ID_SIZE} (SHA-256 ECDSA_ID)`,
      );
    }
    const full = await this.initQuoteEx({ attKeyId, wantPubKeyId: true, bufSize: PUB_KEY_ID_SIZE });
    if (full.pubKeyId === undefined) {
      throw new AesmError('AESM_PROTOCOL', `AESM InitQuoteEx did not return the ${PUB_KEY_ID_SIZE}-byte pub_key_id`);
    }
    return { targetInfo: full.targetInfo, pubKeyId: full.pubKeyId };
  }

  /** GetQuoteSizeEx for the key id (Intel's ECDSA QE by default). */
  async getQuoteSize(options: { readonly attKeyId?: Uint8Array } = {}): Promise<number> {
    const attKeyId = options.attKeyId ?? INTEL_ECDSA_ATT_KEY_ID;
    checkSize('att_key_id', attKeyId, ATT_KEY_ID_SIZE);
    const req = create(Request_GetQuoteSizeExRequestSchema, { attKeyId, timeout: this.timeoutMs });
    const res = await this.#call('GetQuoteSizeEx', 'getQuoteSizeExReq', req, 'getQuoteSizeExRes');
    if (res.quoteSize === 0) throw new AesmError('AESM_PROTOCOL', 'AESM GetQuoteSizeEx answered quote_size 0');
    return res.quoteSize;
  }

  /** GetQuoteEx for a 432-byte REPORT targeted at the QE; the quote comes back trimmed to its real length. */
  async getQuote(report: Uint8Array, options: GetQuoteOptions = {}): Promise<GetQuoteResult> {
    checkSize('report', report, REPORT_SIZE);
    const attKeyId = options.attKeyId ?? INTEL_ECDSA_ATT_KEY_ID;
    checkSize('att_key_id', attKeyId, ATT_KEY_ID_SIZE);
    if (options.qeReportInfo !== undefined) checkSize('qe_report_info', options.qeReportInfo, QE_REPORT_INFO_SIZE);
    const bufSize = options.bufSize ?? (await this.getQuoteSize({ attKeyId }));
    checkUint32('bufSize', bufSize);
    if (bufSize < QUOTE_SIGNATURE_OFFSET || bufSize > this.maxResponseBytes) {
      throw new AesmError(
        'INVALID_REQUEST',
        `quote buffer size ${bufSize} is outside ${QUOTE_SIGNATURE_OFFSET}..${this.maxResponseBytes} bytes`,
      );
    }
    const req = create(Request_GetQuoteExRequestSchema, { report, attKeyId });
    if (options.qeReportInfo !== undefined) req.qeReportInfo = options.qeReportInfo;
    req.bufSize = bufSize;
    req.timeout = this.timeoutMs;
    const res = await this.#call('GetQuoteEx', 'getQuoteExReq', req, 'getQuoteExRes');
    if (res.quote.length > bufSize) {
      throw new AesmError(
        'AESM_PROTOCOL',
        `AESM GetQuoteEx answered a ${res.quote.length}-byte quote for a ${bufSize}-byte buffer`,
      );
    }
    const length = quoteLength(res.quote);
    if (length === undefined) {
      throw new AesmError(
        'AESM_PROTOCOL',
        `AESM GetQuoteEx answered ${res.quote.length} bytes that are not a complete quote (header + signature_data_len)`,
      );
    }
    const quote = res.quote.slice(0, length);
    if (options.qeReportInfo === undefined) return { quote };
    if (res.qeReportInfo.length !== QE_REPORT_INFO_SIZE) {
      throw new AesmError(
        'AESM_PROTOCOL',
        `AESM GetQuoteEx answered a ${res.qeReportInfo.length}-byte qe_report_info, expected ${QE_REPORT_INFO_SIZE}`,
      );
    }
    return { quote, qeReportInfo: res.qeReportInfo.slice() };
  }

  /**
   * SelectAttKeyID. `list` is either raw sgx_ql_att_key_id_list_header_t + ids bytes, or the 256-byte ids to put in
   * such a list; omitted or empty, the field is not sent and the service picks its default quoting type.
   */
  async selectAttKeyId(list?: Uint8Array | readonly Uint8Array[]): Promise<Uint8Array> {
    let bytes: Uint8Array | undefined;
    if (list instanceof Uint8Array) bytes = list;
    else if (list !== undefined && list.length > 0) {
      try {
        bytes = encodeAttKeyIdList(list);
      } catch (err) {
        throw new AesmError('INVALID_REQUEST', `att_key_id_list: ${(err as Error).message}`, { cause: err });
      }
    }
    const req = create(Request_SelectAttKeyIDRequestSchema);
    // libsgx_quote_ex sends the list only when it is non-empty.
    if (bytes !== undefined && bytes.length > 0) req.attKeyIdList = bytes;
    req.timeout = this.timeoutMs;
    const res = await this.#call('SelectAttKeyID', 'selectAttKeyIDReq', req, 'selectAttKeyIDRes');
    if (res.selectedAttKeyId.length !== ATT_KEY_ID_SIZE) {
      throw new AesmError(
        'AESM_PROTOCOL',
        `AESM SelectAttKeyID answered a ${res.selectedAttKeyId.length}-byte key id, expected ${ATT_KEY_ID_SIZE}`,
      );
    }
    return res.selectedAttKeyId.slice();
  }

  /** GetSupportedAttKeyIDNum: how many attestation key ids the service supports (the probe's liveness call). */
  async getSupportedAttKeyIdNum(): Promise<number> {
    const req = create(Request_GetSupportedAttKeyIDNumRequestSchema, { timeout: this.timeoutMs });
    const res = await this.#call('GetSupportedAttKeyIDNum', 'getSupportedAttKeyIDNumReq', req, 'getSupportedAttKeyIDNumRes');
    return res.attKeyIdNum;
  }

  /** GetSupportedAttKeyIDs: the supported sgx_att_key_id_ext_t entries, 256 bytes each (asks for the count first). */
  async getSupportedAttKeyIds(num?: number): Promise<Uint8Array[]> {
    const count = num ?? (await this.getSupportedAttKeyIdNum());
    if (count === 0) return [];
    if (!Number.isInteger(count) || count < 0 || count > Math.floor(this.maxResponseBytes / ATT_KEY_ID_SIZE)) {
      throw new AesmError('INVALID_REQUEST', `cannot ask for ${count} attestation key ids`);
    }
    const bufSize = count * ATT_KEY_ID_SIZE;
    const req = create(Request_GetSupportedAttKeyIDsRequestSchema, { bufSize, timeout: this.timeoutMs });
    const res = await this.#call('GetSupportedAttKeyIDs', 'getSupportedAttKeyIDsReq', req, 'getSupportedAttKeyIDsRes');
    if (res.attKeyIds.length !== bufSize) {
      throw new AesmError(
        'AESM_PROTOCOL',
        `AESM GetSupportedAttKeyIDs answered ${res.attKeyIds.length} bytes, expected ${bufSize} (${count} × ${ATT_KEY_ID_SIZE})`,
      );
    }
    const ids: Uint8Array[] = [];
    for (let i = 0; i < count; i++) ids.push(res.attKeyIds.slice(i * ATT_KEY_ID_SIZE, (i + 1) * ATT_KEY_ID_SIZE));
    return ids;
  }

  /** One transaction carrying one sub-message; returns the matching sub-response or throws (errorCode ≠ 0 too). */
  async #call<Q extends RequestKey, R extends ResponseKey>(
    operation: string,
    requestKey: Q,
    sub: NonNullable<Request[Q]>,
    responseKey: R,
  ): Promise<NonNullable<Response[R]>> {
    const request = create(RequestSchema);
    (request as Record<Q, unknown>)[requestKey] = sub;
    const payload = toBinary(RequestSchema, request);
    const body = await this.#transact(operation, payload);
    let response: Response;
    try {
      response = fromBinary(ResponseSchema, body);
    } catch (err) {
      throw new AesmError('AESM_PROTOCOL', `AESM ${operation}: unparseable response (${(err as Error).message})`, {
        cause: err,
      });
    }
    const res = response[responseKey] as Response[R];
    if (res === undefined) {
      const unsupported = response.unsupportedRequestResponse;
      if (unsupported !== undefined) {
        const err = statusError(operation, unsupported.errorCode);
        err.message += ' (the service does not support this request)';
        throw err;
      }
      throw new AesmError('AESM_PROTOCOL', `AESM ${operation}: the response carries no ${String(responseKey)}`);
    }
    const errorCode = (res as { errorCode: number }).errorCode;
    if (errorCode !== 0) throw statusError(operation, errorCode);
    return res as NonNullable<Response[R]>;
  }

  /** Connect, send one frame, read one frame; one deadline (timeoutMs) covers all of it. */
  async #transact(operation: string, payload: Uint8Array): Promise<Uint8Array> {
    const deadline = Date.now() + this.timeoutMs;
    const socket = await this.#connect(operation);
    try {
      const reading = readFrame(socket, {
        maxBytes: this.maxResponseBytes,
        timeoutMs: Math.max(1, deadline - Date.now()),
      });
      reading.catch(() => {});
      const writing = writeFrame(socket, payload).catch((err: NodeJS.ErrnoException) => {
        throw new AesmError('AESM_PROTOCOL', `AESM ${operation}: sending the request failed (${err.code ?? err.message})`, {
          cause: err,
        });
      });
      const [, body] = await Promise.all([writing, reading]).catch((err: unknown) => {
        throw err instanceof FrameError ? this.#frameError(operation, err) : err;
      });
      return body;
    } finally {
      socket.destroy();
    }
  }

  #connect(operation: string): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ path: this.socketPath });
      const onError = (err: NodeJS.ErrnoException): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(unavailable(this.socketPath, err));
      };
      const timer = setTimeout(() => {
        socket.removeListener('error', onError);
        socket.on('error', () => {});
        socket.destroy();
        reject(this.#timeout(operation, 'could not connect'));
      }, this.timeoutMs);
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeListener('error', onError);
        // Errors from here on surface through readFrame / writeFrame; never as an unhandled 'error' event.
        socket.on('error', () => {});
        resolve(socket);
      });
    });
  }

  #timeout(operation: string, what: string): AesmError {
    return new AesmError(
      'AESM_TIMEOUT',
      `AESM ${operation} timed out after ${this.timeoutMs} ms on ${this.socketPath} (SGX_ERROR_SERVICE_TIMEOUT): ${what}`,
    );
  }

  #frameError(operation: string, err: FrameError): AesmError {
    switch (err.code) {
      case 'TIMEOUT':
      case 'IDLE':
        return this.#timeout(operation, 'the service accepted the connection but did not answer');
      case 'TOO_LARGE':
        return new AesmError(
          'AESM_PROTOCOL',
          `AESM ${operation}: the service announced an oversized response (${err.message})`,
          { cause: err },
        );
      case 'TRUNCATED':
        return new AesmError(
          'AESM_PROTOCOL',
          `AESM ${operation}: the service closed the connection after ${err.received} bytes without a complete ` +
            'response (aesmd drops requests it cannot parse or does not know)',
          { cause: err },
        );
      default:
        return new AesmError('AESM_PROTOCOL', `AESM ${operation}: ${err.message}`, { cause: err });
    }
  }
}
