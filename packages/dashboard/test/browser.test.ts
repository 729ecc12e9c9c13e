/**
 * The dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) against a real loopback
 * server: every view renders the sources' data; the policy editor shows the parser's error at its line; a refused
 * release shows its reason; markup from attesters renders as text; the CSP blocks an inline script; the ledger's
 * verify button reports OK, then the break after an entry is altered. Screenshots go to packages/dashboard/.artifacts/
 * (git-ignored). Chromium is required: without it this test fails, it is not skipped.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DASHBOARD_CSP } from '../src/index.js';
import { MemoryAttestationSource, MemoryKeyBrokerSource, startDashboardServer, type TestServer } from './fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = fileURLToPath(new URL('../../.artifacts/', import.meta.url));
const ADMIN = 'admin-token-0123456789abcdef';
const VIEWER = 'viewer-token-0123456789abcdef';
const HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b id="bold">bold</b>';

let browser: Browser;
let server: TestServer;
let att: MemoryAttestationSource;
let kb: MemoryKeyBrokerSource;
let page: Page;
const pageErrors: string[] = [];

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const now = Date.now();
  att = new MemoryAttestationSource(now);
  kb = new MemoryKeyBrokerSource(now);
  server = await startDashboardServer({ attestation: att, keyBroker: kb, adminToken: ADMIN });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, deviceScaleFactor: 1 });
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on('pageerror', (e) => pageErrors.push(e.message));
});

after(async () => {
  await browser?.close().catch(() => undefined);
  await server?.close();
});

async function shot(name: string, fullPage = true): Promise<void> {
  await page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage });
}

async function open(route: string): Promise<void> {
  await page.goto('about:blank');
  await page.goto(`${server.url}/ui/#/${route}`);
}

test('attestations: charts and the recent table render the source data', async () => {
  const res = await page.goto(`${server.url}/ui/`);
  assert.equal(res?.headers()['content-security-policy'], DASHBOARD_CSP);
  const rows = page.locator('[data-testid="attestations"] tbody tr');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 100);
  const newest = att.records[0]!;
  const first = rows.first();
  assert.equal(await first.locator('td').nth(1).textContent(), newest.type);
  assert.equal(await first.locator('td').nth(2).locator('code').getAttribute('title'), newest.mrenclave);
  // The timeline has bars, the totals add up to the records in the last 24 h.
  assert.ok((await page.locator('[data-testid="timeline"] rect').count()) > 10);
  const outcomeTotals = await page.locator('[data-testid="totals-outcome"] text.value').allTextContents();
  assert.equal(outcomeTotals.reduce((a, b) => a + Number(b), 0), att.records.length);
  assert.ok((await page.locator('[data-testid="totals-tcb"] text.label').allTextContents()).includes('Revoked'));
  await shot('attestations');
  await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: false });

  // Filters go to the server and narrow the table.
  await page.selectOption('[data-testid="filter-outcome"]', 'denied');
  await page.locator('[data-testid="attestations"] tbody tr').first().waitFor();
  await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-testid="attestations"] tbody tr')).every((tr) => tr.textContent?.includes('denied')));
  const denied = att.records.filter((a) => a.outcome === 'denied').length;
  assert.equal(await page.locator('[data-testid="attestations"] tbody tr').count(), denied);
  await page.selectOption('[data-testid="filter-outcome"]', '');
  await page.selectOption('[data-testid="group-by"]', 'byTcbStatus');
  await page.getByText('Attestations over time by TCB status').waitFor();
});

test('attestation detail: claims and verification steps', async () => {
  const rec = att.records.find((a) => a.outcome === 'denied')!;
  await open(`attestations/${rec.id}`);
  await page.locator('[data-testid="claims"]').waitFor();
  const claimNames = await page.locator('[data-testid="claims"] td.claim-name').allTextContents();
  assert.ok(claimNames.includes('x-ms-sgx-mrenclave'));
  assert.ok(await page.getByText(rec.mrenclave!, { exact: true }).first().isVisible());
  const steps = page.locator('[data-testid="steps"] li');
  assert.equal(await steps.count(), rec.steps.length);
  assert.equal(await page.locator('[data-testid="steps"] li.bad').count(), rec.steps.filter((s) => !s.ok).length);
  await shot('attestation-detail');
});

test('markup in claims and runtime data renders as text, creating no element', async () => {
  att.add({
    id: 'hostile-1',
    time: new Date().toISOString(),
    type: 'SgxEnclave',
    outcome: 'permitted',
    simulated: true,
    mrenclave: HOSTILE,
    advisoryIds: [HOSTILE],
    tcbStatus: HOSTILE,
    claims: { 'x-ms-runtime': { note: HOSTILE }, [HOSTILE]: HOSTILE, 'x-ms-sgx-ehd': HOSTILE },
    steps: [{ name: HOSTILE, ok: true, detail: HOSTILE }],
    evidenceRetained: false,
    detail: { client: HOSTILE },
  });
  await open('attestations');
  await page.locator('[data-testid="attestations"] tbody tr').first().waitFor();
  await open('attestations/hostile-1');
  await page.locator('[data-testid="claims"]').waitFor();
  assert.equal(await page.locator('main img, #bold, main script, main b').count(), 0);
  assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  // The markup is there, visible, as text (the claim name, its value, the step).
  const cells = page.locator('[data-testid="claims"] td.claim-name', { hasText: HOSTILE });
  assert.equal(await cells.count(), 1);
  assert.ok(await cells.first().isVisible());
  assert.ok(await page.locator('[data-testid="steps"]').getByText(HOSTILE).first().isVisible());
  assert.ok((await page.locator('[data-testid="claims"]').textContent())?.includes('"note": "<img src=x onerror=\\"window.__pwned=1\\">'));
  await shot('hostile-claims');
  await open('attestations');
  await page.locator('[data-testid="attestations"] tbody tr').first().waitFor();
  assert.equal(await page.locator('main img, #bold, main b').count(), 0);
});

test('the CSP header is present and an inline script is blocked', async () => {
  await page.goto('about:blank');
  const res = await page.goto(`${server.url}/ui/#/attestations`);
  assert.equal(res?.headers()['content-security-policy'], DASHBOARD_CSP);
  await page.locator('[data-testid="attestations"]').waitFor();
  const r = await page.evaluate(async () => {
    const violations: string[] = [];
    document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective));
    const s = document.createElement('script');
    s.textContent = 'window.__inline = 1';
    document.body.appendChild(s);
    const div = document.createElement('div');
    div.setAttribute('onclick', 'window.__inline = 2');
    document.body.appendChild(div);
    div.click();
    await new Promise((ok) => setTimeout(ok, 50));
    return { inline: (window as unknown as { __inline?: number }).__inline, violations };
  });
  assert.equal(r.inline, undefined);
  assert.ok(r.violations.some((v) => v.startsWith('script-src')), r.violations.join(','));
});

test('policy editor: live parse error at the right line, draft replay, save with the admin token', async () => {
  await open('policies/SgxEnclave');
  const editor = page.locator('[data-testid="policy-editor"]');
  await editor.waitFor();
  await page.locator('[data-testid="parse-status"][data-state="ok"]').waitFor();
  const broken = 'version= 1.0;\nauthorizationrules\n{\n    c:[type=="$is-debuggable"] => permit();\n    c:[type=="$sgx-mrsigner", value=="abc"] => permit());\n};\n';
  await editor.fill(broken);
  await page.locator('[data-testid="parse-status"][data-state="error"]').waitFor();
  // The stray ')' at the end of line 5 (1-based column of the last ')').
  const column = broken.split('\n')[4]!.lastIndexOf(')') + 1;
  assert.equal(column, 56);
  assert.equal(await page.locator('[data-testid="parse-location"]').textContent(), `Line 5, column ${column}`);
  assert.equal(await page.locator('.gutter .ln.err').textContent(), '5');
  await shot('policy-error');

  const good = 'version= 1.0;\nauthorizationrules\n{\n    c:[type=="$is-debuggable", value==false] => permit();\n};\n';
  await editor.fill(good);
  await page.locator('[data-testid="parse-status"][data-state="ok"]').waitFor();
  const target = att.records.find((a) => a.type === 'SgxEnclave' && a.id !== 'hostile-1' && a.outcome !== 'error')!;
  await page.selectOption('[data-testid="replay-attestation"]', target.id);
  await page.click('[data-testid="test-draft"]');
  await page.locator('[data-testid="test-result"] .badge').waitFor();
  assert.equal(await page.locator('[data-testid="test-result"] .badge').textContent(), 'permitted');
  assert.ok((await page.locator('[data-testid="test-claims"]').textContent())?.includes(target.mrenclave!));
  await shot('policy-test');

  // Without a token nothing is saved; with a wrong one the service refuses; with the admin token it is saved.
  await page.click('[data-testid="save-policy"]');
  await page.getByText('admin token needed').waitFor();
  await page.fill('[data-testid="admin-token"]', 'not-the-admin-token');
  await page.click('[data-testid="save-policy"]');
  await page.locator('[data-testid="save-status"]', { hasText: 'FORBIDDEN' }).waitFor();
  assert.equal(att.policies.get('SgxEnclave')?.text.includes('value==false'), false);
  await page.fill('[data-testid="admin-token"]', ADMIN);
  await page.click('[data-testid="save-policy"]');
  await page.locator('[data-testid="save-status"]', { hasText: 'saved' }).waitFor();
  assert.equal(att.policies.get('SgxEnclave')?.text, good);
  // The token is never rendered.
  assert.equal((await page.content()).includes(ADMIN), false);
});

test('signing keys and policy signers', async () => {
  await open('signing');
  await page.locator('[data-testid="signing-keys"] tbody tr').first().waitFor();
  assert.equal(await page.locator('[data-testid="signing-keys"] tbody tr').count(), 3);
  assert.ok(await page.getByText('CN=Contoso policy signer').first().isVisible());
  await shot('signing-keys');
});

test('key broker: keys with release policies, governance', async () => {
  await open('broker/keys');
  await page.locator('[data-testid="broker-keys"] details').first().waitFor();
  assert.equal(await page.locator('[data-testid="broker-keys"] details').count(), 3);
  await page.locator('[data-testid="broker-keys"] details summary').first().click();
  assert.ok((await page.locator('[data-testid="release-policy"]').first().textContent())?.includes('x-ms-sgx-mrsigner'));
  await shot('broker-keys');
  await open('broker/governance');
  await page.locator('[data-testid="proposals"] tbody tr').first().waitFor();
  assert.equal(await page.locator('[data-testid="proposals"] tbody tr').count(), 3);
  assert.equal(await page.locator('[data-testid="members"] tbody tr').count(), 3);
  await shot('governance');
});

test('a refused release shows its reason', async () => {
  await open('broker/releases');
  await page.locator('[data-testid="releases"] tbody tr').first().waitFor();
  assert.equal(await page.locator('[data-testid="releases"] tbody tr').count(), kb.releasesList.length);
  await page.selectOption('[data-testid="release-filter"]', 'false');
  await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-testid="releases"] tbody tr')).every((tr) => tr.getAttribute('data-state') === 'refused'));
  const refused = kb.releasesList.filter((r) => !r.granted);
  assert.ok(refused.length > 0);
  const rows = page.locator('[data-testid="releases"] tbody tr');
  assert.equal(await rows.count(), refused.length);
  const firstRow = rows.first();
  assert.equal(await firstRow.locator('.badge').textContent(), 'refused');
  assert.equal(await firstRow.locator('.reason').textContent(), `${refused[0]!.reason!} (rule: ${refused[0]!.rule!})`);
  assert.ok(await firstRow.locator('.reason').isVisible());
  await shot('releases');
});

test('ledger: verify reports OK, then the entry that was altered', async () => {
  await open('broker/ledger');
  await page.locator('[data-testid="ledger"] tbody tr').first().waitFor();
  assert.equal(await page.locator('[data-testid="ledger"] tbody tr').count(), kb.lines.length);
  await page.click('[data-testid="ledger-verify"]');
  await page.locator('[data-testid="ledger-result"][data-state="ok"]').waitFor();
  assert.match((await page.locator('[data-testid="ledger-result"]').textContent()) ?? '', new RegExp(`OK ${kb.lines.length} entries.*${kb.lines.length} broker signatures verify`));
  await shot('ledger-ok');

  const original = kb.lines[4]!;
  kb.lines[4] = { ...original, entry: original.entry.replace('create_key', 'delete_key') };
  assert.notEqual(kb.lines[4].entry, original.entry);
  try {
    await page.click('[data-testid="ledger-verify"]');
    await page.locator('[data-testid="ledger-result"][data-state="broken"]').waitFor();
    assert.equal(await page.locator('[data-testid="ledger-result"]').textContent(), 'BROKEN at entry 4 (hash): the hash does not match the entry.');
    assert.equal(await page.locator('[data-testid="ledger"] tbody tr[data-state="broken"] td').first().textContent(), '4');
    await shot('ledger-broken');
  } finally {
    kb.lines[4] = original;
  }
});

test('with a viewer token configured the page asks for it, then shows the data', async () => {
  const guarded = await startDashboardServer({ attestation: att, viewerToken: VIEWER });
  try {
    await page.goto(`${guarded.url}/ui/`);
    await page.locator('[data-testid="viewer-token"]').waitFor();
    await page.fill('[data-testid="viewer-token"]', VIEWER);
    await page.keyboard.press('Enter');
    await page.locator('[data-testid="attestations"] tbody tr').first().waitFor();
    assert.equal((await page.content()).includes(VIEWER), false);
  } finally {
    await guarded.close();
  }
});

test('no script errors on any page', () => {
  assert.deepEqual(pageErrors, []);
});
