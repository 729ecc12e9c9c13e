/**
 * The client side: what a member signs (proposals, ballots), how a member hands its recovery share to a recovering
 * broker, and how the holder of the target key opens a released key (Key Vault's release JWS).
 */
import { randomBytes, createPrivateKey, type KeyObject } from 'node:crypto';
import { CompactEncrypt, CompactSign, calculateJwkThumbprint, compactDecrypt, exportJWK, importJWK, type JWK } from 'jose';
import { createPublicKey } from 'node:crypto';
import { BALLOT_TYP, PROPOSAL_TYP, type Action } from './governance.js';
import { isReleaseEncryption, rsaAesKeyUnwrap, type ReleaseEncryption } from '../enclave/src/key-wrap.js';

function algOf(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'ES384' : 'ES256';
    case 'rsa':
      return 'RS256';
    case 'ed25519':
      return 'EdDSA';
    default:
      throw new TypeError(`unsupported member key type ${String(key.asymmetricKeyType)}`);
  }
}

async function kidOf(key: KeyObject): Promise<string> {
  const jwk = (await exportJWK(createPublicKey(key))) as JWK;
  const pub: JWK = jwk.kty === 'RSA' ? { kty: 'RSA', n: jwk.n!, e: jwk.e! } : { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, ...(jwk.y !== undefined ? { y: jwk.y } : {}) };
  return calculateJwkThumbprint(pub, 'sha256');
}

function asKey(key: KeyObject | string): KeyObject {
  return typeof key === 'string' ? createPrivateKey(key) : key;
}

async function sign(payload: unknown, typ: string, privateKey: KeyObject | string): Promise<string> {
  const key = asKey(privateKey);
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: algOf(key), kid: await kidOf(key), typ })
    .sign(key);
}

/** A member's signed proposal (compact JWS); `nonce` makes it unique (random by default). */
export async function signProposal(actions: readonly Action[], privateKey: KeyObject | string, nonce: string = randomBytes(16).toString('hex')): Promise<string> {
  return sign({ actions, nonce }, PROPOSAL_TYP, privateKey);
}

export async function signBallot(proposalId: string, vote: 'accept' | 'reject', privateKey: KeyObject | string): Promise<string> {
  return sign({ proposal: proposalId, vote }, BALLOT_TYP, privateKey);
}

/**
 * Decrypts a member's recovery share with the member's private key and encrypts it to the recovering enclave's
 * recovery key (RSA-OAEP-256, A256GCM). Verify the recovery key's quote first (GET /recovery/key): REPORTDATA[0..32]
 * must be SHA-256 of the key's thumbprint, and the enclave must be the broker's (docs/key-broker.md).
 */
export async function reencryptShare(shareJwe: string, memberPrivateKey: KeyObject | string, recoveryJwk: JsonWebKey): Promise<string> {
  const key = asKey(memberPrivateKey);
  const { plaintext } = await compactDecrypt(shareJwe, key, { keyManagementAlgorithms: ['RSA-OAEP-256', 'ECDH-ES+A256KW'], contentEncryptionAlgorithms: ['A256GCM'] });
  const to = await importJWK({ kty: 'RSA', n: recoveryJwk.n!, e: recoveryJwk.e! }, 'RSA-OAEP-256');
  try {
    return await new CompactEncrypt(plaintext).setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', cty: 'cloister-kb-share' }).encrypt(to);
  } finally {
    plaintext.fill(0);
  }
}

export interface OpenedRelease {
  /** The released key material: raw bytes of an oct key, PKCS#8 DER of an RSA or EC key. */
  readonly material: Uint8Array;
  readonly kid: string;
  readonly kty: string;
  readonly enc: ReleaseEncryption;
  /** The JWS header (alg, kid of the broker's signing key). */
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
}

/**
 * Opens Key Vault's release result (`value`, a compact JWS whose payload holds response.key.key.key_hsm) with the
 * target's private key. The JWS signature is checked when `signingJwk` (the broker's, GET /broker/identity) is given.
 */
export async function openReleasedKey(value: string, targetPrivateKey: KeyObject | string, signingJwk?: JsonWebKey): Promise<OpenedRelease> {
  const parts = value.split('.');
  if (parts.length !== 3) throw new TypeError('the release result is not a compact JWS');
  if (signingJwk !== undefined) {
    const { compactVerify } = await import('jose');
    await compactVerify(value, await importJWK(signingJwk as JWK, 'RS256'));
  }
  const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as {
    response?: { key?: { key?: { kid?: string; kty?: string; key_hsm?: string } } };
  };
  const k = payload.response?.key?.key;
  if (k?.key_hsm === undefined) throw new TypeError('the release result has no response.key.key.key_hsm');
  const hsm = JSON.parse(Buffer.from(k.key_hsm, 'base64url').toString('utf8')) as { header?: { enc?: string }; ciphertext?: string };
  const enc = hsm.header?.enc;
  if (!isReleaseEncryption(enc) || typeof hsm.ciphertext !== 'string') throw new TypeError('key_hsm has no known enc or no ciphertext');
  const material = rsaAesKeyUnwrap(asKey(targetPrivateKey), enc, new Uint8Array(Buffer.from(hsm.ciphertext, 'base64url')));
  return { material, kid: k.kid ?? '', kty: k.kty ?? '', enc, header, payload: payload as Record<string, unknown> };
}
