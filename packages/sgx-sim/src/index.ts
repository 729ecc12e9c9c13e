export * from './errors.js';
export * from './identity.js';
export { encodeReportBody, REPORT_BODY_SIZE } from './report-body.js';
export { Platform, DEFAULT_PLATFORM_CONFIG, type PlatformConfig, type CreatePlatformOptions } from './platform.js';
