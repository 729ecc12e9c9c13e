/** Attestations: counts over time (by outcome, TCB status, type), the recent table with filters, and one record. */
import type { AttestationDetail, AttestationSummary, CountBucket } from '../../types.js';
import { get } from '../api.js';
import { stackedBars, totals } from '../charts.js';
import { policyKeyOf } from './policies.js';
import { badge, card, fmtTime, h, jsonBlock, outcomeKind, replace, shortHex, table, tcbKind, type Column } from '../dom.js';

type Group = 'byOutcome' | 'byTcbStatus' | 'byType';
const GROUPS: readonly (readonly [Group, string])[] = [
  ['byOutcome', 'outcome'],
  ['byTcbStatus', 'TCB status'],
  ['byType', 'attestation type'],
];

interface State {
  hours: number;
  group: Group;
  type: string;
  outcome: string;
  tcbStatus: string;
  simulated: string;
}
const state: State = { hours: 24, group: 'byOutcome', type: '', outcome: '', tcbStatus: '', simulated: '' };

function select(label: string, value: string, options: readonly (readonly [string, string])[], onChange: (v: string) => void, testid: string): HTMLElement {
  const sel = h('select', { 'data-testid': testid, 'aria-label': label });
  for (const [v, text] of options) {
    const o = h('option', { value: v }, text);
    if (v === value) o.selected = true;
    sel.appendChild(o);
  }
  sel.addEventListener('change', () => onChange(sel.value));
  return h('label', { class: 'field' }, h('span', {}, label), sel);
}

function bucketLabel(iso: string, bucketSeconds: number): string {
  const d = new Date(iso);
  const p = (n: number): string => String(n).padStart(2, '0');
  return bucketSeconds >= 86400 ? `${p(d.getMonth() + 1)}-${p(d.getDate())}` : `${p(d.getHours())}:${p(d.getMinutes())}`;
}

function sumGroup(buckets: readonly CountBucket[], g: Group): [string, number][] {
  const m = new Map<string, number>();
  for (const b of buckets) for (const [k, v] of Object.entries(b[g])) m.set(k, (m.get(k) ?? 0) + v);
  return [...m.entries()];
}

/** Intel's two longest TCB status names, shortened in the table (the full name in the tooltip and the detail view). */
const TCB_SHORT: Readonly<Record<string, string>> = {
  ConfigurationAndSWHardeningNeeded: 'Config + SWHardening',
  OutOfDateConfigurationNeeded: 'OutOfDate + Config',
};

function tcbBadge(status: string): HTMLElement {
  const b = badge(TCB_SHORT[status] ?? status, tcbKind(status));
  b.title = status;
  return b;
}

export const ATTESTATION_COLUMNS: readonly Column<AttestationSummary>[] = [
  { title: 'Time', cell: (r) => fmtTime(r.time), className: 'nowrap' },
  { title: 'Type', cell: (r) => r.type },
  { title: 'MRENCLAVE', cell: (r) => shortHex(r.mrenclave) },
  { title: 'MRSIGNER', cell: (r) => shortHex(r.mrsigner) },
  { title: 'Product / SVN', cell: (r) => (r.productId === undefined ? '—' : `${r.productId} / ${r.svn ?? '—'}`), className: 'num' },
  { title: 'Debug', cell: (r) => (r.debug === undefined ? '—' : r.debug ? badge('debug', 'warn') : 'no') },
  { title: 'TCB status', cell: (r) => (r.tcbStatus === undefined ? '—' : tcbBadge(r.tcbStatus)) },
  { title: 'Advisories', cell: (r) => (r.advisoryIds.length === 0 ? h('span', { class: 'muted' }, 'none') : h('span', { class: 'advisories', title: r.advisoryIds.join(', ') }, r.advisoryIds.slice(0, 1).join(', ') + (r.advisoryIds.length > 1 ? ` +${r.advisoryIds.length - 1}` : ''))) },
  { title: 'Policy', cell: (r) => h('span', {}, badge(r.outcome, outcomeKind(r.outcome)), r.code === undefined ? null : h('span', { class: 'code' }, ` ${r.code}`)) },
  { title: 'Simulated', cell: (r) => (r.simulated ? badge('simulated', 'sim') : 'no') },
];

