/**
 * The sim backend's trusted services: what the simulated CPU (@cloister/sgx-sim's SimEnclave: EREPORT, EGETKEY,
 * sealing) and the platform's Quoting Enclave provide to one enclave. They run in the host process, outside the
 * enclave's permission-restricted process, as the CPU is outside the enclave on hardware.
 *
 * Quotes follow Intel's DCAP flow: out of process through the AESM socket when SGX_AESM_ADDR is set (InitQuoteEx →
 * EREPORT targeted at the QE → GetQuoteEx), in process (the platform's simulated QE directly) otherwise.
 */
import { toHex } from '@cloister/dcap';
import { AesmClient, outOfProcessQuotingEnabled } from '@cloister/aesm';
import { SimError, isDebug, type SimEnclave, type SimQuotingEnclave } from '@cloister/sgx-sim';
import { EnclaveError } from '../errors.js';
import type { EnclaveSelf, EnclaveServices, SealOptions } from '../types.js';

export type QuotingMode =
  | { readonly mode: 'out-of-process'; readonly client: AesmClient }
  | { readonly mode: 'in-process'; readonly qe: SimQuotingEnclave };

export interface SimServicesOptions {
  readonly enclave: SimEnclave;
  /** The platform's QE, for in-process quoting (no SGX_AESM_ADDR). */
  readonly qe?: SimQuotingEnclave;
  /** Override the AESM socket (default /var/run/aesmd/aesm.socket) for out-of-process quoting. */
  readonly aesmSocketPath?: string;
  /** Default: out of process iff SGX_AESM_ADDR is present in `env`. */
  readonly env?: NodeJS.ProcessEnv;
}

export function quotingMode(options: SimServicesOptions): QuotingMode {
  if (outOfProcessQuotingEnabled(options.env ?? process.env)) {
    return {
      mode: 'out-of-process',
      client: new AesmClient(options.aesmSocketPath !== undefined ? { socketPath: options.aesmSocketPath } : {}),
    };
  }
  if (options.qe === undefined) {
    throw new EnclaveError(
      'ATTESTATION_FAILED',
      'in-process quoting needs the platform Quoting Enclave; set SGX_AESM_ADDR to quote through the AESM socket',
    );
  }
  return { mode: 'in-process', qe: options.qe };
}

function checkReportData(reportData: Uint8Array): void {
  if (!(reportData instanceof Uint8Array) || reportData.length > 64) {
    throw new EnclaveError('INVALID_ARGUMENT', 'report data is a Uint8Array of at most 64 bytes');
  }
}

export class SimEnclaveServices implements EnclaveServices {
  readonly #enclave: SimEnclave;
  readonly #options: SimServicesOptions;
  #quoting: QuotingMode | undefined;

  constructor(options: SimServicesOptions) {
    this.#enclave = options.enclave;
    this.#options = options;
  }

  self(): EnclaveSelf {
    const id = this.#enclave.identity;
    return {
      mrenclave: toHex(id.mrEnclave),
      mrsigner: toHex(id.mrSigner),
      productId: id.isvProdId,
      securityVersion: id.isvSvn,
      debug: isDebug(id),
    };
  }

  async report(reportData: Uint8Array, targetInfo?: Uint8Array): Promise<Uint8Array> {
    checkReportData(reportData);
    try {
      return this.#enclave.ereport(targetInfo ?? this.#enclave.targetInfo(), reportData);
    } catch (e) {
      if (SimError.is(e)) throw new EnclaveError('INVALID_ARGUMENT', `EREPORT: ${e.message}`, { cause: e });
      throw e;
    }
  }

  async quote(reportData: Uint8Array): Promise<Uint8Array> {
    checkReportData(reportData);
    const q = (this.#quoting ??= quotingMode(this.#options));
    try {
      if (q.mode === 'in-process') return q.qe.getQuote(this.#enclave.ereport(q.qe.targetInfo(), reportData));
      const { targetInfo } = await q.client.getTargetInfo();
      const { quote } = await q.client.getQuote(this.#enclave.ereport(targetInfo, reportData));
      return quote;
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      throw new EnclaveError(
        'ATTESTATION_FAILED',
        `${q.mode} quote failed${typeof code === 'string' ? ` (${code})` : ''}: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  async seal(data: Uint8Array, options: SealOptions = {}): Promise<Uint8Array> {
    return this.#enclave.seal(data, {
      policy: options.policy ?? 'MRSIGNER',
      ...(options.additionalData !== undefined ? { additionalMacText: options.additionalData } : {}),
    });
  }

  async unseal(blob: Uint8Array): Promise<{ data: Uint8Array; additionalData: Uint8Array }> {
    try {
      const u = this.#enclave.unseal(blob);
      return { data: u.plaintext, additionalData: u.additionalMacText };
    } catch (e) {
      if (SimError.is(e)) {
        throw new EnclaveError('UNSEAL_FAILED', `this enclave cannot unseal the blob (${e.code}): ${e.message}`, { cause: e });
      }
      throw e;
    }
  }
}
