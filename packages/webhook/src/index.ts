/** @cloister/webhook: Mutating and validating admission webhook for SGX pods, and the cloister install renderer. */
export { WebhookError, type WebhookErrorCode } from './errors.js';
export {
  AESMD_DIR,
  AESMD_VOLUME,
  AESM_ENV,
  AKS_EPC,
  ENCLAVE,
  EPC_RESOURCE,
  INTEL_EPC,
  PROVISION,
  QUOTE_HELPER_ANNOTATION,
  QUOTE_PROVIDER_ANNOTATION,
  SGX_POD_LABEL,
  type EpcName,
} from './names.js';
export { parseQuantity, isIntegral, quantityEquals, formatBytes, type Quantity } from './quantity.js';
export { DEFAULT_CONFIG, TRANSLATIONS, checkConfig, type AdmissionConfig, type Translation } from './config.js';
export { planPod, validatePod, type Plan, type Denial, type DenialRule, type Change, type ChangeKind } from './plan.js';
export type { PatchOperation, AddOperation } from './patch.js';
export type { JsonObject, JsonValue } from './json.js';
export {
  handleReview,
  errorReview,
  REVIEW_API_VERSION,
  type AdmissionResponse,
  type AdmissionReviewOut,
  type Decision,
  type Endpoint,
  type Outcome,
} from './review.js';
export { parseGoDuration } from './duration.js';
export { startWebhook, DEFAULT_BODY_LIMIT, DEFAULT_TIMEOUT_MS, type WebhookServerOptions, type WebhookHandle } from './server.js';
export { admit, admissionEndpoint, type AdmitOptions } from './admit.js';
export { createWebhookMetrics, type WebhookMetrics } from './metrics.js';
export { NodeCapacity, nodeEpcBytes, inClusterCapacityOptions, type NodeCapacityOptions } from './node-capacity.js';
export {
  DEFAULT_OPTIONS,
  IMAGES,
  PARTS,
  imageOf,
  resolveOptions,
  translationFor,
  type CertificateAuthority,
  type ImageName,
  type InstallOptions,
  type Part,
} from './install/options.js';
export { renderInstall, uninstallOrder, type Rendered, type RenderedGroup } from './install/render.js';
export { createCa, issueServing, serviceDnsNames, type ServingCertificate } from './install/certs.js';
export { NODE_RESOURCES, type NodeResources, type ContainerResources } from './install/node.js';
export { GENERATED_HEADER, groupsToYaml, listing, objectsToJson, objectsToYaml, refOf, writeGroups, type ObjectRef } from './install/output.js';
export { WEBHOOK, WEBHOOK_TIMEOUT_SECONDS } from './install/webhook.js';
export { DEPLOY_VARIANTS, renderDeploy, type DeployVariant } from './install/deploy.js';