export async function renderAttestations(root: HTMLElement, policyTypes: readonly string[]): Promise<void> {
  const chartCard = h('div', { class: 'grid-charts' });
  const tableSlot = h('div', { 'data-testid': 'attestations-table' }, h('p', { class: 'muted' }, 'Loading…'));
  const rerender = (): void => void renderAttestations(root, policyTypes);

  const controls = h(
    'div',
    { class: 'controls' },
    select('Period', String(state.hours), [['24', 'last 24 hours'], ['168', 'last 7 days']], (v) => { state.hours = Number(v); rerender(); }, 'period'),
    select('Group by', state.group, GROUPS.map(([g, t]) => [g, t] as const), (v) => { state.group = v as Group; rerender(); }, 'group-by'),
  );
  const filters = h(
    'div',
    { class: 'controls' },
    select('Type', state.type, [['', 'any'], ...policyTypes.filter((t) => !t.startsWith('simulated:')).map((t) => [t, t] as const)], (v) => { state.type = v; rerender(); }, 'filter-type'),
    select('Outcome', state.outcome, [['', 'any'], ['permitted', 'permitted'], ['denied', 'denied'], ['error', 'error']], (v) => { state.outcome = v; rerender(); }, 'filter-outcome'),
    select('TCB status', state.tcbStatus, [['', 'any'], ...['UpToDate', 'SWHardeningNeeded', 'ConfigurationNeeded', 'ConfigurationAndSWHardeningNeeded', 'OutOfDate', 'OutOfDateConfigurationNeeded', 'Revoked'].map((t) => [t, t] as const)], (v) => { state.tcbStatus = v; rerender(); }, 'filter-tcb'),
    select('Simulated', state.simulated, [['', 'any'], ['false', 'real only'], ['true', 'simulated only']], (v) => { state.simulated = v; rerender(); }, 'filter-simulated'),
  );
  replace(root, h('div', { class: 'page-head' }, h('h1', {}, 'Attestations'), controls), chartCard, card('Recent attestations', filters, tableSlot));

  const q = new URLSearchParams({ limit: '100' });
  if (state.type !== '') q.set('type', state.type);
  if (state.outcome !== '') q.set('outcome', state.outcome);
  if (state.tcbStatus !== '') q.set('tcbStatus', state.tcbStatus);
  if (state.simulated !== '') q.set('simulated', state.simulated);
  const [counts, list] = await Promise.all([
    get<{ bucketSeconds: number; buckets: CountBucket[] }>(`/attestations/counts?hours=${state.hours}`),
    get<{ attestations: AttestationSummary[] }>(`/attestations?${q.toString()}`),
  ]);

  const labels = counts.buckets.map((b) => bucketLabel(b.start, counts.bucketSeconds));
  const keys = [...new Set(counts.buckets.flatMap((b) => Object.keys(b[state.group])))].sort();
  const series = keys.map((k) => ({ key: k, values: counts.buckets.map((b) => b[state.group][k] ?? 0) }));
  const total = counts.buckets.reduce((a, b) => a + Object.values(b.byOutcome).reduce((x, y) => x + y, 0), 0);
  replace(
    chartCard,
    h('section', { class: 'card wide' }, h('h2', {}, `Attestations over time by ${GROUPS.find((g) => g[0] === state.group)?.[1] ?? ''}`, h('span', { class: 'muted count' }, ` ${total} in total`)), stackedBars(labels, series, 'timeline')),
    card('By outcome', totals(sumGroup(counts.buckets, 'byOutcome'), 'totals-outcome')),
    card('By TCB status', totals(sumGroup(counts.buckets, 'byTcbStatus'), 'totals-tcb')),
    card('By attestation type', totals(sumGroup(counts.buckets, 'byType'), 'totals-type')),
  );
  replace(tableSlot, table(list.attestations, ATTESTATION_COLUMNS, { testid: 'attestations', empty: 'No attestations match.', onRow: (r) => { location.hash = `#/attestations/${encodeURIComponent(r.id)}`; } }));
}

