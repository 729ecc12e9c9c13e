/**
 * AesmClient (@cloister/aesm) against the node agent's QuoteHelperServer: libsgx_dcap_ql's out-of-process sequence end
 * to end over the real socket, the simulated QE behind the same protocol as aesmd.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AesmClient, INTEL_ECDSA_ATT_KEY_ID, isAesmStatusError, quoteLength } from '@cloister/aesm';
import { Platform, SimQuotingEnclave, createSimPki, enclaveIdentity, ereportFor, type EnclaveIdentity } from '@cloister/sgx-sim';
import { QuoteHelperServer } from '../src/aesm/quote-helper-server.js';

const KEY = INTEL_ECDSA_ATT_KEY_ID;
const filled = (size: number, byte: number): Uint8Array => new Uint8Array(size).fill(byte);

describe('AesmClient ↔ QuoteHelperServer (the simulated QE behind the same socket protocol)', () => {
  const APP: EnclaveIdentity = enclaveIdentity({ mrEnclave: filled(32, 0xa1), mrSigner: filled(32, 0xb2), isvProdId: 1, isvSvn: 1 });

  it('runs libsgx_dcap_ql’s out-of-proc sequence end to end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloister-aesm-interop-'));
    const platform = Platform.create();
    const qe = new SimQuotingEnclave(platform, await createSimPki(platform));
    const server = new QuoteHelperServer({ socketPath: join(dir, 'aesm.socket'), quotingEnclave: qe });
    await server.start();
    try {
      const client = new AesmClient({ socketPath: server.socketPath });
      assert.ok((await client.getSupportedAttKeyIdNum()) >= 1);
      assert.deepEqual(await client.selectAttKeyId(), KEY);
      const { targetInfo, pubKeyId } = await client.getTargetInfo();
      assert.equal(pubKeyId.length, 32);
      const size = await client.getQuoteSize();
      const reportData = filled(64, 0x5d);
      const { quote } = await client.getQuote(ereportFor(platform, APP, targetInfo, reportData));
      assert.ok(quote.length <= size);
      assert.equal(quote.length, quoteLength(quote));
      // sgx_quote_t: 48-byte header, then the 384-byte report body whose report_data is at body offset 320.
      assert.deepEqual(quote.subarray(48 + 320, 48 + 384), reportData);
      // A REPORT targeted at another enclave than the QE is refused with AESM_INVALID_REPORT (47).
      const elsewhere = new Uint8Array(targetInfo);
      elsewhere.fill(0x11, 0, 32);
      await assert.rejects(
        client.getQuote(ereportFor(platform, APP, elsewhere, reportData), { bufSize: size }),
        (e) => isAesmStatusError(e) && e.aesmError === 'AESM_INVALID_REPORT' && e.status === 47,
      );
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
