export { createNodeCryptoProvider, nodeCryptoProvider } from './crypto.js';
