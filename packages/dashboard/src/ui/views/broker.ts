/** Key broker: keys and their release policies, release history, governance, and the ledger with in-browser verify. */
import type { BrokerKeyView, GovernanceView, LedgerLine, LedgerPage, ReleaseRecord } from '../../types.js';
import { parseLedgerEntry, verifyLedgerLines } from '../../ledger-verify.js';
import { get } from '../api.js';
import { badge, card, fmtTime, h, jsonBlock, replace, shortHex, table } from '../dom.js';

export async function renderBrokerKeys(root: HTMLElement): Promise<void> {
  replace(root, h('h1', {}, 'Keys'), h('p', { class: 'muted' }, 'Loading…'));
  const r = await get<{ keys: BrokerKeyView[] }>('/broker/keys');
  const list = h('div', { class: 'key-list', 'data-testid': 'broker-keys' });
  if (r.keys.length === 0) list.appendChild(h('p', { class: 'muted' }, 'No keys yet.'));
  for (const k of r.keys) {
    list.appendChild(
      h(
        'details',
        { class: 'key', 'data-id': k.name },
        h(
          'summary',
          {},
          h('strong', {}, k.name),
          ' ',
          h('code', { class: 'muted' }, k.version),
          ' ',
          badge(k.kty, 'neutral'),
          k.keySize === undefined ? '' : ` ${k.keySize} bits`,
          k.crv === undefined ? '' : ` ${k.crv}`,
          ' ',
          k.exportable ? badge('exportable', 'info') : badge('not exportable', 'neutral'),
          ' ',
          k.enabled ? '' : badge('disabled', 'warn'),
          h('span', { class: 'muted right' }, fmtTime(k.created)),
        ),
        h('p', {}, 'Operations: ', k.keyOps.length === 0 ? '—' : k.keyOps.join(', ')),
        h('h3', {}, 'Release policy'),
        k.releasePolicy === null || k.releasePolicy === undefined ? h('p', { class: 'muted' }, 'none (never released)') : jsonBlock(k.releasePolicy, 'release-policy'),
      ),
    );
  }
  replace(root, h('div', { class: 'page-head' }, h('h1', {}, 'Keys')), card('Keys and their release policies', h('p', { class: 'muted' }, 'Key material is stored wrapped by the broker’s enclave key and is never shown.'), list));
}

let releaseFilter = '';

export async function renderReleases(root: HTMLElement): Promise<void> {
  const q = releaseFilter === '' ? '' : `&granted=${releaseFilter}`;
  const r = await get<{ releases: ReleaseRecord[] }>(`/broker/releases?limit=200${q}`);
  const sel = h('select', { 'aria-label': 'outcome', 'data-testid': 'release-filter' }, h('option', { value: '' }, 'all'), h('option', { value: 'true' }, 'granted'), h('option', { value: 'false' }, 'refused'));
  sel.value = releaseFilter;
  sel.addEventListener('change', () => {
    releaseFilter = sel.value;
    void renderReleases(root);
  });
  replace(
    root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Release history'), h('label', { class: 'field' }, h('span', {}, 'Outcome'), sel)),
    card(
      'Releases',
      table(r.releases, [
        { title: 'Time', cell: (x) => fmtTime(x.time), className: 'nowrap' },
        { title: 'Key', cell: (x) => h('span', {}, h('strong', {}, x.key), x.version === undefined ? '' : ' ', x.version === undefined ? null : h('code', { class: 'muted' }, x.version.slice(0, 8))) },
        { title: 'Decision', cell: (x) => badge(x.granted ? 'granted' : 'refused', x.granted ? 'ok' : 'bad') },
        { title: 'Code', cell: (x) => h('code', {}, x.code) },
        { title: 'Reason', cell: (x) => (x.reason === undefined ? h('span', { class: 'muted' }, '—') : h('span', { class: 'reason' }, x.reason, x.rule === undefined ? '' : ` (rule: ${x.rule})`)), className: 'wrap' },
        { title: 'Authority', cell: (x) => x.authority ?? '—', className: 'wrap' },
        { title: 'MRENCLAVE', cell: (x) => shortHex(x.mrenclave) },
        { title: 'MRSIGNER', cell: (x) => shortHex(x.mrsigner) },
      ], { testid: 'releases', empty: 'No release requests yet.', rowState: (x) => (x.granted ? 'granted' : 'refused') }),
    ),
  );
}

export async function renderGovernance(root: HTMLElement): Promise<void> {
  const g = await get<GovernanceView>('/broker/governance');
  replace(
    root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Governance')),
    card(
      'Consortium',
      g.enabled
        ? h('p', {}, `Proposals are enacted when ${g.threshold ?? '?'} of ${g.members.length} members approve. The key write API is closed; only enacted proposals change state.`)
        : h('p', { class: 'muted' }, 'Governance is off: keys are managed with the admin token.'),
      table(g.members, [
        { title: 'Member', cell: (m) => h('code', {}, m.id) },
        { title: 'Key type', cell: (m) => String(m.publicKey?.['kty'] ?? '—') + (m.publicKey?.['crv'] === undefined ? '' : ` ${String(m.publicKey['crv'])}`) },
      ], { testid: 'members', empty: 'No members.' }),
    ),
    card(
      'Proposals',
      table(g.proposals, [
        { title: 'Proposal', cell: (p) => shortHex(p.id, 16) },
        { title: 'Created', cell: (p) => fmtTime(p.created), className: 'nowrap' },
        { title: 'Proposer', cell: (p) => h('code', {}, p.proposer) },
        { title: 'State', cell: (p) => badge(p.state, p.state === 'open' ? 'info' : p.state === 'accepted' || p.state === 'enacted' ? 'ok' : 'bad') },
        { title: 'Ballots', cell: (p) => h('span', {}, ...p.ballots.flatMap((b, i) => [i === 0 ? '' : ', ', h('code', {}, b.member), ` ${b.vote}`])), className: 'wrap' },
        { title: 'Actions', cell: (p) => h('details', {}, h('summary', {}, summariseActions(p.actions)), jsonBlock(p.actions)), className: 'wrap' },
      ], { testid: 'proposals', empty: 'No proposals yet.' }),
    ),
  );
}

