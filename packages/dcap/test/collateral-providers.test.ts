/**
 * Collateral providers against a local HTTP server that serves the real corpus collateral the way Intel PCS / PCCS
 * do (dcap-attestation.md §3.1, §3.2). No internet.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DcapError, type DcapErrorCode } from '../src/errors.js';
import { toHex } from '../src/util/bytes.js';
import { parseCollateralBundle } from '../src/collateral/bundle.js';
import { parseTcbInfo } from '../src/collateral/tcb-info.js';
import type { CollateralBundle } from '../src/collateral/types.js';
import {
  type CollateralRequest,
  collateralFileName,
  createFolderProvider,
  createPccsProvider,
  createPcsProvider,
} from '../src/node/collateral-providers.js';
import { createCachingProvider, crlNextUpdate } from '../src/node/collateral-cache.js';
import { loadDcapCases } from './corpus.js';

const corpusText = (id: string): string => {
  const c = loadDcapCases().find((x) => x.json.id === id);
  assert.ok(c?.collateralText !== undefined);
  return c.collateralText;
};
const SGX_TEXT = corpusText('dcapqvl-sgx-v3');
const TDX_TEXT = corpusText('dcapqvl-tdx-v4');
const SGX_BUNDLE = parseCollateralBundle(SGX_TEXT);
const TDX_BUNDLE = parseCollateralBundle(TDX_TEXT);
const SGX_REQ: CollateralRequest = { fmspc: '00a067110000', ca: 'processor', tee: 'SGX' };
const TDX_REQ: CollateralRequest = { fmspc: 'B0C06F000000', ca: 'platform', tee: 'TDX' };

// ---------------------------------------------------------------------------------------------------------------------
// A PCS / PCCS look-alike

type Fault = 'hang' | 'garbage' | { status: number; headers?: Record<string, string> };

const state = {
  hits: 0,
  paths: [] as string[],
  apiKeys: [] as (string | undefined)[],
  /** Fault applied to the TCB info route. */
  tcbFault: undefined as Fault | undefined,
};
const hanging: ServerResponse[] = [];
let server: Server;
let base = '';

function signedBody(member: string, text: string, signature: Uint8Array): string {
  return `{"${member}":${text},"signature":"${toHex(signature)}"}`;
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  state.hits++;
  const url = new URL(req.url ?? '/', 'http://x');
  state.paths.push(`${url.pathname}${url.search}`);
  const key = req.headers['ocp-apim-subscription-key'];
  state.apiKeys.push(typeof key === 'string' ? key : undefined);
  const send = (status: number, headers: Record<string, string>, body: string | Uint8Array): void => {
    res.writeHead(status, headers);
    res.end(body);
  };
  const notFound = (): void =>
    send(404, { 'Error-Code': 'NotFound', 'Error-Message': 'No data for the given parameters', 'Request-ID': 'r-1' }, '');
  const m = /^\/(sgx|tdx)\/certification\/v4\/(tcb|qe\/identity|pckcrl|rootcacrl)$/.exec(url.pathname);
  if (url.pathname === '/IntelSGXRootCA.der') {
    return send(200, { 'Content-Type': 'application/pkix-crl' }, SGX_BUNDLE.rootCaCrl);
  }
  if (m === null) return notFound();
  const [, tee, route] = m;
  const bundle = tee === 'sgx' ? SGX_BUNDLE : TDX_BUNDLE;
  switch (route) {
    case 'tcb': {
      const fault = state.tcbFault;
      if (fault === 'hang') {
        hanging.push(res);
        return;
      }
      if (fault === 'garbage') return send(200, { 'Content-Type': 'text/html' }, '<html>maintenance</html>');
      if (fault !== undefined) return send(fault.status, fault.headers ?? {}, 'error');
      if (url.searchParams.get('fmspc') !== parseTcbInfo(bundle.tcbInfoBody).fmspc.toUpperCase()) return notFound();
      // TDX answers with the PCS v3 header name to exercise the fallback.
      const header = tee === 'sgx' ? 'TCB-Info-Issuer-Chain' : 'SGX-TCB-Info-Issuer-Chain';
      return send(
        200,
        { 'Content-Type': 'application/json', [header]: encodeURIComponent(bundle.tcbInfoIssuerChain) },
        signedBody('tcbInfo', bundle.tcbInfoBody, bundle.tcbInfoSignature),
      );
    }
    case 'qe/identity':
      return send(
        200,
        {
          'Content-Type': 'application/json',
          'SGX-Enclave-Identity-Issuer-Chain': encodeURIComponent(bundle.qeIdentityIssuerChain),
        },
        signedBody('enclaveIdentity', bundle.qeIdentityBody, bundle.qeIdentitySignature),
      );
    case 'pckcrl': {
      if (tee !== 'sgx' || url.searchParams.get('encoding') !== 'der') return notFound();
      const ca = url.searchParams.get('ca');
      const source = ca === 'processor' ? SGX_BUNDLE : ca === 'platform' ? TDX_BUNDLE : undefined;
      if (source === undefined) return notFound();
      return send(
        200,
        { 'Content-Type': 'application/pkix-crl', 'SGX-PCK-CRL-Issuer-Chain': encodeURIComponent(source.pckCrlIssuerChain) },
        source.pckCrl,
      );
    }
    case 'rootcacrl': // PCCS: hex text
      return tee === 'sgx' ? send(200, { 'Content-Type': 'text/plain' }, toHex(SGX_BUNDLE.rootCaCrl)) : notFound();
    default:
      return notFound();
  }
}

