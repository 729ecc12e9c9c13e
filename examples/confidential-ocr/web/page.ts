/**
 * The verifying web page of the confidential OCR example (bundled by ../build-page.mjs into ONE static HTML file).
 *
 * It is not served by the inference host: a page the host served could be swapped by that host for one that skips
 * the verification, and the user would have no way to tell. The user opens this file from disk (or from a
 * dashboard they trust); it then verifies the enclave itself — quote with @cloister/dcap in WebCrypto, identity with
 * @cloister/policy against the policy the USER typed, REPORTDATA binding the HPKE key — and only then sends the
 * image, sealed with HPKE to that key.
 */
import { connectBrowserClient, InferenceError, type BrowserInferenceClient } from '@cloister/inference/browser';
import { trustAnchorFromCertificate } from '@cloister/dcap';

function setState(state: string): void {
  const el = $('status');
  el.dataset.state = state;
  el.textContent = state;
}

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`#${id} is missing`);
  return el as T;
};

let client: BrowserInferenceClient | undefined;

function describe(e: unknown): string {
  const err = e as { code?: unknown; rule?: unknown; message?: unknown };
  const code = typeof err.code === 'string' ? err.code : 'ERROR';
  const rule = typeof err.rule === 'string' ? ` (rule ${err.rule})` : '';
  const remote = InferenceError.is(e) && e.remoteCode !== undefined ? ` [${e.remoteCode}]` : '';
  return `${code}${rule}${remote}: ${typeof err.message === 'string' ? err.message : String(e)}`;
}

async function verify(): Promise<void> {
  $('error').textContent = '';
  $('identity').textContent = 'verifying…';
  setState('verifying');
  client = undefined;
  try {
    const anchorPem = $<HTMLTextAreaElement>('anchor').value.trim();
    client = await connectBrowserClient({
      url: $<HTMLInputElement>('server').value.trim(),
      policy: JSON.parse($<HTMLTextAreaElement>('policy').value) as never,
      ...(anchorPem !== '' ? { trustAnchors: [trustAnchorFromCertificate(anchorPem, 'configured root')] } : {}),
    });
    const id = client.identity;
    $('identity').textContent = [
      `mrenclave  ${id.mrenclave}`,
      `mrsigner   ${id.mrsigner}`,
      `isvProdId  ${id.isvProdId}`,
      `isvSvn     ${id.isvSvn}`,
      `debug      ${id.debug}`,
      `tcbStatus  ${client.tcbStatus}`,
      `model      ${client.document.model}`,
      `modelHash  ${client.document['model-hash']}`,
    ].join('\n');
    setState('verified');
    $<HTMLButtonElement>('recognize').disabled = false;
  } catch (e) {
    $('identity').textContent = '';
    $('error').textContent = describe(e);
    setState('refused');
  }
}

async function recognize(): Promise<void> {
  const file = $<HTMLInputElement>('image').files?.[0];
  if (client === undefined || file === undefined) return;
  $('error').textContent = '';
  $('text').textContent = 'recognising…';
  setState('recognising');
  try {
    const result = await client.recognize(new Uint8Array(await file.arrayBuffer()));
    $('text').textContent = result.text;
    setState('done');
  } catch (e) {
    $('text').textContent = '';
    $('error').textContent = describe(e);
    setState('failed');
  }
}

$('verify').addEventListener('click', () => void verify());
$('recognize').addEventListener('click', () => void recognize());
