/**
 * The key broker's enclave: the only place where the key-encryption key (KEK), the broker's signing key and any key
 * in the clear exist. The host stores what this returns (keys wrapped under the KEK, the KEK sealed to MRSIGNER) and
 * never holds a released key in the clear: a release unwraps and rewraps to the attested target key in here.
 *
 * Attested TLS ends in here (onConnection): the certificate is an RA-TLS certificate made inside, over a quote of
 * this enclave. A connection that negotiates ALPN `cloister-kek/1` is a replica asking for the KEK: it must present
 * its own RA-TLS certificate satisfying the broker's identity policy (same MRSIGNER and product, SVN at least ours,
 * @cloister/policy evidence rules); every other connection is relayed, decrypted, to the host's API listener.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign as rsaSign, createCipheriv, createDecipheriv, type KeyObject } from 'node:crypto';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { defineEnclave, type EnclaveContext } from '@cloister/enclave/runtime';
import { trustAnchorFromCertificate } from '@cloister/dcap';
import { parseEvidenceRules } from '@cloister/policy';
import { createAttestedCertificate, verifyPeer, type AttestedCertificate } from '@cloister/ratls';
import { CompactEncrypt, FlattenedEncrypt, compactDecrypt, calculateJwkThumbprint, importJWK, exportJWK, type FlattenedJWE } from 'jose';
import { isReleaseEncryption, rsaAesKeyWrap, type ReleaseEncryption } from './key-wrap.js';
import { combine, split } from './shamir.js';

const SEAL_AAD = new TextEncoder().encode('cloister-key-broker/state/v1');
export const KEK_ALPN = 'cloister-kek/1';
/** Largest state a replica accepts over the transfer channel. */
const MAX_TRANSFER_BYTES = 64 * 1024;
const TRANSFER_TIMEOUT_MS = 15_000;

interface State {
  readonly kek: Buffer;
  readonly signKey: KeyObject;
  readonly signJwk: JsonWebKey & { kid: string };
}

export interface PeerConfig {
  /** Trust roots (PEM) of peers' PCK chains; empty: Intel's root. */
  readonly trustRootsPem?: readonly string[];
  /** @cloister/policy evidence rules: allowDebug, acceptedTcbStatuses, acceptedAdvisories, allowSimulated. */
  readonly evidenceRules?: unknown;
}

export interface OpenArgs {
  readonly sealed?: Uint8Array;
}

export interface OpenResult {
  /** Present when the state was created (or re-sealed): what the host must store. */
  readonly sealed?: Uint8Array;
  readonly created: boolean;
  readonly signingJwk: JsonWebKey & { kid: string };
}

export type KeyKind = 'RSA' | 'EC' | 'oct';

export interface GenerateArgs {
  readonly kty: KeyKind;
  readonly size?: number;
  readonly crv?: string;
  readonly aad: string;
}

export interface WrappedKey {
  readonly wrapped: Uint8Array;
  /** The public half (RSA n/e, EC crv/x/y); empty for oct. */
  readonly publicJwk: JsonWebKey;
  readonly kty: KeyKind;
}

export interface ReleaseArgs {
  readonly wrapped: Uint8Array;
  readonly aad: string;
  readonly target: JsonWebKey;
  readonly targetKid: string;
  readonly enc: ReleaseEncryption;
  /** The JWS payload without `response.key.key.key_hsm` (the enclave adds it). */
  readonly payload: { request: unknown; response: { key: { key: Record<string, unknown> } & Record<string, unknown> } };
}

let state: State | undefined;
let attested: AttestedCertificate | undefined;
let apiPort: number | undefined;
let peerConfig: PeerConfig = {};
let recoveryKey: KeyObject | undefined;

function need(): State {
  if (state === undefined) throw Object.assign(new Error('the broker enclave holds no key-encryption key yet'), { code: 'KEK_MISSING' });
  return state;
}

