export * from './errors.js';
export type * from './quote/types.js';
export type * from './x509/types.js';
export type * from './collateral/types.js';
export type { CryptoProvider, P256PublicKey } from './crypto/provider.js';
export { createWebCryptoProvider, webCryptoProvider } from './crypto/webcrypto.js';
export { toHex, fromHex, toBase64, fromBase64, toBase64Url, bytesEqual, concatBytes } from './util/bytes.js';
