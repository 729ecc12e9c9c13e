/** @cloister/node-agent — the SGX device plugin of Cloister's node agent. See docs/operators/device-plugin.md. */
export * from './errors.js';
export * from './types.js';
export { NodeAgent, type NodeAgentOptions } from './agent.js';
export { QuoteHelperService, DEFAULT_SIM_PLATFORM_DIR, type QuoteHelperServiceOptions } from './quote-helper-service.js';
export * from './detect/hardware.js';
export * from './detect/simulated.js';
export * from './resources/index.js';
export * from './resources/epc.js';
export * from './resources/slots.js';
export * from './resources/health.js';
export * from './metrics.js';
export * from './http.js';
export * from './log.js';
export {
  DEVICE_PLUGIN_API_VERSION,
  KUBELET_SOCKET_NAME,
  DEVICE_PLUGIN_PATH,
  devicePluginServiceDefinition,
  registrationServiceDefinition,
  DevicePluginClient,
  RegistrationClient,
  unixTarget,
} from './grpc/services.js';
export { DevicePluginServer, probeSocket, type DevicePluginServerOptions } from './plugin-server.js';
export { register, Backoff, backoffDelay } from './registrar.js';
export { PluginManager, type PluginManagerOptions, type PluginStatus } from './plugin-manager.js';
// the out-of-process quote helper (AESM protocol)
export * from './aesm/errors.js';
export * from './aesm/att-key-id.js';
export * from './aesm/framing.js';
export * from './aesm/quote-helper-metrics.js';
export { QuoteHelperServer, PUB_KEY_ID_SIZE, QE_REPORT_INFO_SIZE, type QuoteHelperServerOptions, type QuoteHelperAnswer } from './aesm/quote-helper-server.js';
export * from './aesm/client.js';
export * from './aesm/probe.js';
