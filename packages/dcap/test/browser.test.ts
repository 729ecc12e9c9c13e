/**
 * The browser build: bundle the compiled browser entry (dist/src/index.js) with esbuild for the browser, serve it and
 * the corpus from a local HTTP server, and verify every corpus case inside Chromium with the default WebCrypto
 * provider. The page only reports what happened; the expectations of case.json are checked here in Node, one subtest
 * per case.
 *
 * Chromium is required (CI installs Debian's /usr/bin/chromium): without it this test fails, it is not skipped.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { isBuiltin } from 'node:module';
import type { AddressInfo } from 'node:net';
import { resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Message, type Plugin } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import type * as Dcap from '../src/index.js';
import { dcapDir, loadDcapCases, type DcapCase } from './corpus.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** The compiled browser-safe entry: this file is dist/test/browser.test.js, the entry dist/src/index.js. */
const ENTRY = fileURLToPath(new URL('../src/index.js', import.meta.url));
const GLOBAL_NAME = 'CloisterDcap';

// ---------------------------------------------------------------------------------------------------------------
// What the page is given and what it returns (plain JSON both ways).

interface PageCase {
  readonly id: string;
  /** Folder name under dcap/, served as /dcap/<dir>/<file>. */
  readonly dir: string;
  readonly now: string;
  readonly hasCollateral: boolean;
  readonly skipRootCrlFreshness: boolean;
  readonly skipPckCrlFreshness: boolean;
  readonly trustedRootCaFile: string | undefined;
  /** Run a second verification with allowExpiredCollateral (qveExpect with a status). */
  readonly qve: boolean;
}

type PageOutcome =
  | { readonly ok: true; readonly status: string; readonly advisoryIds: string[]; readonly expired: boolean }
  | { readonly ok: false; readonly code: string | undefined; readonly message: string };

interface PageResult {
  readonly id: string;
  /** Set when the case could not even be run (fetch failed, bundle API missing…). */
  readonly setupError?: string;
  /** Parse-only cases: what parseQuote says. */
  readonly parsed?: { readonly teeType: string; readonly version: number } | { readonly error: string };
  readonly strict?: PageOutcome;
  readonly qve?: PageOutcome;
}

interface PageReport {
  readonly secureContext: boolean;
  readonly hasSubtle: boolean;
  readonly results: PageResult[];
}

/**
 * Runs inside Chromium (serialised by page.evaluate: it must not use anything from this module's scope).
 * Verifies every case with a fresh default verifier: no crypto provider is passed, so WebCrypto is used.
 */