function dl(pairs: readonly (readonly [string, Node | string])[]): HTMLElement {
  const out = h('dl', { class: 'kv' });
  for (const [k, v] of pairs) out.append(h('dt', {}, k), h('dd', {}, v));
  return out;
}

function claimValue(v: unknown): Node | string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return JSON.stringify(v);
  return jsonBlock(v);
}

export async function renderAttestation(root: HTMLElement, id: string, policyTypes: readonly string[]): Promise<void> {
  replace(root, h('p', { class: 'muted' }, 'Loading…'));
  const a = await get<AttestationDetail>(`/attestations/${encodeURIComponent(id)}`);
  const steps = h(
    'ol',
    { class: 'steps', 'data-testid': 'steps' },
    ...a.steps.map((st) => h('li', { class: st.ok ? 'step ok' : 'step bad' }, h('span', { class: 'mark', 'aria-label': st.ok ? 'passed' : 'failed' }, st.ok ? '✓' : '✗'), h('span', { class: 'step-name' }, st.name), st.detail === undefined ? null : h('span', { class: 'step-detail' }, st.detail))),
  );
  const claims =
    a.claims === null
      ? h('p', { class: 'muted' }, 'No claims were issued.')
      : table(Object.entries(a.claims).sort((x, y) => x[0].localeCompare(y[0])), [
          { title: 'Claim', cell: (r) => h('code', {}, r[0]), className: 'claim-name' },
          { title: 'Value', cell: (r) => claimValue(r[1]), className: 'claim-value' },
        ], { testid: 'claims' });
  replace(
    root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Attestation ', h('code', {}, a.id)), h('a', { href: '#/attestations', class: 'back' }, '← all attestations')),
    h(
      'div',
      { class: 'grid-2' },
      card(
        'Summary',
        dl([
          ['Time', fmtTime(a.time)],
          ['Type', a.type],
          ['Policy outcome', h('span', {}, badge(a.outcome, outcomeKind(a.outcome)), a.code === undefined ? '' : ` ${a.code}`)],
          ['Simulated', a.simulated ? badge('simulated platform', 'sim') : 'no'],
          ['MRENCLAVE', h('code', { class: 'hex' }, a.mrenclave ?? '—')],
          ['MRSIGNER', h('code', { class: 'hex' }, a.mrsigner ?? '—')],
          ['Product / SVN', a.productId === undefined ? '—' : `${a.productId} / ${a.svn ?? '—'}`],
          ['Debug', a.debug === undefined ? '—' : a.debug ? badge('debuggable', 'warn') : 'no'],
          ['TCB status', a.tcbStatus === undefined ? '—' : badge(a.tcbStatus, tcbKind(a.tcbStatus))],
          ['Advisories', a.advisoryIds.length === 0 ? 'none' : a.advisoryIds.join(', ')],
          ['Evidence hash', h('code', { class: 'hex' }, a.evidenceHash ?? '—')],
          ['Claims hash', h('code', { class: 'hex' }, a.claimsHash ?? '—')],
          ['Policy hash', h('code', { class: 'hex' }, a.policyHash ?? '—')],
          ['Evidence kept', a.evidenceRetained ? h('span', {}, 'yes — ', h('a', { href: `#/policies/${encodeURIComponent(policyKeyOf(a.type, a.simulated, policyTypes))}/${encodeURIComponent(a.id)}` }, 'test a draft policy against it')) : 'no'],
        ]),
      ),
      card('Verification steps', steps),
    ),
    card('Token claims', claims),
    a.detail === undefined || a.detail === null ? null : card('Audit detail', jsonBlock(a.detail, 'detail')),
  );
}
