/**
 * @cloister/aesm: the AESM protocol (proto2 messages, framing) and a client for out-of-process SGX quotes, plus the
 * unix-socket ownership rules Cloister's socket servers share. No server, gRPC, logging or metrics dependency: the
 * enclave SDK imports this package.
 */
export { AesmError, AESM_CLIENT_ERROR_CODES, type AesmClientErrorCode } from './errors.js';
export { AESM_ERROR, aesmErrorName, type AesmErrorCode, type AesmErrorName } from './status.js';
export {
  ATT_KEY_ID_BASE_SIZE,
  ATT_KEY_ID_LIST_HEADER_SIZE,
  ATT_KEY_ID_SIZE,
  INTEL_ECDSA_ATT_KEY_ID,
  INTEL_ECDSA_ATT_KEY_ID_INIT,
  INTEL_QE3_MRSIGNER_HEX,
  MAX_ATT_KEY_IDS,
  SGX_QL_ALG,
  encodeAttKeyId,
  encodeAttKeyIdList,
  intelEcdsaAttKeyId,
  parseAttKeyId,
  parseAttKeyIdList,
  sameAttKeyIdBase,
  type AttKeyId,
  type AttKeyIdInit,
} from './att-key-id.js';
export {
  DEFAULT_MAX_REQUEST_BYTES,
  FRAME_ERROR_CODES,
  FRAME_HEADER_SIZE,
  FrameError,
  encodeFrame,
  readFrame,
  writeFrame,
  type FrameErrorCode,
  type ReadFrameOptions,
} from './framing.js';
export {
  AESM_DEFAULT_TIMEOUT_MS,
  AESM_MAX_RESPONSE_BYTES,
  AESM_SOCKET_PATH,
  AesmClient,
  QUOTE_SIGNATURE_LEN_OFFSET,
  QUOTE_SIGNATURE_OFFSET,
  isAesmStatusError,
  outOfProcessQuotingEnabled,
  quoteLength,
  type AesmClientOptions,
  type AesmStatusDetails,
  type AesmStatusError,
  type GetQuoteOptions,
  type GetQuoteResult,
  type InitQuoteExOptions,
  type InitQuoteExResult,
  type TargetInfoResult,
} from './client.js';
export {
  BoundSocketFile,
  claimSocketPath,
  probeSocket,
  type ClaimSocketOptions,
  type SocketClaim,
  type SocketProbe,
} from './unix-socket.js';
