/**
 * `cloister infer serve …` and `cloister infer MODEL INPUT --url URL --policy …` (@cloister/inference,
 * docs/developers/confidential-inference.md).
 *
 * - `serve` starts a confidential inference server: the signed inference enclave (`--prepare` builds and signs it
 *   first), the encrypted model blob, the model key from the key broker (`--attestation-url`, `--broker-url`,
 *   `--key-name`: the enclave attests with its runtime data, the broker releases the key wrapped to the enclave's
 *   own RSA key). It prints the endpoint and the enclave identity and serves until SIGINT / SIGTERM. Without the
 *   key it does not start (exit 1).
 * - `encrypt` (the model owner): packs det / rec / keys files into the encrypted model blob (AES-256-GCM under a
 *   fresh key) and writes the blob, and the raw 32-byte key with mode 0600 — to be registered with the key broker
 *   and then deleted. Prints the model hash (SHA-256 of the blob) for the release policy.
 * - `infer` verifies the server over attested TLS against `--policy` (the one policy engine: POLICY_MISMATCH exits 1,
 *   POLICY_INVALID exits 2), prints the verified identity, then sends INPUT (a PNG to the OCR model, or an Open
 *   Inference Protocol request as JSON) and prints the result.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { INTEL_SGX_ROOT_CA, trustAnchorFromCertificate } from '@cloister/dcap';
import {
  InferenceError,
  connectNodeClient,
  encryptModel,
  httpKeyRelease,
  prepareInferenceEnclave,
  startInferenceServer,
  type InferenceRequest,
} from '@cloister/inference';
import { CliError } from '../errors.js';
import { readInputFile, readTextInput, toJsonValue } from '../io.js';
import { identityBlock, policyBlock, printJson, reportFailure, row } from '../output.js';
import { policyOption } from '../policy-option.js';

/** InferenceErrors are reported like every typed Cloister error: one coded line, or `{ ok: false, error }`. */
function report(e: unknown, json: boolean): void {
  if (InferenceError.is(e)) {
    const error = {
      code: e.code,
      message: e.message,
      ...(e.remoteCode !== undefined ? { remoteCode: e.remoteCode } : {}),
      ...(e.limit !== undefined ? { limit: e.limit } : {}),
      ...(e.field !== undefined ? { field: e.field } : {}),
    };
    if (json) printJson({ ok: false, error });
    else process.stderr.write(`error ${e.code}: ${e.message}${e.remoteCode !== undefined ? ` [${e.remoteCode}]` : ''}\n`);
    process.exitCode = e.code === 'INVALID_REQUEST' ? 2 : 1;
    return;
  }
  reportFailure(e, json);
}

function port(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError('INVALID_ARGUMENT', `${flag} must be a port number 0..65535`);
  return n;
}

export interface InferServeOptions {
  readonly enclave: string;
  readonly modelBlob: string;
  readonly model?: string;
  readonly attestationUrl: string;
  readonly brokerUrl: string;
  readonly keyName: string;
  readonly keyVersion?: string;
  readonly brokerTokenFile?: string;
  readonly platform?: string;
  readonly collateral?: string;
  readonly host?: string;
  readonly port?: string;
  readonly prepare?: boolean;
  readonly signingKey?: string;
  readonly json?: boolean;
}

export async function inferServeCommand(opts: InferServeOptions): Promise<void> {
  const json = opts.json === true;
  try {
    const listenPort = port(opts.port, '--port') ?? 8443;
    if (opts.prepare === true) {
      await prepareInferenceEnclave(opts.enclave, { ...(opts.signingKey !== undefined ? { keyPath: opts.signingKey } : {}) });
    }
    const blob = readInputFile(opts.modelBlob, 'model blob', 512 * 1024 * 1024);
    const brokerToken = opts.brokerTokenFile !== undefined ? readTextInput(opts.brokerTokenFile, 'broker token').trim() : 'cloister-inference';
    const server = await startInferenceServer({
      enclaveDir: opts.enclave,
      blob,
      ...(opts.model !== undefined ? { model: opts.model } : {}),
      ...(opts.platform !== undefined ? { platform: opts.platform } : {}),
      ...(opts.collateral !== undefined ? { collateral: readTextInput(opts.collateral, 'collateral') } : {}),
      host: opts.host ?? '127.0.0.1',
      port: listenPort,
      keyReleaser: httpKeyRelease({
        attestationUrl: opts.attestationUrl,
        brokerUrl: opts.brokerUrl,
        keyName: opts.keyName,
        brokerToken,
        ...(opts.keyVersion !== undefined ? { keyVersion: opts.keyVersion } : {}),
      }),
    });
    const facts = {
      url: server.url,
      model: server.model,
      modelHash: server.modelHash,
      mrenclave: server.mrenclave,
      mrsigner: server.mrsigner,
      timingsMs: Object.fromEntries(Object.entries(server.timings).map(([k, v]) => [k, Math.round(v)])),
    };
    if (json) printJson({ ok: true, ...facts });
    else {
      let out = `confidential inference server ready (the model key was released to this enclave)\n`;
      out += row('url', facts.url);
      out += row('model', `${facts.model} (and ${facts.model}-rec)`);
      out += row('modelHash', facts.modelHash);
      out += row('mrenclave', facts.mrenclave);
      out += row('mrsigner', facts.mrsigner);
      out += row('startup', Object.entries(facts.timingsMs).map(([k, v]) => `${k}=${v}`).join(' '));
      process.stdout.write(out);
    }
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
  } catch (e) {
    report(e, json);
  }
}

