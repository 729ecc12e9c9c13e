/**
 * Which collateral a quote needs: its TEE, the FMSPC from the PCK certificate's SGX extension, and which PCK CA
 * issued it (dcap-attestation.md §2.2 "CRL choice"; Phala-Network/dcap-qvl src/collateral.rs).
 */
import { DcapError } from '../errors.js';
import type { Quote, TeeType } from '../quote/types.js';
import { toHex } from '../util/bytes.js';
import { parseCertificateChainPem } from '../x509/chain.js';
import { parsePckExtension } from '../x509/sgx-extension.js';
import { orderChain } from './chains.js';

export interface CollateralRequest {
  readonly tee: TeeType;
  /** 6 bytes as 12 hex digits (lower case from collateralRequestForQuote; providers accept either case). */
  readonly fmspc: string;
  readonly ca: 'processor' | 'platform';
}

export function collateralRequestForQuote(quote: Quote, pckCertificateChain?: string): CollateralRequest {
  const certData = quote.signature.qeReportCertificationData.certificationData;
  const pem = certData.type === 5 ? certData.pem : pckCertificateChain;
  if (pem === undefined) {
    throw new DcapError(
      'UNSUPPORTED_QE_CERTIFICATION_DATA_TYPE',
      `certification data type ${certData.type} carries no PCK chain: give the PCK certificate chain`,
    );
  }
  const chain = orderChain(parseCertificateChainPem(pem));
  const pck = chain[chain.length - 1];
  const issuer = chain.length >= 2 ? chain[chain.length - 2] : undefined;
  if (pck === undefined || issuer === undefined) throw new DcapError('UNSUPPORTED_CERT_FORMAT', 'the PCK chain is incomplete');
  const ext = parsePckExtension(pck);
  const cn = issuer.subject.commonName ?? '';
  const ca = cn.includes('Processor') ? 'processor' : cn.includes('Platform') ? 'platform' : undefined;
  if (ca === undefined) throw new DcapError('SGX_INTERMEDIATE_CA_MISSING', `unknown PCK issuer "${cn}"`);
  return { tee: quote.teeType, fmspc: toHex(ext.fmspc), ca };
}