before(async () => {
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function reset(): void {
  state.hits = 0;
  state.paths = [];
  state.apiKeys = [];
  state.tcbFault = undefined;
}

async function rejectsWith(p: Promise<unknown>, code: DcapErrorCode, messagePart?: string): Promise<DcapError> {
  try {
    await p;
  } catch (e) {
    assert.ok(DcapError.is(e), `expected DcapError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (messagePart !== undefined) assert.ok(e.message.includes(messagePart), e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

const pcs = (timeoutMs = 5000) =>
  createPcsProvider({ baseUrl: `${base}/`, apiKey: 'test-key', timeoutMs, rootCaCrlUrl: `${base}/IntelSGXRootCA.der` });
const pccs = (timeoutMs = 5000) => createPccsProvider({ baseUrl: base, timeoutMs });

// ---------------------------------------------------------------------------------------------------------------------

test('PCS provider returns the corpus bundles (SGX processor CA, TDX platform CA)', async () => {
  reset();
  assert.deepEqual(await pcs().getCollateral(SGX_REQ), SGX_BUNDLE);
  assert.deepEqual(await pcs().getCollateral(TDX_REQ), TDX_BUNDLE);
  assert.equal(state.hits, 8);
  assert.deepEqual(
    [...state.paths].sort(),
    [
      '/IntelSGXRootCA.der',
      '/IntelSGXRootCA.der',
      '/sgx/certification/v4/pckcrl?ca=platform&encoding=der',
      '/sgx/certification/v4/pckcrl?ca=processor&encoding=der',
      '/sgx/certification/v4/qe/identity',
      '/sgx/certification/v4/tcb?fmspc=00A067110000',
      '/tdx/certification/v4/qe/identity',
      '/tdx/certification/v4/tcb?fmspc=B0C06F000000',
    ],
  );
  // The API key goes to PCS routes only, not to the root CRL distribution point.
  state.paths.forEach((p, i) => assert.equal(state.apiKeys[i], p.startsWith('/IntelSGXRootCA') ? undefined : 'test-key', p));
});

test('PCCS provider returns the corpus bundles, root CA CRL from hex /rootcacrl', async () => {
  reset();
  const provider = pccs();
  assert.deepEqual(await provider.getCollateral(SGX_REQ), SGX_BUNDLE);
  assert.deepEqual(await provider.getCollateral(TDX_REQ), TDX_BUNDLE);
  assert.equal(state.paths.filter((p) => p === '/sgx/certification/v4/rootcacrl').length, 2);
  assert.ok(state.apiKeys.every((k) => k === undefined));
});

test('provider errors: 404, 500 with Error-Code, timeout, garbage body, refused connection, bad request', async () => {
  reset();
  const unknown = { ...SGX_REQ, fmspc: '000000000000' };
  const e404 = await rejectsWith(pccs().getCollateral(unknown), 'COLLATERAL_UNAVAILABLE', 'HTTP 404');
  assert.ok(e404.message.includes('Error-Code: "NotFound"'), e404.message);
  assert.ok(e404.message.includes('Error-Message: "No data for the given parameters"'), e404.message);

  state.tcbFault = { status: 500, headers: { 'Error-Code': 'InternalError', 'Error-Message': 'PCS is "down"' } };
  const e500 = await rejectsWith(pcs().getCollateral(SGX_REQ), 'COLLATERAL_UNAVAILABLE', 'HTTP 500');
  assert.ok(e500.message.includes('Error-Code: "InternalError"'), e500.message);
  assert.ok(e500.message.includes('Error-Message: "PCS is \\"down\\""'), e500.message);
  assert.ok(!e500.message.includes('test-key'));

  state.tcbFault = { status: 429, headers: { 'Retry-After': '10' } };
  await rejectsWith(pcs().getCollateral(SGX_REQ), 'COLLATERAL_UNAVAILABLE', 'HTTP 429');

  state.tcbFault = 'hang';
  await rejectsWith(pccs(300).getCollateral(SGX_REQ), 'COLLATERAL_UNAVAILABLE', 'within 300 ms');

  state.tcbFault = 'garbage';
  await rejectsWith(pccs().getCollateral(SGX_REQ), 'SGX_TCB_INFO_UNSUPPORTED_FORMAT');

  // A port nobody listens on.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const deadPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  await rejectsWith(
    createPccsProvider({ baseUrl: `http://user:secret@127.0.0.1:${deadPort}`, timeoutMs: 2000 }).getCollateral(SGX_REQ),
    'COLLATERAL_UNAVAILABLE',
  ).then((e) => assert.ok(!e.message.includes('secret'), e.message));

  state.tcbFault = undefined;
  await rejectsWith(pccs().getCollateral({ ...SGX_REQ, fmspc: 'xyz' }), 'INVALID_INPUT_ENCODING');
  await rejectsWith(pccs().getCollateral({ ...SGX_REQ, ca: 'other' as 'platform' }), 'MISSING_PARAMETERS');
  await rejectsWith(pccs().getCollateral({ ...SGX_REQ, tee: 'sev' as 'SGX' }), 'MISSING_PARAMETERS');
});

test('caching provider: served from cache until the earliest nextUpdate, then refetched', async () => {
  reset();
  let now = Date.UTC(2025, 5, 20);
  const cache = createCachingProvider(pccs(), { now: () => now });
  // dcapqvl-sgx-v3: QE identity nextUpdate 2025-07-19T10:01:18Z is earlier than the TCB info (10:56:11), the PCK CRL
  // (10:23:18) and the root CA CRL (2026-04-03).
  const expiry = Date.UTC(2025, 6, 19, 10, 1, 18);

  assert.deepEqual(await cache.getCollateral(SGX_REQ), SGX_BUNDLE);
  assert.equal(state.hits, 4);
  assert.deepEqual(await cache.getCollateral({ ...SGX_REQ, fmspc: '00A067110000' }), SGX_BUNDLE);
  assert.equal(state.hits, 4);
  now = expiry - 1;
  await cache.getCollateral(SGX_REQ);
  assert.equal(state.hits, 4);
  now = expiry;
  assert.deepEqual(await cache.getCollateral(SGX_REQ), SGX_BUNDLE);
  assert.equal(state.hits, 8);
  assert.equal(cache.size, 0); // what was fetched is already stale at `now`: not kept

  // Back in the validity window: fetched once, then served from the cache. Callers get copies: mutating one does not
  // poison the cache.
  now = Date.UTC(2025, 6, 1);
  const mine = await cache.getCollateral(SGX_REQ);
  assert.equal(state.hits, 12);
  assert.equal(cache.size, 1);
  mine.pckCrl.fill(0xee, 10, 20);
  assert.deepEqual(await cache.getCollateral(SGX_REQ), SGX_BUNDLE);
  assert.equal(state.hits, 12);
});

test('caching provider: injected crlNextUpdate limits the entry; an expired bundle is not cached', async () => {
  reset();
  let now = Date.UTC(2025, 5, 20);
  const cache = createCachingProvider(pccs(), { now: () => now, crlNextUpdate: () => Date.UTC(2025, 5, 21) });
  await cache.getCollateral(TDX_REQ);
  await cache.getCollateral(TDX_REQ);
  assert.equal(state.hits, 4);
  now = Date.UTC(2025, 5, 21);
  await cache.getCollateral(TDX_REQ);
  assert.equal(state.hits, 8);
  // now is past every nextUpdate: each call fetches
  now = Date.UTC(2030, 0, 1);
  await cache.getCollateral(TDX_REQ);
  await cache.getCollateral(TDX_REQ);
  assert.equal(state.hits, 16);
  assert.equal(cache.size, 0);
});

test('caching provider: concurrent identical requests share one fetch; keys are tee/fmspc/ca', async () => {
  reset();
  const cache = createCachingProvider(pccs(), { now: () => Date.UTC(2025, 5, 20) });
  const results = await Promise.all([
    ...Array.from({ length: 5 }, () => cache.getCollateral(SGX_REQ)),
    ...Array.from({ length: 3 }, () => cache.getCollateral(TDX_REQ)),
  ]);
  assert.equal(state.hits, 8); // one fetch (4 requests) per key
  results.slice(0, 5).forEach((b) => assert.deepEqual(b, SGX_BUNDLE));
  results.slice(5).forEach((b) => assert.deepEqual(b, TDX_BUNDLE));
  assert.notEqual(results[0], results[1]); // distinct copies
  assert.equal(cache.size, 2);
});

test('caching provider: failures are not cached (and concurrent failing calls share one attempt)', async () => {
  reset();
  const cache = createCachingProvider(pccs(), { now: () => Date.UTC(2025, 5, 20) });
  state.tcbFault = { status: 503, headers: { 'Error-Code': 'ServiceUnavailable' } };
  const failures = await Promise.allSettled([1, 2, 3].map(() => cache.getCollateral(SGX_REQ)));
  for (const f of failures) {
    assert.equal(f.status, 'rejected');
    assert.ok(DcapError.is(f.status === 'rejected' ? f.reason : undefined));
  }
  assert.equal(state.paths.filter((p) => p.includes('/tcb?')).length, 1);
  assert.equal(cache.size, 0);
  state.tcbFault = undefined;
  assert.deepEqual(await cache.getCollateral(SGX_REQ), SGX_BUNDLE);
  assert.equal(state.paths.filter((p) => p.includes('/tcb?')).length, 2);
  assert.equal(cache.size, 1);
});

test('caching provider: least recently used entries are evicted beyond maxEntries', async () => {
  reset();
  const cache = createCachingProvider(pccs(), { now: () => Date.UTC(2025, 5, 20), maxEntries: 1 });
  await cache.getCollateral(SGX_REQ);
  await cache.getCollateral(TDX_REQ);
  assert.equal(cache.size, 1);
  await cache.getCollateral(SGX_REQ); // evicted: fetched again
  assert.equal(state.hits, 12);
  cache.clear();
  assert.equal(cache.size, 0);
  assert.throws(() => createCachingProvider(pccs(), { maxEntries: 0 }), RangeError);
});

test('crlNextUpdate reads nextUpdate from real CRLs (checked with openssl crl -nextupdate)', () => {
  assert.equal(crlNextUpdate(SGX_BUNDLE.rootCaCrl), Date.UTC(2026, 3, 3, 11, 21, 57));
  assert.equal(crlNextUpdate(SGX_BUNDLE.pckCrl), Date.UTC(2025, 6, 19, 10, 23, 18));
  assert.equal(crlNextUpdate(TDX_BUNDLE.pckCrl), Date.UTC(2025, 6, 19, 10, 0, 35));
  const old = parseCollateralBundle(corpusText('gotdxguest-tdx-v4-spr-e4'));
  assert.equal(crlNextUpdate(old.rootCaCrl), Date.UTC(2024, 3, 2, 10, 22, 51));
  assert.equal(crlNextUpdate(new Uint8Array([0x30, 0x00])), undefined);
  assert.equal(crlNextUpdate(new Uint8Array([0x30, 0x84, 0xff, 0xff, 0xff, 0xff])), undefined);
  assert.equal(crlNextUpdate(SGX_BUNDLE.pckCrl.subarray(0, 60)), undefined);
  assert.equal(crlNextUpdate(new Uint8Array(0)), undefined);
});

test('folder provider: <fmspc>-<ca>-<tee>.json first, then collateral.json', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dcap-collateral-'));
  try {
    assert.equal(collateralFileName(TDX_REQ), 'b0c06f000000-platform-tdx.json');
    const provider = createFolderProvider(dir);
    await rejectsWith(provider.getCollateral(TDX_REQ), 'COLLATERAL_UNAVAILABLE', 'b0c06f000000-platform-tdx.json');
    await writeFile(join(dir, 'b0c06f000000-platform-tdx.json'), TDX_TEXT);
    await writeFile(join(dir, 'collateral.json'), SGX_TEXT);
    assert.deepEqual(await provider.getCollateral(TDX_REQ), TDX_BUNDLE);
    assert.deepEqual(await provider.getCollateral(SGX_REQ), SGX_BUNDLE);
    await writeFile(join(dir, '00a067110000-processor-sgx.json'), '{"not":"a bundle"}');
    await rejectsWith(provider.getCollateral(SGX_REQ), 'MISSING_PARAMETERS');
    await writeFile(join(dir, '00a067110000-processor-sgx.json'), 'garbage');
    await rejectsWith(provider.getCollateral(SGX_REQ), 'INVALID_INPUT_ENCODING');
    // Wrapped in the cache: read once.
    const cached = createCachingProvider(provider, { now: () => Date.UTC(2025, 5, 20) });
    const first = await cached.getCollateral(TDX_REQ);
    await rm(join(dir, 'b0c06f000000-platform-tdx.json'));
    assert.deepEqual(await cached.getCollateral(TDX_REQ), first);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bundles from providers and from the corpus are interchangeable', async () => {
  reset();
  const fromServer: CollateralBundle = await pcs().getCollateral(TDX_REQ);
  assert.equal(fromServer.tcbInfoBody, (JSON.parse(TDX_TEXT) as { tcb_info: string }).tcb_info);
  assert.equal(fromServer.qeIdentityBody, (JSON.parse(TDX_TEXT) as { qe_identity: string }).qe_identity);
});

test('an injected fetch is used for every request', async () => {
  reset();
  const seen: string[] = [];
  const provider = createPcsProvider({
    baseUrl: base,
    rootCaCrlUrl: `${base}/IntelSGXRootCA.der`,
    fetch: (input, init) => {
      seen.push(input);
      return fetch(input, init);
    },
  });
  assert.deepEqual(await provider.getCollateral(SGX_REQ), SGX_BUNDLE);
  assert.equal(seen.length, 4);
  assert.equal(state.hits, 4);
  assert.ok(state.apiKeys.every((k) => k === undefined)); // no apiKey configured: no header
});