export interface InferOptions {
  readonly url: string;
  readonly policy?: string;
  readonly allowDebug?: boolean;
  readonly allowSimulated?: boolean;
  readonly collateral?: string;
  readonly trustRoot?: string[];
  readonly modelHash?: string;
  readonly timeout?: string;
  readonly json?: boolean;
}

export async function inferCommand(model: string, input: string, opts: InferOptions): Promise<void> {
  const json = opts.json === true;
  try {
    const policy = policyOption(opts);
    if (policy === undefined) throw new CliError('USAGE', 'give --policy JSON|FILE: the server is used only if its enclave satisfies it');
    if (opts.collateral === undefined) throw new CliError('USAGE', 'give --collateral FILE to verify the server\'s quote');
    const trustRoots =
      opts.trustRoot !== undefined && opts.trustRoot.length > 0
        ? opts.trustRoot.map((f) => trustAnchorFromCertificate(readInputFile(f, 'trust root')))
        : [INTEL_SGX_ROOT_CA];
    const timeoutMs = opts.timeout !== undefined ? Number(opts.timeout) * 1000 : 120_000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new CliError('INVALID_ARGUMENT', '--timeout must be a positive number of seconds');
    const bytes = readInputFile(input, 'input', 16 * 1024 * 1024);
    const client = await connectNodeClient({
      url: opts.url,
      policy,
      verifyOptions: { collateral: readTextInput(opts.collateral, 'collateral'), trustRoots },
      timeoutMs,
      ...(opts.modelHash !== undefined ? { expectedModelHash: opts.modelHash } : {}),
    });
    try {
      const a = client.attestation;
      const isJson = input.endsWith('.json');
      if (isJson) {
        let request: InferenceRequest;
        try {
          request = JSON.parse(new TextDecoder().decode(bytes)) as InferenceRequest;
        } catch {
          throw new CliError('INVALID_ARGUMENT', `${input} is not JSON (an Open Inference Protocol request)`);
        }
        const response = await client.infer(model, request);
        if (json) {
          printJson({ ok: true, identity: toJsonValue(a.identity), modelHash: client.document['model-hash'], response });
          return;
        }
        process.stdout.write(`enclave verified (${a.format})\n${identityBlock(a.identity)}${row('modelHash', client.document['model-hash'])}${policyBlock(a.decision)}\n`);
        process.stdout.write(`${JSON.stringify(response, null, 2)}\n`);
        return;
      }
      const result = await client.recognize(bytes, model);
      if (json) {
        printJson({ ok: true, identity: toJsonValue(a.identity), modelHash: client.document['model-hash'], text: result.text, lines: result.lines });
        return;
      }
      let out = `enclave verified (${a.format})\n${identityBlock(a.identity)}${row('modelHash', client.document['model-hash'])}${policyBlock(a.decision)}\n`;
      out += `${result.text}\n`;
      process.stdout.write(out);
    } finally {
      client.close();
    }
  } catch (e) {
    report(e, json);
  }
}

export interface InferEncryptOptions {
  readonly det: string;
  readonly rec: string;
  readonly keys: string;
  readonly out: string;
  readonly keyOut: string;
  readonly force?: boolean;
  readonly json?: boolean;
}

export async function inferEncryptCommand(opts: InferEncryptOptions): Promise<void> {
  const json = opts.json === true;
  try {
    for (const path of [opts.out, opts.keyOut]) {
      if (opts.force !== true && existsSync(path)) throw new CliError('OUTPUT_UNWRITABLE', `${path} exists (give --force to replace it)`);
    }
    const max = 512 * 1024 * 1024;
    const model = await encryptModel([
      { name: 'det.onnx', bytes: readInputFile(opts.det, 'detection model', max) },
      { name: 'rec.onnx', bytes: readInputFile(opts.rec, 'recognition model', max) },
      { name: 'keys.txt', bytes: readInputFile(opts.keys, 'character dictionary') },
    ]);
    const flag = opts.force === true ? 'w' : 'wx';
    writeFileSync(opts.keyOut, model.key, { mode: 0o600, flag });
    writeFileSync(opts.out, model.blob, { flag });
    model.key.fill(0);
    if (json) printJson({ ok: true, blob: opts.out, key: opts.keyOut, bytes: model.blob.length, modelHash: model.hash });
    else process.stdout.write(`${row('blob', `${opts.out} (${model.blob.length} bytes)`)}${row('key', `${opts.keyOut} (32 bytes, mode 0600: register it with the key broker, then delete it)`)}${row('modelHash', model.hash)}`);
  } catch (e) {
    report(e, json);
  }
}