function b64u(b: Uint8Array | string): string {
  return Buffer.from(b).toString('base64url');
}

async function stateFrom(kek: Buffer, signPkcs8: Buffer): Promise<State> {
  const signKey = createPrivateKey({ key: signPkcs8, format: 'der', type: 'pkcs8' });
  const pub = createPublicKey(signKey).export({ format: 'jwk' });
  const kid = await calculateJwkThumbprint(pub as Parameters<typeof calculateJwkThumbprint>[0], 'sha256');
  return { kek, signKey, signJwk: { ...pub, kid, alg: 'RS256', use: 'sig' } };
}

function serialise(s: State): Buffer {
  const pkcs8 = s.signKey.export({ format: 'der', type: 'pkcs8' });
  return Buffer.from(JSON.stringify({ v: 1, kek: s.kek.toString('base64'), sign: pkcs8.toString('base64') }));
}

async function deserialise(bytes: Uint8Array): Promise<State> {
  const o = JSON.parse(Buffer.from(bytes).toString('utf8')) as { v?: unknown; kek?: unknown; sign?: unknown };
  if (o.v !== 1 || typeof o.kek !== 'string' || typeof o.sign !== 'string') throw Object.assign(new Error('not a broker state'), { code: 'STATE_INVALID' });
  const kek = Buffer.from(o.kek, 'base64');
  if (kek.length !== 32) throw Object.assign(new Error('the KEK is not 32 bytes'), { code: 'STATE_INVALID' });
  return stateFrom(kek, Buffer.from(o.sign, 'base64'));
}

/** Compact JWS RS256 (RFC 7515 §7.1) with the broker's signing key. */
function signJws(payload: Uint8Array, typ = 'JWT'): string {
  const s = need();
  const header = b64u(JSON.stringify({ alg: 'RS256', kid: s.signJwk.kid, typ }));
  const input = `${header}.${b64u(payload)}`;
  return `${input}.${b64u(rsaSign('sha256', Buffer.from(input), s.signKey))}`;
}

/** AES-256-GCM under the KEK: iv(12) ‖ ciphertext ‖ tag(16), AAD binding the key's name and version. */
function wrapUnderKek(material: Uint8Array, aad: string): Uint8Array {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', need().kek, iv);
  c.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([c.update(material), c.final()]);
  return new Uint8Array(Buffer.concat([iv, ct, c.getAuthTag()]));
}

function unwrapUnderKek(blob: Uint8Array, aad: string): Buffer {
  if (blob.length < 28) throw Object.assign(new Error('wrapped key too short'), { code: 'WRAPPED_KEY_INVALID' });
  const b = Buffer.from(blob);
  const d = createDecipheriv('aes-256-gcm', need().kek, b.subarray(0, 12));
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(b.subarray(b.length - 16));
  try {
    return Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]);
  } catch {
    throw Object.assign(new Error('the wrapped key does not open under this KEK'), { code: 'WRAPPED_KEY_INVALID' });
  }
}

function materialOf(kty: KeyKind, key: KeyObject | Buffer): { material: Buffer; publicJwk: JsonWebKey } {
  if (Buffer.isBuffer(key)) return { material: key, publicJwk: {} };
  const material = key.export({ format: 'der', type: 'pkcs8' });
  const pub = createPublicKey(key).export({ format: 'jwk' });
  return { material, publicJwk: kty === 'RSA' ? { kty: 'RSA', n: pub.n, e: pub.e } : { kty: 'EC', crv: pub.crv, x: pub.x, y: pub.y } };
}

const EC_CURVES: Readonly<Record<string, string>> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1', 'P-256K': 'secp256k1' };

function fail(code: string, message: string): never {
  throw Object.assign(new Error(message), { code });
}

