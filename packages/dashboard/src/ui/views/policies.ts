/**
 * Policies per attestation type: the stored text, an editor whose parse errors come live from the service's own
 * parser (line and column), draft-policy replay against a stored attestation, and saving (admin token).
 */
import type { AttestationSummary, PolicyParseResult, PolicyTestResult, PolicyView } from '../../types.js';
import { ApiError, get, hasAdminToken, post, putAdmin, setAdminToken } from '../api.js';
import { badge, card, fmtTime, h, jsonBlock, outcomeKind, replace } from '../dom.js';

function offsetOf(text: string, line: number, column: number): number {
  let off = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', off);
    if (nl < 0) return text.length;
    off = nl + 1;
  }
  return Math.min(text.length, off + Math.max(0, column - 1));
}

/** `simulated:SgxEnclave` is the simulated instance's policy for SgxEnclave. */
export function policyLabel(key: string): string {
  return key.startsWith('simulated:') ? `${key.slice('simulated:'.length)} (simulated instance)` : key;
}

/** The policy key of an attestation: its instance's policy for its type. */
export function policyKeyOf(type: string, simulated: boolean, types: readonly string[]): string {
  return simulated && types.includes(`simulated:${type}`) ? `simulated:${type}` : type;
}

function replayQuery(key: string, types: readonly string[]): string {
  if (key.startsWith('simulated:')) return `type=${encodeURIComponent(key.slice('simulated:'.length))}&simulated=true`;
  return types.some((t) => t.startsWith('simulated:')) ? `type=${encodeURIComponent(key)}&simulated=false` : `type=${encodeURIComponent(key)}`;
}

