/**
 * @cloister/node-agent — the SGX device plugin and the AESM quote helper of Cloister's node agent.
 * See docs/operators/device-plugin.md and docs/operators/quote-helper.md. The AESM client, protocol and socket
 * ownership rules are in @cloister/aesm.
 */
export { AGENT_ERROR_CODES, AgentError, type AgentErrorCode } from './errors.js';
export {
  HEALTHY,
  UNHEALTHY,
  type AgentMetrics,
  type ContainerAllocation,
  type DeviceResource,
  type DeviceSpecData,
  type Health,
  type MountData,
  type PluginDevice,
} from './types.js';
export { NodeAgent, type NodeAgentOptions } from './agent.js';
export { QuoteHelperService, DEFAULT_SIM_PLATFORM_DIR, type QuoteHelperServiceOptions } from './quote-helper-service.js';
export {
  deviceNodeState,
  detectHardware,
  readCpuFlags,
  readSysfsEpc,
  type CpuFlags,
  type DetectHardwareOptions,
  type DeviceNodeState,
  type EpcSource,
  type NumaEpc,
  type SgxAvailable,
  type SgxDetection,
  type SgxDeviceNodes,
  type SgxUnavailable,
  type SysfsEpc,
} from './detect/hardware.js';
export { prepareSimulatedSgx, type SimulatedSgx, type SimulatedSgxOptions } from './detect/simulated.js';
export {
  RESOURCE_KINDS,
  buildResources,
  type BuildResourcesOptions,
  type BuiltResources,
  type ResourceKind,
} from './resources/index.js';
export {
  DEFAULT_MAX_EPC_DEVICES,
  ENCLAVE_CONTAINER_PATH,
  EPC_DEVICES_ANNOTATION,
  EPC_MIB_ANNOTATION,
  EPC_RESOURCE_NAME,
  EPC_SOCKET_NAME,
  LEGACY_ENCLAVE_CONTAINER_PATH,
  contiguousWindow,
  createEpcResource,
  epcDeviceId,
  type EpcResource,
  type EpcResourceOptions,
} from './resources/epc.js';
export {
  DEFAULT_SLOT_LIMIT,
  MAX_SLOT_LIMIT,
  SLOT_KINDS,
  createSlotResource,
  type SlotKind,
  type SlotResourceOptions,
} from './resources/slots.js';
export {
  manualHealth,
  watchDeviceNodes,
  type DeviceNodeWatchOptions,
  type DeviceNodeWatcher,
  type HealthSource,
  type HealthSourceFactory,
  type ManualHealth,
} from './resources/health.js';
export { ALLOCATE_BUCKETS, createAgentMetrics, type AgentMetricsOptions, type PromAgentMetrics } from './metrics.js';
// The logger, probe server, metrics registry and connection gate are @cloister/service-kit's (one plumbing).
export { AGENT_COMPONENT, createAgentLogger, createAgentLogger as createLogger, type AgentLoggerOptions } from './logger.js';
export { CLIP_CHARS, clip } from './util/clip.js';
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
export {
  DEVICE_PLUGIN_GRPC_OPTIONS,
  DevicePluginServer,
  MAX_STATUS_DETAILS,
  probeSocket,
  type DevicePluginServerOptions,
  type SocketProbe,
} from './plugin-server.js';
export { register, Backoff, backoffDelay } from './registrar.js';
export { PluginManager, type PluginManagerOptions, type PluginStatus } from './plugin-manager.js';
// the out-of-process quote helper (server side of the AESM protocol) and the aesmd probe
export {
  NOOP_QUOTE_HELPER_METRICS,
  QUOTE_HELPER_LATENCY_BUCKETS,
  createQuoteHelperMetrics,
  type QuoteHelperMetrics,
  type QuoteHelperRejection,
  type QuoteHelperRequestType,
} from './aesm/quote-helper-metrics.js';
export {
  QuoteHelperServer,
  PUB_KEY_ID_SIZE,
  QE_REPORT_INFO_SIZE,
  type QuoteHelperServerOptions,
  type QuoteHelperAnswer,
} from './aesm/quote-helper-server.js';
export {
  AESMD_PROBE_BUCKETS,
  AesmdProbe,
  socketOwnedByAnotherServer,
  type AesmProbeClient,
  type AesmdProbeOptions,
  type AesmdState,
  type AesmdStatus,
} from './aesm/probe.js';