/** The broker's own identity policy: our MRSIGNER and product, at least our SVN, plus the configured evidence rules. */
async function identityPolicy(ctx: EnclaveContext): Promise<Record<string, unknown>> {
  const self = await ctx.identity();
  const rules = peerConfig.evidenceRules;
  parseEvidenceRules(rules ?? {});
  // The input form (parsePolicy validates it again in verifyPeer): identity from ourselves, evidence rules from config.
  return { ...(typeof rules === 'object' && rules !== null ? rules : {}), mrsigner: self.mrsigner, isvProdId: self.productId, minIsvSvn: self.securityVersion };
}

function verifyOptions(ctx: EnclaveContext): { trustRoots?: ReturnType<typeof trustAnchorFromCertificate>[]; collateralProvider: (q: Uint8Array) => Promise<object> } {
  const roots = peerConfig.trustRootsPem ?? [];
  return {
    ...(roots.length > 0 ? { trustRoots: roots.map((p) => trustAnchorFromCertificate(p)) } : {}),
    // Collateral is signed by the PCK chain's issuer: the host only fetches it.
    collateralProvider: async (quote) => ctx.ocall<object>('collateral', { quote }),
  };
}

async function certificate(ctx: EnclaveContext): Promise<AttestedCertificate> {
  attested ??= await createAttestedCertificate({ getQuote: (rd) => ctx.getQuote(rd), subject: 'CN=Cloister key broker,O=Cloister', validityDays: 365 });
  return attested;
}

async function sealState(ctx: EnclaveContext, s: State): Promise<Uint8Array> {
  return ctx.seal(serialise(s), { policy: 'MRSIGNER', additionalData: SEAL_AAD });
}

/** Reads one length-prefixed (u32 BE) message of at most MAX_TRANSFER_BYTES. */
function readFrame(socket: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error('transfer timed out')), TRANSFER_TIMEOUT_MS);
    const done = (e?: Error, v?: Buffer): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onErr);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      if (e !== undefined) reject(Object.assign(e, { code: 'TRANSFER_FAILED' }));
      else resolve(v!);
    };
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 4) {
        const n = buf.readUInt32BE(0);
        if (n > MAX_TRANSFER_BYTES) return done(new Error('transfer message too large'));
        if (buf.length >= 4 + n) done(undefined, buf.subarray(4, 4 + n));
      }
    };
    const onErr = (e: Error): void => done(e);
    const onEnd = (): void => done(new Error('the peer closed the transfer channel'));
    socket.on('data', onData);
    socket.on('error', onErr);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    // The peer may have refused us (and closed) while we were still verifying it.
    if (socket.destroyed || socket.readableEnded) onEnd();
  });
}

function frame(payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(payload.length);
  return Buffer.concat([head, payload]);
}

async function serveTransfer(socket: tls.TLSSocket, ctx: EnclaveContext): Promise<void> {
  try {
    const s = need();
    const v = await verifyPeer(socket, { policy: (await identityPolicy(ctx)) as never, verifyOptions: verifyOptions(ctx) });
    ctx.log.info('KEK sent to a replica', { mrenclave: v.identity.mrenclave, isvSvn: v.identity.isvSvn });
    socket.end(frame(serialise(s)));
  } catch (e) {
    ctx.log.warn('KEK transfer refused', { code: (e as { code?: string }).code ?? 'ERROR', rule: (e as { rule?: string }).rule ?? '' });
    socket.destroy();
  }
}

async function relayToApi(socket: tls.TLSSocket, ctx: EnclaveContext): Promise<void> {
  if (apiPort === undefined) {
    socket.destroy();
    return;
  }
  try {
    const up = await ctx.connect('127.0.0.1', apiPort);
    socket.pipe(up);
    up.pipe(socket);
    const close = (): void => {
      socket.destroy();
      up.destroy();
    };
    socket.on('error', close);
    up.on('error', close);
    socket.on('close', close);
    up.on('close', close);
  } catch {
    socket.destroy();
  }
}

