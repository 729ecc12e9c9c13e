/**
 * The browser path's message protection: HPKE (RFC 9180) base mode with @hpke/core, WebCrypto only (browser-safe).
 *
 * Suite (RFC 9180 §7): DHKEM(P-256, HKDF-SHA256) 0x0010, HKDF-SHA256 0x0001, AES-256-GCM 0x0002 — all three are
 * native WebCrypto algorithms in every browser and in Node.
 *
 * One request = one HPKE context (a fresh encapsulation, §5.1.1 SetupBaseS), never reused:
 *
 * - `info` = "cloister/inference/v1" ‖ SHA-256(runtime data): the context is bound to the attested document that
 *   carries the enclave's HPKE public key, so a request sealed for one attested enclave state opens nowhere else.
 * - Request body (application/octet-stream): `enc` (65 bytes, SerializePublicKey of the ephemeral key) ‖
 *   `ct = context.Seal(aad = "cloister/inference/v1 request", plaintext = JSON request)`.
 * - Response: `key = context.Export("cloister/inference/v1 response", 32)` (§5.3, the secret export interface), and
 *   the body is `nonce (12 random bytes) ‖ AES-256-GCM(key, nonce, JSON response, aad = enc)`. Only the holder of
 *   this context (the client that made the request) can derive the key; a fresh nonce per response, one response
 *   per key (unlike onnx-server-openenclave's static response IV, reference §4.2).
 *
 * HPKE base mode does not prevent replays (RFC 9180 §9.7: replay protection is the application's): the server keeps a
 * bounded window of the `enc` values it has seen and refuses a repeat (REPLAYED).
 */
import { Aes256Gcm, CipherSuite, DhkemP256HkdfSha256, HkdfSha256 } from '@hpke/core';
import { InferenceError } from './errors.js';
import { concatBytes, sha256, utf8 } from './bytes.js';

export const HPKE_SUITE_IDS = Object.freeze({ kem: 0x0010, kdf: 0x0001, aead: 0x0002 });
/** SerializePublicKey length of a P-256 key (uncompressed point, RFC 9180 §7.1.1). */
export const HPKE_ENC_BYTES = 65;
const LABEL = 'cloister/inference/v1';
const REQUEST_AAD = utf8(`${LABEL} request`);
const RESPONSE_EXPORT = utf8(`${LABEL} response`);

