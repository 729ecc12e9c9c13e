/**
 * `cloister collateral fetch QUOTE [--pccs URL] [--out FILE]`: the collateral bundle a quote needs. What was fetched is
 * verified (signatures and chains to the Intel root, or to `--trust-root`) before it is written: a tampered answer is
 * refused with its verification code, never saved.
 */
import { writeFileSync } from 'node:fs';
import {
  INTEL_SGX_ROOT_CA,
  QuoteVerifier,
  collateralRequestForQuote,
  parseQuote,
  serializeCollateralBundle,
  trustAnchorFromCertificate,
  unwrapEvidence,
} from '@cloister/dcap';
import { createPccsProvider, createPcsProvider, nodeCryptoProvider } from '@cloister/dcap/node';
import { CliError } from '../errors.js';
import { readBinaryInput, readInputFile } from '../io.js';
import { printJson, reportFailure } from '../output.js';

export interface CollateralFetchOptions {
  readonly pccs?: string;
  readonly pcs?: string;
  readonly apiKey?: string;
  readonly out?: string;
  readonly trustRoot?: string[];
  readonly json?: boolean;
}

export async function collateralFetchCommand(quotePath: string, opts: CollateralFetchOptions): Promise<void> {
  const json = opts.json === true;
  try {
    const quote = parseQuote(unwrapEvidence(readBinaryInput(quotePath, 'quote')).quote);
    const request = collateralRequestForQuote(quote);
    const provider =
      opts.pccs !== undefined
        ? createPccsProvider({ baseUrl: opts.pccs })
        : createPcsProvider({
            ...(opts.pcs !== undefined ? { baseUrl: opts.pcs } : {}),
            ...(opts.apiKey !== undefined ? { apiKey: opts.apiKey } : {}),
          });
    const bundle = await provider.getCollateral(request);
    const trustAnchors =
      opts.trustRoot !== undefined && opts.trustRoot.length > 0
        ? opts.trustRoot.map((f) => trustAnchorFromCertificate(readInputFile(f, 'trust root')))
        : [INTEL_SGX_ROOT_CA];
    await new QuoteVerifier({ crypto: nodeCryptoProvider(), trustAnchors }).verifyCollateral(bundle);
    const text = serializeCollateralBundle(bundle);
    if (opts.out !== undefined) {
      try {
        writeFileSync(opts.out, text);
      } catch (e) {
        throw new CliError('OUTPUT_UNWRITABLE', `cannot write ${opts.out}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      if (json) printJson({ ok: true, request, out: opts.out });
      else process.stderr.write(`collateral for ${request.tee} FMSPC ${request.fmspc} (${request.ca} CA) written to ${opts.out}\n`);
    } else {
      process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    }
  } catch (e) {
    reportFailure(e, json);
  }
}