export default defineEnclave({
  ecalls: {
    /** Unseal the state, or create it (a fresh KEK and RSA-2048 signing key) when none is given. */
    /** Where decrypted attested-TLS connections go, and how replicas are verified. */
    async configure(args: { apiPort?: number; peer?: PeerConfig }): Promise<void> {
      if (args.apiPort !== undefined) apiPort = args.apiPort;
      if (args.peer !== undefined) {
        parseEvidenceRules(args.peer.evidenceRules ?? {});
        peerConfig = args.peer;
      }
    },

    async open(args: OpenArgs, ctx): Promise<OpenResult> {
      if (args.sealed !== undefined) {
        const { data, additionalData } = await ctx.unseal(args.sealed);
        if (Buffer.compare(Buffer.from(additionalData), Buffer.from(SEAL_AAD)) !== 0) fail('STATE_INVALID', 'the sealed blob is not a broker state');
        state = await deserialise(data);
        return { created: false, signingJwk: state.signJwk };
      }
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      state = await stateFrom(randomBytes(32), privateKey.export({ format: 'der', type: 'pkcs8' }));
      return { created: true, sealed: await sealState(ctx, state), signingJwk: state.signJwk };
    },

    async generate(args: GenerateArgs): Promise<WrappedKey> {
      need();
      let key: KeyObject | Buffer;
      if (args.kty === 'RSA') {
        const size = args.size ?? 2048;
        if (![2048, 3072, 4096].includes(size)) fail('BAD_PARAMETER', 'RSA key_size must be 2048, 3072 or 4096');
        key = generateKeyPairSync('rsa', { modulusLength: size }).privateKey;
      } else if (args.kty === 'EC') {
        const curve = EC_CURVES[args.crv ?? 'P-256'];
        if (curve === undefined) fail('BAD_PARAMETER', 'crv must be P-256, P-384, P-521 or P-256K');
        key = generateKeyPairSync('ec', { namedCurve: curve }).privateKey;
      } else if (args.kty === 'oct') {
        const size = args.size ?? 256;
        if (![128, 192, 256].includes(size)) fail('BAD_PARAMETER', 'oct key_size must be 128, 192 or 256');
        key = randomBytes(size / 8);
      } else {
        fail('BAD_PARAMETER', 'kty must be RSA, EC or oct');
      }
      const { material, publicJwk } = materialOf(args.kty, key);
      try {
        return { wrapped: wrapUnderKek(material, args.aad), publicJwk, kty: args.kty };
      } finally {
        material.fill(0);
      }
    },

    /** Import a JWK in the clear (RSA/EC with private parts, or oct `k`) and wrap it. */
    async importKey(args: { jwk: JsonWebKey; aad: string }): Promise<WrappedKey> {
      need();
      const kty = String(args.jwk.kty ?? '').replace(/-HSM$/, '');
      if (kty === 'oct') {
        const k = Buffer.from(String(args.jwk.k ?? ''), 'base64url');
        if (![16, 24, 32].includes(k.length)) fail('BAD_PARAMETER', 'an oct key must be 128, 192 or 256 bits');
        return { wrapped: wrapUnderKek(k, args.aad), publicJwk: {}, kty: 'oct' };
      }
      if (kty !== 'RSA' && kty !== 'EC') fail('BAD_PARAMETER', 'kty must be RSA, EC or oct');
      let key: KeyObject;
      try {
        key = createPrivateKey({ key: { ...args.jwk, kty } as import('node:crypto').JsonWebKey, format: 'jwk' });
      } catch {
        fail('BAD_PARAMETER', 'the key is not a valid private JWK');
      }
      const { material, publicJwk } = materialOf(kty, key);
      return { wrapped: wrapUnderKek(material, args.aad), publicJwk, kty };
    },

    /** Unwrap under the KEK and rewrap to the target (CKM_RSA_AES_KEY_WRAP family); returns AKV's signed JWS. */
    async release(args: ReleaseArgs): Promise<string> {
      if (!isReleaseEncryption(args.enc)) fail('BAD_PARAMETER', 'unknown enc');
      const material = unwrapUnderKek(args.wrapped, args.aad);
      try {
        const ciphertext = rsaAesKeyWrap(args.target, args.enc, material);
        const keyHsm = { schema_version: '1.0', header: { kid: args.targetKid, alg: 'dir', enc: args.enc }, ciphertext: b64u(ciphertext) };
        const payload = args.payload;
        payload.response.key.key = { ...payload.response.key.key, key_hsm: b64u(JSON.stringify(keyHsm)) };
        return signJws(Buffer.from(JSON.stringify(payload)));
      } finally {
        material.fill(0);
      }
    },

    /**
     * Trustee KBS: the key material as a flattened JWE (RFC 7516 §7.2.2) to the TEE's key, `enc` A256GCM and `alg`
     * RSA-OAEP-256 (RSA key) or ECDH-ES+A256KW (EC P-256/P-384/P-521), as Trustee's kbs/src/jwe does.
     */
    async releaseJwe(args: { wrapped: Uint8Array; aad: string; teePubkey: JsonWebKey }): Promise<FlattenedJWE> {
      const t = args.teePubkey;
      const alg = t.kty === 'RSA' ? 'RSA-OAEP-256' : t.kty === 'EC' ? 'ECDH-ES+A256KW' : fail('BAD_PARAMETER', 'tee-pubkey must be RSA or EC');
      let key;
      try {
        key = await importJWK((t.kty === 'RSA' ? { kty: 'RSA', n: t.n, e: t.e } : { kty: 'EC', crv: t.crv, x: t.x, y: t.y }) as Parameters<typeof importJWK>[0], alg);
      } catch {
        fail('BAD_PARAMETER', 'tee-pubkey is not a valid public key');
      }
      const material = unwrapUnderKek(args.wrapped, args.aad);
      try {
        return await new FlattenedEncrypt(material).setProtectedHeader({ alg, enc: 'A256GCM' }).encrypt(key);
      } finally {
        material.fill(0);
      }
    },

    /** Measures the rewrap alone (unwrap under the KEK, rewrap to the target), without signing (benchmarks). */
    async rewrap(args: { wrapped: Uint8Array; aad: string; target: JsonWebKey; enc: ReleaseEncryption }): Promise<number> {
      const material = unwrapUnderKek(args.wrapped, args.aad);
      try {
        return rsaAesKeyWrap(args.target, args.enc, material).length;
      } finally {
        material.fill(0);
      }
    },

    /** A compact JWS over `payload` with the broker's signing key (ledger entries). */
    async sign(args: { payload: Uint8Array; typ?: string }): Promise<string> {
      return signJws(args.payload, args.typ);
    },

    /** The enclave's RA-TLS certificate (its key stays inside) and the signing key, for clients to pin. */
    async certificate(_args: undefined, ctx): Promise<{ certificatePem: string; signingJwk: JsonWebKey }> {
      const c = await certificate(ctx);
      return { certificatePem: c.certificatePem, signingJwk: need().signJwk };
    },

    /** A quote whose REPORTDATA[0..32] is SHA-256 of the signing key's RFC 7638 thumbprint (ASCII). */
    async attestSigningKey(_args: undefined, ctx): Promise<Uint8Array> {
      const rd = new Uint8Array(64);
      rd.set(createHash('sha256').update(need().signJwk.kid).digest());
      return ctx.getQuote(rd);
    },

    /**
     * Split the state into one share per member (any `threshold` recover it), each encrypted to its member's key
     * (JWE compact, RSA-OAEP-256 or ECDH-ES+A256KW, A256GCM).
     */
    async recoveryShares(args: { members: readonly JsonWebKey[]; threshold: number }): Promise<string[]> {
      const secret = serialise(need());
      try {
        const shares = split(secret, args.members.length, args.threshold);
        const out: string[] = [];
        for (let i = 0; i < shares.length; i++) {
          const jwk = args.members[i]!;
          const alg = jwk.kty === 'RSA' ? 'RSA-OAEP-256' : 'ECDH-ES+A256KW';
          const key = await importJWK(jwk as Parameters<typeof importJWK>[0], alg);
          out.push(await new CompactEncrypt(shares[i]!).setProtectedHeader({ alg, enc: 'A256GCM', cty: 'cloister-kb-share' }).encrypt(key));
          shares[i]!.fill(0);
        }
        return out;
      } finally {
        secret.fill(0);
      }
    },

    /** A fresh RSA key for members to re-encrypt their shares to, and a quote binding it (REPORTDATA = SHA-256(thumbprint)). */
    async recoveryKey(_args: undefined, ctx): Promise<{ jwk: JsonWebKey & { kid: string }; quote: Uint8Array }> {
      recoveryKey = generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey;
      const pub = (await exportJWK(createPublicKey(recoveryKey))) as JsonWebKey;
      const kid = await calculateJwkThumbprint(pub as Parameters<typeof calculateJwkThumbprint>[0], 'sha256');
      const rd = new Uint8Array(64);
      rd.set(createHash('sha256').update(kid).digest());
      return { jwk: { ...pub, kid, alg: 'RSA-OAEP-256', use: 'enc' }, quote: await ctx.getQuote(rd) };
    },

    /** Combine shares re-encrypted to the recovery key; the recovered state is sealed on this platform. */
    async recover(args: { shares: readonly string[] }, ctx): Promise<OpenResult> {
      if (recoveryKey === undefined) fail('RECOVERY_NOT_STARTED', 'call recoveryKey first');
      const raw: Uint8Array[] = [];
      for (const jwe of args.shares) {
        try {
          raw.push((await compactDecrypt(jwe, recoveryKey, { keyManagementAlgorithms: ['RSA-OAEP-256'], contentEncryptionAlgorithms: ['A256GCM'] })).plaintext);
        } catch {
          fail('SHARE_INVALID', 'a share does not decrypt with the recovery key');
        }
      }
      let recovered: State;
      try {
        recovered = await deserialise(combine(raw));
      } catch {
        fail('SHARES_INSUFFICIENT', 'the shares do not combine into a broker state (too few, or not of one split)');
      }
      state = recovered;
      recoveryKey = undefined;
      return { created: false, sealed: await sealState(ctx, state), signingJwk: state.signJwk };
    },

    /** Get the state from a running replica over mutually attested TLS; seal it here. */
    async transferFrom(args: { host: string; port: number }, ctx): Promise<OpenResult> {
      const own = await certificate(ctx);
      const stream = await ctx.connect(args.host, args.port);
      const socket = tls.connect({ socket: stream, cert: own.certificatePem, key: own.privateKeyPem, ALPNProtocols: [KEK_ALPN], rejectUnauthorized: false });
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('secureConnect', () => resolve());
          socket.once('error', reject);
        });
        await verifyPeer(socket, { policy: (await identityPolicy(ctx)) as never, verifyOptions: verifyOptions(ctx) });
        state = await deserialise(await readFrame(socket));
      } finally {
        socket.destroy();
      }
      return { created: false, sealed: await sealState(ctx, state), signingJwk: state.signJwk };
    },
  },

  async onConnection(stream, _info, ctx) {
    const c = await certificate(ctx);
    const socket = new tls.TLSSocket(stream, {
      isServer: true,
      cert: c.certificatePem,
      key: c.privateKeyPem,
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: [KEK_ALPN, 'http/1.1'],
    });
    socket.on('error', () => socket.destroy());
    const deadline = setTimeout(() => socket.destroy(), 10_000);
    socket.once('close', () => clearTimeout(deadline));
    socket.once('secure', () => {
      clearTimeout(deadline);
      if (socket.alpnProtocol === KEK_ALPN) void serveTransfer(socket, ctx);
      else void relayToApi(socket, ctx);
    });
  },
});