export function hpkeSuite(): CipherSuite {
  return new CipherSuite({ kem: new DhkemP256HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
}

/** The HPKE `info` for an enclave whose attested runtime data is `runtimeData`. */
export async function hpkeInfo(runtimeData: Uint8Array): Promise<Uint8Array> {
  return concatBytes(utf8(LABEL), await sha256(runtimeData));
}

async function gcmKey(raw: Uint8Array, usage: 'encrypt' | 'decrypt'): Promise<CryptoKey> {
  return globalThis.crypto.subtle.importKey('raw', raw as Uint8Array<ArrayBuffer>, { name: 'AES-GCM' }, false, [usage]);
}

/** The client's side of one request: the body to send and how to open the answer. */
export interface SealedRequest {
  readonly body: Uint8Array;
  /** Open the response body of THIS request (HPKE_DECRYPT_FAILED otherwise). */
  openResponse(body: Uint8Array): Promise<Uint8Array>;
}

/** Seal one request to the enclave's HPKE public key (a fresh context). */
export async function sealRequest(recipientPublicKey: Uint8Array, info: Uint8Array, plaintext: Uint8Array): Promise<SealedRequest> {
  const suite = hpkeSuite();
  const pk = await suite.kem.deserializePublicKey(recipientPublicKey.slice().buffer);
  const sender = await suite.createSenderContext({ recipientPublicKey: pk, info: info.slice().buffer });
  const ct = new Uint8Array(await sender.seal(plaintext.slice().buffer, REQUEST_AAD.slice().buffer));
  const enc = new Uint8Array(sender.enc);
  const key = new Uint8Array(await sender.export(RESPONSE_EXPORT.slice().buffer, 32));
  return {
    body: concatBytes(enc, ct),
    async openResponse(body: Uint8Array): Promise<Uint8Array> {
      if (body.length < 12 + 16) throw new InferenceError('HPKE_DECRYPT_FAILED', 'the response is too short');
      try {
        return new Uint8Array(
          await globalThis.crypto.subtle.decrypt(
            { name: 'AES-GCM', iv: body.slice(0, 12), additionalData: enc.slice(), tagLength: 128 },
            await gcmKey(key, 'decrypt'),
            body.slice(12),
          ),
        );
      } catch {
        throw new InferenceError('HPKE_DECRYPT_FAILED', 'the response does not decrypt with this request context');
      }
    },
  };
}

/** The enclave's HPKE key pair (generated inside; the public key goes into the runtime data). */
export interface HpkeKeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: CryptoKey;
}

export async function generateHpkeKeyPair(): Promise<HpkeKeyPair> {
  const suite = hpkeSuite();
  const kp = await suite.kem.generateKeyPair();
  return { publicKey: new Uint8Array(await suite.kem.serializePublicKey(kp.publicKey)), privateKey: kp.privateKey };
}

/** The server's side of one request: the plaintext and how to seal the answer to the same context. */
export interface OpenedRequest {
  readonly plaintext: Uint8Array;
  readonly enc: Uint8Array;
  sealResponse(plaintext: Uint8Array): Promise<Uint8Array>;
}

/** Open one request body (enc ‖ ct). HPKE_DECRYPT_FAILED for any failure (wrong context, tampered, truncated). */
export async function openRequest(keyPair: HpkeKeyPair, info: Uint8Array, body: Uint8Array): Promise<OpenedRequest> {
  if (body.length < HPKE_ENC_BYTES + 16) throw new InferenceError('HPKE_DECRYPT_FAILED', 'the request is too short');
  const enc = body.slice(0, HPKE_ENC_BYTES);
  const suite = hpkeSuite();
  let plaintext: Uint8Array;
  let key: Uint8Array;
  try {
    const recipient = await suite.createRecipientContext({ recipientKey: keyPair.privateKey, enc: enc.slice().buffer, info: info.slice().buffer });
    plaintext = new Uint8Array(await recipient.open(body.slice(HPKE_ENC_BYTES).buffer, REQUEST_AAD.slice().buffer));
    key = new Uint8Array(await recipient.export(RESPONSE_EXPORT.slice().buffer, 32));
  } catch {
    throw new InferenceError('HPKE_DECRYPT_FAILED', 'the request does not open with this enclave key (wrong context, tampered or truncated)');
  }
  return {
    plaintext,
    enc,
    async sealResponse(response: Uint8Array): Promise<Uint8Array> {
      const nonce = globalThis.crypto.getRandomValues(new Uint8Array(12));
      const ct = new Uint8Array(
        await globalThis.crypto.subtle.encrypt(
          { name: 'AES-GCM', iv: nonce, additionalData: enc.slice(), tagLength: 128 },
          await gcmKey(key, 'encrypt'),
          response as Uint8Array<ArrayBuffer>,
        ),
      );
      return concatBytes(nonce, ct);
    },
  };
}

/** A bounded window of seen encapsulations (replay refusal): the oldest are forgotten first. */
export class ReplayWindow {
  readonly #seen = new Set<string>();
  readonly #max: number;
  constructor(max = 65_536) {
    this.#max = max;
  }
  /** REPLAYED if `enc` was seen (within the window); records it otherwise. */
  check(enc: Uint8Array): void {
    let k = '';
    for (const b of enc) k += String.fromCharCode(b);
    if (this.#seen.has(k)) throw new InferenceError('REPLAYED', 'this request was already received');
    this.#seen.add(k);
    if (this.#seen.size > this.#max) {
      const first = this.#seen.values().next().value;
      if (first !== undefined) this.#seen.delete(first);
    }
  }
}
