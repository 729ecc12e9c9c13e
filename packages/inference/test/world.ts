/**
 * A simulated SGX world for the inference tests: a platform directory with its PKI, fresh collateral, the trust
 * anchor of the simulation root, the PP-OCR model encrypted once, and a signed inference enclave.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeCollateralBundle, trustAnchorFromCertificate, type TrustAnchor } from '@cloister/dcap';
import { Platform, createSimCollateral, createSimPki, generateSigningKey, savePki } from '@cloister/sgx-sim';
import type { CollateralBundle } from '@cloister/dcap';
import { writeFileSync } from 'node:fs';
import { encryptModel, type EncryptedModel } from '../src/model-blob.js';
import { readPpocrModelFiles } from '../src/ocr/node-files.js';
import { prepareInferenceEnclave, type PreparedEnclave } from '../src/host/prepare.js';

export const SAMPLE_PNG = new URL('../../../../examples/confidential-ocr/sample.png', import.meta.url);
export const SAMPLE_TEXT = 'Confidential inference\nHello from an enclave 2026';

export interface World {
  readonly root: string;
  readonly platformDir: string;
  readonly platform: Platform;
  readonly collateral: CollateralBundle;
  readonly collateralText: string;
  readonly anchors: readonly TrustAnchor[];
  readonly rootCertPem: string;
  readonly keyPath: string;
  readonly model: EncryptedModel;
  readonly enclave: PreparedEnclave;
  readonly sample: Uint8Array;
  cleanup(): void;
}

export async function makeWorld(prefix: string): Promise<World> {
  const root = mkdtempSync(join(tmpdir(), `cloister-${prefix}-`));
  const platformDir = join(root, 'platform');
  const platform = Platform.create();
  platform.save(platformDir);
  const pki = await createSimPki(platform);
  savePki(pki, platformDir);
  const collateral = await createSimCollateral(platform, pki);
  const keyPath = join(root, 'signer.pem');
  writeFileSync(keyPath, generateSigningKey(), { mode: 0o600 });
  const model = await encryptModel(readPpocrModelFiles());
  const enclave = await prepareInferenceEnclave(join(root, 'enclave'), { keyPath });
  return {
    root,
    platformDir,
    platform,
    collateral,
    collateralText: serializeCollateralBundle(collateral),
    anchors: [trustAnchorFromCertificate(pki.rootCertPem)],
    rootCertPem: pki.rootCertPem,
    keyPath,
    model,
    enclave,
    sample: new Uint8Array(readFileSync(SAMPLE_PNG)),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/**
 * fetch over https that accepts any certificate: what a browser's HPKE path looks like from Node (the TLS layer
 * is not what it trusts). Bounded: bodies over 32 MiB are refused.
 */
export const insecureFetch: typeof fetch = (input, init) =>
  new Promise((resolve, reject) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const body = init?.body instanceof Uint8Array ? Buffer.from(init.body) : typeof init?.body === 'string' ? Buffer.from(init.body) : undefined;
    const req = https.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: init?.method ?? 'GET',
        headers: { ...(init?.headers as Record<string, string> | undefined), ...(body !== undefined ? { 'content-length': String(body.length) } : {}) },
        rejectUnauthorized: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > 32 * 1024 * 1024) res.destroy(new Error('response too large'));
          else chunks.push(c);
        });
        res.on('end', () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
          const status = res.statusCode ?? 500;
          resolve(new Response(status === 204 ? null : Buffer.concat(chunks), { status, headers }));
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
