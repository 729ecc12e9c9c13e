/** Node-only adapters of @cloister/dcap: a node:crypto provider and collateral providers (PCS, PCCS, folder, cache). */
export { createNodeCryptoProvider, nodeCryptoProvider } from './crypto.js';
export {
  createPcsProvider,
  createPccsProvider,
  createFolderProvider,
  collateralFileName,
  normalizeCollateralRequest,
  INTEL_PCS_BASE_URL,
  INTEL_ROOT_CA_CRL_URL,
  type CollateralProvider,
  type CollateralRequest,
  type PcsProviderOptions,
  type PccsProviderOptions,
  type FetchLike,
} from './collateral-providers.js';
export {
  createCachingProvider,
  crlNextUpdate,
  type CachingProviderOptions,
  type CachingCollateralProvider,
} from './collateral-cache.js';