export async function renderPolicies(root: HTMLElement, types: readonly string[], editable: boolean, type: string | undefined, attestationId: string | undefined): Promise<void> {
  const current = type !== undefined && types.includes(type) ? type : types[0];
  const tabs = h('nav', { class: 'tabs' }, ...types.map((t) => h('a', { href: `#/policies/${encodeURIComponent(t)}`, class: t === current ? 'tab active' : 'tab', 'aria-current': t === current ? 'page' : undefined }, policyLabel(t))));
  if (current === undefined) {
    replace(root, h('h1', {}, 'Policies'), h('p', { class: 'muted' }, 'This service has no policies.'));
    return;
  }
  replace(root, h('div', { class: 'page-head' }, h('h1', {}, 'Policies'), tabs), h('p', { class: 'muted' }, 'Loading…'));
  const [policy, recent] = await Promise.all([
    get<PolicyView>(`/policies/${encodeURIComponent(current)}`),
    get<{ attestations: AttestationSummary[] }>(`/attestations?limit=50&${replayQuery(current, types)}`),
  ]);

  const gutter = h('div', { class: 'gutter', 'aria-hidden': undefined });
  const ta = h('textarea', { class: 'code-editor', spellcheck: 'false', wrap: 'off', rows: 22, 'aria-label': 'policy text', 'data-testid': 'policy-editor', autocomplete: 'off' });
  ta.value = policy.text;
  const status = h('div', { class: 'parse-status', 'aria-live': 'polite', 'data-testid': 'parse-status' });

  let errorLine = 0;
  const drawGutter = (): void => {
    const n = ta.value.split('\n').length;
    replace(gutter, ...Array.from({ length: n }, (_, i) => h('div', { class: i + 1 === errorLine ? 'ln err' : 'ln' }, String(i + 1))));
    gutter.scrollTop = ta.scrollTop;
  };
  ta.addEventListener('scroll', () => {
    gutter.scrollTop = ta.scrollTop;
  });

  let seq = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const parseNow = async (): Promise<void> => {
    const mine = ++seq;
    let r: PolicyParseResult;
    try {
      r = await post<PolicyParseResult>(`/policies/${encodeURIComponent(current)}/parse`, { text: ta.value });
    } catch (e) {
      if (mine === seq) replace(status, badge('error', 'warn'), ` ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    if (mine !== seq) return;
    if (r.ok) {
      errorLine = 0;
      status.setAttribute('data-state', 'ok');
      ta.setAttribute('aria-invalid', 'false');
      replace(status, badge('parses', 'ok'), ' The policy parses.');
    } else {
      const p = r.problem;
      errorLine = p.line;
      status.setAttribute('data-state', 'error');
      ta.setAttribute('aria-invalid', 'true');
      const go = h('button', { type: 'button', class: 'link' }, 'go to');
      go.addEventListener('click', () => {
        const off = offsetOf(ta.value, p.line, p.column);
        ta.focus();
        ta.setSelectionRange(off, Math.min(ta.value.length, off + 1));
      });
      replace(status, badge(p.code, 'bad'), ' ', h('strong', { 'data-testid': 'parse-location' }, `Line ${p.line}, column ${p.column}`), `: ${p.message} `, go);
    }
    drawGutter();
  };
  ta.addEventListener('input', () => {
    drawGutter();
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => void parseNow(), 250);
  });

  // Draft-policy replay.
  const pick = h('select', { 'data-testid': 'replay-attestation', 'aria-label': 'stored attestation' });
  for (const a of recent.attestations) {
    const o = h('option', { value: a.id }, `${fmtTime(a.time)} · ${a.id} · ${a.outcome}${a.mrenclave === undefined ? '' : ` · ${a.mrenclave.slice(0, 10)}…`}`);
    if (a.id === attestationId) o.selected = true;
    pick.appendChild(o);
  }
  if (attestationId !== undefined && !recent.attestations.some((a) => a.id === attestationId)) {
    const o = h('option', { value: attestationId }, attestationId);
    o.selected = true;
    pick.prepend(o);
  }
  const testResult = h('div', { class: 'test-result', 'data-testid': 'test-result', 'aria-live': 'polite' });
  const testBtn = h('button', { type: 'button', class: 'primary', 'data-testid': 'test-draft', disabled: pick.options.length === 0 }, 'Test draft against it');
  testBtn.addEventListener('click', () => {
    void (async () => {
      replace(testResult, h('span', { class: 'muted' }, 'Evaluating…'));
      try {
        const r = await post<PolicyTestResult>(`/policies/${encodeURIComponent(current)}/test`, { text: ta.value, attestationId: pick.value });
        replace(
          testResult,
          h('p', {}, badge(r.outcome, outcomeKind(r.outcome)), r.code === undefined ? '' : ` ${r.code}`, r.message === undefined ? '' : ` — ${r.message}`),
          r.claims === undefined ? null : h('div', {}, h('h3', {}, 'Claims the draft would issue'), jsonBlock(r.claims, 'test-claims')),
        );
      } catch (e) {
        replace(testResult, badge('error', 'warn'), ` ${e instanceof Error ? e.message : String(e)}`);
      }
    })();
  });

  // Saving.
  const saveStatus = h('span', { class: 'save-status', 'aria-live': 'polite', 'data-testid': 'save-status' });
  const tokenInput = h('input', { type: 'password', autocomplete: 'off', placeholder: 'admin token', 'aria-label': 'admin token', 'data-testid': 'admin-token' });
  const saveBtn = h('button', { type: 'button', class: 'primary', 'data-testid': 'save-policy', disabled: !editable }, 'Save policy');
  saveBtn.addEventListener('click', () => {
    void (async () => {
      if (tokenInput.value !== '') setAdminToken(tokenInput.value);
      tokenInput.value = '';
      if (!hasAdminToken()) {
        replace(saveStatus, badge('admin token needed', 'warn'));
        return;
      }
      try {
        const saved = await putAdmin<PolicyView>(`/policies/${encodeURIComponent(current)}`, { text: ta.value });
        replace(saveStatus, badge('saved', 'ok'), ` version ${saved.version ?? '—'}`);
      } catch (e) {
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) setAdminToken(undefined);
        replace(saveStatus, badge(e instanceof ApiError ? e.code : 'error', 'bad'), ` ${e instanceof Error ? e.message : String(e)}`);
      }
    })();
  });
  const revert = h('button', { type: 'button' }, 'Revert');
  revert.addEventListener('click', () => {
    ta.value = policy.text;
    drawGutter();
    void parseNow();
  });

  const meta = h(
    'p',
    { class: 'meta' },
    policy.isDefault ? badge('default policy', 'neutral') : badge(`version ${policy.version ?? '—'}`, 'neutral'),
    ' ',
    policy.signed ? badge(`signed${policy.signer === undefined ? '' : ` by ${policy.signer}`}`, 'ok') : badge('unsigned', 'neutral'),
    policy.updated === undefined ? '' : ` · updated ${fmtTime(policy.updated)}`,
    policy.hash === undefined ? '' : ' · x-ms-policy-hash ',
    policy.hash === undefined ? '' : h('code', { class: 'hex' }, policy.hash),
  );
  replace(
    root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Policies'), tabs),
    card(
      `${policyLabel(current)} policy`,
      meta,
      h('div', { class: 'editor' }, gutter, ta),
      status,
      h(
        'div',
        { class: 'actions' },
        editable ? h('span', { class: 'admin' }, tokenInput, ' ', saveBtn) : h('span', { class: 'muted' }, 'Editing is off on this service (no admin token configured).'),
        ' ',
        revert,
        ' ',
        saveStatus,
      ),
    ),
    card('Test the draft against a stored attestation', h('p', { class: 'muted' }, 'The draft is evaluated by the service against the evidence it kept; nothing is saved.'), h('div', { class: 'controls' }, pick, testBtn), testResult),
  );
  drawGutter();
  void parseNow();
}
