/** Test fixtures: a simulated platform, the broker enclave, a loopback authority (JWKS + tokens), a test CA. */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SignJWT, exportJWK, type JWTPayload } from 'jose';
import type { Logger } from 'pino';
import { createLogger } from '@cloister/service-kit';
import { Platform, createSimCollateral, createSimPki, generateSigningKey, loadPki, savePki } from '@cloister/sgx-sim';

export async function makePlatform(dir: string): Promise<string> {
  const platform = Platform.create();
  platform.save(dir);
  savePki(await createSimPki(platform), dir);
  return dir;
}

export async function platformRootPem(dir: string): Promise<string> {
  return (await loadPki(Platform.load(dir), dir)).rootCertPem;
}

export async function platformCollateral(dir: string): Promise<object> {
  const platform = Platform.load(dir);
  return createSimCollateral(platform, await loadPki(platform, dir));
}

export function signingKeyFile(path: string): string {
  writeFileSync(path, generateSigningKey(), { mode: 0o600 });
  return path;
}

export interface Authority {
  readonly url: string;
  readonly key: KeyObject;
  readonly kid: string;
  mint(claims: JWTPayload & Record<string, unknown>, options?: { expiresIn?: number; notBefore?: number; key?: KeyObject; iss?: string }): Promise<string>;
  close(): Promise<void>;
}

/** A loopback authority in MAA's shape: /certs serves a JWKS; tokens are RS256 JWTs with its kid. */
export async function startAuthority(): Promise<Authority> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(8).toString('hex');
  const jwk = { ...(await exportJWK(publicKey)), kid };
  const server: Server = createServer((req, res) => {
    if (req.url === '/certs') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    key: privateKey,
    kid,
    async mint(claims, o = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT', jku: `${url}/certs` })
        .setIssuer(o.iss ?? url)
        .setIssuedAt(now)
        .setNotBefore(o.notBefore ?? now)
        .setExpirationTime(now + (o.expiresIn ?? 3600))
        .sign(o.key ?? privateKey);
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** SGX claims as MAA emits them for an enclave whose runtime data (JSON) carries `rsa` as its encryption key. */
export async function sgxClaims(rsaPublic: KeyObject, identity: { mrenclave?: string; mrsigner?: string; debug?: boolean; svn?: number } = {}): Promise<Record<string, unknown>> {
  const jwk = { ...(await exportJWK(rsaPublic)), kid: 'enclave-key', key_ops: ['encrypt'] };
  return {
    'x-ms-attestation-type': 'sgx',
    'x-ms-ver': '1.0',
    'x-ms-sgx-mrenclave': identity.mrenclave ?? 'aa'.repeat(32),
    'x-ms-sgx-mrsigner': identity.mrsigner ?? 'bb'.repeat(32),
    'x-ms-sgx-is-debuggable': identity.debug ?? false,
    'x-ms-sgx-product-id': 1,
    'x-ms-sgx-svn': identity.svn ?? 2,
    'x-ms-runtime': { keys: [jwk] },
  };
}

export interface TestCa {
  readonly caPem: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** A throwaway CA and a server certificate for 127.0.0.1 / localhost (openssl). */
export function testCa(dir: string): TestCa {
  mkdirSync(dir, { recursive: true });
  const o = (args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=key-broker test CA', '-days', '2']);
  o(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  o(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf']);
  return { caPem: readFileSync(join(dir, 'ca.pem'), 'utf8'), caFile: join(dir, 'ca.pem'), certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key') };
}

export function silentLogger(): Logger {
  return createLogger({ component: 'key-broker-test', level: 'silent' });
}
