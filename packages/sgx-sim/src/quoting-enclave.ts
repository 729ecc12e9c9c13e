/**
 * The simulated Quoting Enclave as an application meets it, the out-of-process flow of DCAP
 * (intel/SGXDataCenterAttestationPrimitives quote generation; AESM InitQuoteEx / GetQuoteEx):
 *   1. the application asks the QE for its TARGETINFO,
 *   2. runs EREPORT targeted at the QE with its report data,
 *   3. the QE checks the REPORT's MAC with its own report key — so only an enclave on this platform can get a quote —
 *      and returns a DCAP quote over the REPORT body, signed by its attestation key, certified by the PCK.
 */
import { encodeTargetInfo, ereportFor, REPORT_SIZE, verifyReportFor } from './enclave.js';
import { SimError } from './errors.js';
import type { EnclaveIdentity } from './identity.js';
import type { Platform } from './platform.js';
import type { SimPkiCertificates } from './pki.js';
import { buildQuote, qeIdentityOf, type QuoteVersion } from './quoting.js';
import { REPORT_BODY_SIZE } from './report-body.js';

export class SimQuotingEnclave {
  readonly platform: Platform;
  readonly pki: SimPkiCertificates;
  readonly identity: EnclaveIdentity;
  readonly #targetInfo: Uint8Array;

  constructor(platform: Platform, pki: SimPkiCertificates) {
    this.platform = platform;
    this.pki = pki;
    this.identity = qeIdentityOf(platform);
    this.#targetInfo = encodeTargetInfo(this.identity);
  }

  /** The QE's 512-byte TARGETINFO (AESM InitQuoteEx). */
  targetInfo(): Uint8Array {
    return new Uint8Array(this.#targetInfo);
  }

  /**
   * A quote for an application REPORT targeted at this QE (AESM GetQuoteEx). A REPORT from another platform, for
   * another target, or tampered with fails with MAC_MISMATCH / INVALID_REPORT.
   */
  getQuote(report: Uint8Array, options: { readonly version?: QuoteVersion } = {}): Uint8Array {
    if (report.length !== REPORT_SIZE) {
      throw new SimError('INVALID_REPORT', `a REPORT is ${REPORT_SIZE} bytes, got ${report.length}`);
    }
    verifyReportFor(this.platform, this.identity, report);
    return buildQuote(this.platform, report.subarray(0, REPORT_BODY_SIZE), { pki: this.pki, version: options.version ?? 3 });
  }

  /** EREPORT by `enclave` for this QE, then {@link getQuote}: what an enclave's `getQuote(reportData)` does. */
  quoteFor(enclave: EnclaveIdentity, reportData: Uint8Array, options: { readonly version?: QuoteVersion } = {}): Uint8Array {
    return this.getQuote(ereportFor(this.platform, enclave, this.#targetInfo, reportData), options);
  }
}