async function verifyInPage(input: { cases: PageCase[]; globalName: string }): Promise<PageReport> {
  const dcap = (globalThis as unknown as Record<string, typeof Dcap | undefined>)[input.globalName];
  const report: PageReport = {
    secureContext: globalThis.isSecureContext,
    hasSubtle: globalThis.crypto?.subtle !== undefined,
    results: [],
  };
  const fetchBytes = async (url: string): Promise<Uint8Array> => {
    const r = await fetch(url);
    if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  };
  const fetchText = async (url: string): Promise<string> => {
    const r = await fetch(url);
    if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`);
    return r.text();
  };
  for (const c of input.cases) {
    if (dcap === undefined) {
      report.results.push({ id: c.id, setupError: `the bundle did not define globalThis.${input.globalName}` });
      continue;
    }
    const outcome = async (run: () => Promise<Dcap.VerificationResult>): Promise<PageOutcome> => {
      try {
        const r = await run();
        return { ok: true, status: r.status, advisoryIds: [...r.advisoryIds], expired: r.collateral.expired };
      } catch (e) {
        if (dcap.DcapError.is(e)) return { ok: false, code: e.code, message: e.message };
        return { ok: false, code: undefined, message: e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e) };
      }
    };
    try {
      const base = `/dcap/${encodeURIComponent(c.dir)}/`;
      const quote = await fetchBytes(`${base}quote.bin`);
      if (!c.hasCollateral) {
        let parsed: PageResult['parsed'];
        try {
          const q = dcap.parseQuote(dcap.unwrapEvidence(quote).quote);
          parsed = { teeType: q.teeType, version: q.version };
        } catch (e) {
          parsed = { error: dcap.DcapError.is(e) ? `${e.code}: ${e.message}` : String(e) };
        }
        report.results.push({ id: c.id, parsed });
        continue;
      }
      const collateralText = await fetchText(`${base}collateral.json`);
      const trustAnchors =
        c.trustedRootCaFile === undefined
          ? undefined
          : [dcap.trustAnchorFromCertificate(await fetchBytes(`${base}${encodeURIComponent(c.trustedRootCaFile)}`))];
      const options = {
        now: c.now,
        ...(c.skipRootCrlFreshness ? { skipRootCrlFreshness: true } : {}),
        ...(c.skipPckCrlFreshness ? { skipPckCrlFreshness: true } : {}),
        ...(trustAnchors !== undefined ? { trustAnchors } : {}),
      };
      const strict = await outcome(() => new dcap.QuoteVerifier().verify(quote, collateralText, options));
      const qve = c.qve
        ? await outcome(() =>
            new dcap.QuoteVerifier().verify(quote, collateralText, { ...options, allowExpiredCollateral: true }),
          )
        : undefined;
      report.results.push({ id: c.id, strict, ...(qve !== undefined ? { qve } : {}) });
    } catch (e) {
      report.results.push({ id: c.id, setupError: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    }
  }
  return report;
}

// ---------------------------------------------------------------------------------------------------------------
// Node side: bundle, serve, drive Chromium, check.

const formatMessages = (ms: readonly Message[]): string =>
  ms.map((m) => `${m.location ? `${m.location.file}:${m.location.line}: ` : ''}${m.text}`).join('\n');

/** Bundle the entry for the browser; any import of a Node builtin fails the build (and so the test). */
async function bundle(): Promise<string> {
  assert.ok(existsSync(ENTRY), `${ENTRY} does not exist: build the package first (npm run build)`);
  const builtins: string[] = [];
  const noNodeBuiltins: Plugin = {
    name: 'no-node-builtins',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (!isBuiltin(args.path)) return undefined;
        builtins.push(`${args.path} (imported by ${args.importer})`);
        return { errors: [{ text: `Node builtin "${args.path}" imported by ${args.importer}: the browser entry must not use it` }] };
      });
    },
  };
  let result: Awaited<ReturnType<typeof build<{ write: false; metafile: true }>>>;
  try {
    result = await build({
      entryPoints: [ENTRY],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'iife',
      globalName: GLOBAL_NAME,
      target: 'es2022',
      logLevel: 'silent',
      metafile: true,
      plugins: [noNodeBuiltins],
    });
  } catch (e) {
    const errors = (e as { errors?: Message[] }).errors;
    assert.fail(`esbuild could not bundle ${ENTRY} for the browser:\n${errors ? formatMessages(errors) : String(e)}`);
  }
  assert.deepEqual(builtins, [], `the browser bundle imports Node builtins: ${builtins.join(', ')}`);
  assert.deepEqual(result.errors, [], formatMessages(result.errors));
  // Belt and braces: nothing may have been left external (a node: import esbuild chose not to bundle).
  const external = Object.values(result.metafile.inputs).flatMap((i) =>
    i.imports.filter((imp) => imp.external === true).map((imp) => imp.path),
  );
  assert.deepEqual(external, [], `the browser bundle has external imports: ${external.join(', ')}`);
  const out = result.outputFiles[0];
  assert.ok(out !== undefined && result.outputFiles.length === 1, 'esbuild produced no single output file');
  assert.doesNotMatch(out.text, /\brequire\(\s*["']node:/, 'the browser bundle still requires a node: module');
  return out.text;
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>@cloister/dcap browser test</title>
<script src="/dcap.js"></script></head><body>@cloister/dcap</body></html>`;

/** Serve the page, the bundle and (read-only) the dcap corpus folder, on 127.0.0.1 only. */
async function serve(script: string): Promise<{ server: Server; origin: string }> {
  const root = resolve(dcapDir);
  const server = createServer((req, res) => {
    const send = (code: number, type: string, body: string | Buffer): void => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, 'text/plain', 'method not allowed');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/' || url.pathname === '/index.html') return send(200, 'text/html; charset=utf-8', PAGE);
    if (url.pathname === '/dcap.js') return send(200, 'text/javascript; charset=utf-8', script);
    if (url.pathname === '/favicon.ico') return send(204, 'text/plain', '');
    if (url.pathname.startsWith('/dcap/')) {
      let rel: string;
      try {
        rel = decodeURIComponent(url.pathname.slice('/dcap/'.length));
      } catch {
        return send(400, 'text/plain', 'bad path');
      }
      const file = resolve(root, rel);
      if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) {
        return send(404, 'text/plain', 'not found');
      }
      const type = file.endsWith('.json') || file.endsWith('.pem') ? 'text/plain; charset=utf-8' : 'application/octet-stream';
      return send(200, type, readFileSync(file));
    }
    return send(404, 'text/plain', 'not found');
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return { server, origin: `http://127.0.0.1:${port}` };
}

function pageCase(c: DcapCase): PageCase {
  const o = c.json.options ?? {};
  const q = c.json.qveExpect;
  return {
    id: c.json.id,
    dir: c.dir.split(sep).at(-1) ?? c.json.id,
    now: c.json.now,
    hasCollateral: c.collateralText !== undefined,
    skipRootCrlFreshness: o.skipRootCrlFreshness === true || o.skipCrlFreshness === true,
    skipPckCrlFreshness: o.skipPckCrlFreshness === true || o.skipCrlFreshness === true,
    trustedRootCaFile: o.trustedRootCaFile,
    qve: q !== undefined && 'status' in q,
  };
}

const asSet = (ids: readonly string[]): string[] => [...new Set(ids)].sort();

function describeOutcome(o: PageOutcome): string {
  return o.ok ? `${o.status} [${o.advisoryIds.join(', ')}]${o.expired ? ' (collateral expired)' : ''}` : `${o.code ?? 'non-DcapError'}: ${o.message}`;
}

function checkCase(c: DcapCase, r: PageResult | undefined): void {
  const id = c.json.id;
  assert.ok(r !== undefined, `${id}: the page returned no result`);
  assert.equal(r.setupError, undefined, `${id}: could not run in the browser: ${r.setupError ?? ''}`);
  const { expect, expectError, qveExpect } = c.json;

  if (expect === undefined && expectError === undefined) {
    // Parse-only case: the quote must parse in the browser as case.json describes it.
    assert.ok(r.parsed !== undefined, `${id}: parse-only case was not parsed`);
    assert.ok(!('error' in r.parsed), `${id}: parseQuote failed in the browser: ${'error' in r.parsed ? r.parsed.error : ''}`);
    assert.deepEqual(r.parsed, { teeType: c.json.teeType, version: c.json.quoteVersion }, `${id}: parsed header`);
    return;
  }

  const strict = r.strict;
  assert.ok(strict !== undefined, `${id}: not verified`);
  if (expect !== undefined) {
    assert.ok(strict.ok, `${id}: expected ${expect.status}, got ${describeOutcome(strict)}`);
    assert.deepEqual(
      { status: strict.status, advisoryIds: asSet(strict.advisoryIds) },
      { status: expect.status, advisoryIds: asSet(expect.advisoryIds) },
      `${id}: status / advisory IDs`,
    );
  } else if (expectError !== undefined) {
    const accepted = [expectError, ...(c.json.expectErrorAlternatives ?? [])];
    assert.ok(!strict.ok, `${id}: expected error ${accepted.join(' | ')}, got ${describeOutcome(strict)}`);
    assert.ok(
      strict.code !== undefined && accepted.includes(strict.code),
      `${id}: expected error ${accepted.join(' | ')}, got ${describeOutcome(strict)}`,
    );
  }

  if (qveExpect !== undefined && 'status' in qveExpect) {
    const qve = r.qve;
    assert.ok(qve !== undefined, `${id}: no allowExpiredCollateral verification`);
    assert.ok(qve.ok, `${id} (allowExpiredCollateral): expected ${qveExpect.status}, got ${describeOutcome(qve)}`);
    assert.deepEqual(
      { status: qve.status, advisoryIds: asSet(qve.advisoryIds), expired: qve.expired },
      { status: qveExpect.status, advisoryIds: asSet(qveExpect.advisoryIds), expired: qveExpect.collateralExpired ?? true },
      `${id} (allowExpiredCollateral): status / advisory IDs / collateral.expired`,
    );
  }
}

test('browser: every corpus case verifies in Chromium with the default WebCrypto provider', { timeout: 90_000 }, async (t: TestContext) => {
  const started = Date.now();
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: the browser test needs Debian's chromium (apt-get install chromium); it is not skipped`,
  );
  const cases = loadDcapCases();
  assert.ok(cases.length > 0, `no corpus cases under ${dcapDir}`);

  const script = await bundle();
  const { server, origin } = await serve(script);
  let browser: Browser | undefined;
  t.after(async () => {
    await browser?.close().catch(() => undefined);
    server.closeAllConnections();
    await new Promise<void>((ok) => server.close(() => ok()));
  });

  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`console.error: ${m.text()}`);
  });

  const response = await page.goto(`${origin}/`, { waitUntil: 'load' });
  assert.equal(response?.status(), 200, `could not load ${origin}/`);
  const report = await page.evaluate(verifyInPage, { cases: cases.map(pageCase), globalName: GLOBAL_NAME });
  assert.deepEqual(pageErrors, [], `errors in the page:\n${pageErrors.join('\n')}`);
  assert.ok(report.secureContext, 'the page is not a secure context (WebCrypto subtle needs one)');
  assert.ok(report.hasSubtle, 'crypto.subtle is not available in the page');

  const byId = new Map(report.results.map((r) => [r.id, r]));
  for (const c of cases) {
    await t.test(c.json.id, () => checkCase(c, byId.get(c.json.id)));
  }
  t.diagnostic(`${cases.length} cases verified in Chromium in ${Date.now() - started} ms (bundle, server, browser included)`);
});