function summariseActions(actions: unknown): string {
  if (!Array.isArray(actions)) return 'actions';
  const parts = actions.map((a) => {
    if (typeof a !== 'object' || a === null) return 'action';
    const o = a as Record<string, unknown>;
    const kind = typeof o['type'] === 'string' ? o['type'] : 'action';
    const target = typeof o['name'] === 'string' ? ` ${o['name']}` : typeof o['kid'] === 'string' ? ` ${o['kid']}` : typeof o['threshold'] === 'number' ? ` ${o['threshold']}` : '';
    return `${kind}${target}`;
  });
  return parts.join(', ') || 'no actions';
}

const MAX_LEDGER_ENTRIES = 100_000;

async function loadLedger(): Promise<{ lines: LedgerLine[]; signingKey?: Readonly<Record<string, unknown>>; total: number }> {
  const lines: LedgerLine[] = [];
  let signingKey: Readonly<Record<string, unknown>> | undefined;
  let total = 0;
  for (;;) {
    const page = await get<LedgerPage>(`/broker/ledger?from=${lines.length}&limit=1000`);
    signingKey ??= page.signingKey;
    total = page.total;
    lines.push(...page.lines);
    if (page.lines.length === 0 || lines.length >= total || lines.length >= MAX_LEDGER_ENTRIES) break;
  }
  return signingKey === undefined ? { lines, total } : { lines, signingKey, total };
}

export async function renderLedger(root: HTMLElement): Promise<void> {
  const ledger = await loadLedger();
  const result = h('div', { class: 'verify-result', 'aria-live': 'polite', 'data-testid': 'ledger-result' });
  const btn = h('button', { type: 'button', class: 'primary', 'data-testid': 'ledger-verify' }, 'Verify');
  const tableSlot = h('div');
  const draw = (broken?: number): void => {
    replace(
      tableSlot,
      table(ledger.lines.map((l, i) => ({ l, i, e: parseLedgerEntry(l.entry) })), [
        { title: '#', cell: (x) => String(x.e?.seq ?? x.i), className: 'num' },
        { title: 'Time', cell: (x) => fmtTime(x.e?.at), className: 'nowrap' },
        { title: 'Type', cell: (x) => x.e?.type ?? '—' },
        { title: 'Body', cell: (x) => h('details', {}, h('summary', {}, summariseBody(x.e?.body)), jsonBlock(x.e?.body)), className: 'wrap' },
        { title: 'Hash', cell: (x) => shortHex(x.l.hash, 16) },
        { title: 'Prev', cell: (x) => shortHex(x.e?.prev, 16) },
      ], { testid: 'ledger', empty: 'The ledger is empty.', rowState: (x) => (broken === x.i ? 'broken' : undefined) }),
    );
  };
  btn.addEventListener('click', () => {
    void (async () => {
      btn.disabled = true;
      replace(result, h('span', { class: 'muted' }, 'Verifying…'));
      try {
        const fresh = await loadLedger();
        ledger.lines = fresh.lines;
        const v = await verifyLedgerLines(fresh.lines, fresh.signingKey);
        if (v.ok) {
          result.setAttribute('data-state', 'ok');
          replace(result, badge('OK', 'ok'), ` ${v.entries} entries: every hash recomputes and every entry links to the one before`, fresh.signingKey === undefined ? ' (no broker key published: signatures not checked)' : `; ${v.signaturesChecked} broker signatures verify`, '. Head ', h('code', { class: 'hex' }, v.head.slice(0, 16)), '…');
          draw();
        } else {
          result.setAttribute('data-state', 'broken');
          replace(result, badge('BROKEN', 'bad'), ` at entry ${v.index} (${v.rule}): ${v.message}.`);
          draw(v.index);
        }
      } catch (e) {
        result.setAttribute('data-state', 'error');
        replace(result, badge('error', 'warn'), ` ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        btn.disabled = false;
      }
    })();
  });
  replace(
    root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Ledger')),
    card(
      'Hash-chained, broker-signed ledger',
      h('p', { class: 'muted' }, `${ledger.total} entries. Verify recomputes every SHA-256 hash, checks each entry links to the previous one and, with the broker's published key, each RS256 signature — in this browser, with WebCrypto.`),
      h('div', { class: 'controls' }, btn, result),
      tableSlot,
    ),
  );
  draw();
}

function summariseBody(body: unknown): string {
  if (typeof body !== 'object' || body === null) return String(body);
  const o = body as Record<string, unknown>;
  for (const k of ['name', 'proposal', 'member', 'id', 'key']) if (typeof o[k] === 'string') return `${k}: ${String(o[k]).slice(0, 40)}`;
  return Object.keys(o).slice(0, 4).join(', ') || '{}';
}
