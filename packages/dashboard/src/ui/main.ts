/**
 * The dashboard front-end: a header with the views this service offers, and a hash router. Every view builds its
 * DOM with ui/dom.ts (text nodes only). Loaded as one bundled script from the shell; no inline code anywhere.
 */
import type { DashboardConfig } from '../mount.js';
import { ApiError, get, setApiBase, setViewerToken } from './api.js';
import { h, replace } from './dom.js';
import { renderAttestation, renderAttestations } from './views/attestations.js';
import { renderBrokerKeys, renderGovernance, renderLedger, renderReleases } from './views/broker.js';
import { renderSigningKeys } from './views/keys.js';
import { renderPolicies } from './views/policies.js';

interface NavItem {
  readonly route: string;
  readonly label: string;
}

function navItems(cfg: DashboardConfig): NavItem[] {
  const out: NavItem[] = [];
  if (cfg.attestation) out.push({ route: 'attestations', label: 'Attestations' }, { route: 'policies', label: 'Policies' }, { route: 'signing', label: 'Signing keys' });
  if (cfg.keyBroker) out.push({ route: 'broker/keys', label: 'Keys' }, { route: 'broker/releases', label: 'Releases' }, { route: 'broker/governance', label: 'Governance' }, { route: 'broker/ledger', label: 'Ledger' });
  return out;
}

function parts(): string[] {
  return location.hash.replace(/^#\/?/, '').split('/').filter((p) => p !== '').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
}

function tokenForm(main: HTMLElement, retry: () => void, message: string): void {
  const input = h('input', { type: 'password', autocomplete: 'off', placeholder: 'viewer token', 'aria-label': 'viewer token', 'data-testid': 'viewer-token' });
  const btn = h('button', { type: 'submit', class: 'primary' }, 'Open');
  const form = h('form', { class: 'login' }, h('h1', {}, 'Viewer token'), h('p', { class: 'muted' }, message), input, ' ', btn);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    setViewerToken(input.value);
    input.value = '';
    retry();
  });
  replace(main, form);
}

async function start(): Promise<void> {
  const base = document.body.dataset['base'] ?? '/ui';
  setApiBase(base);
  const header = h('header', { class: 'top' });
  const main = h('main', { id: 'view' });
  const footer = h('footer', {}, 'Read-only unless an admin token is given. Everything shown came from attesters and is displayed as text.');
  document.body.append(header, main, footer);

  let cfg: DashboardConfig;
  try {
    cfg = await get<DashboardConfig>('/config');
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403) && e.code !== 'DASHBOARD_LOOPBACK_ONLY') {
      tokenForm(main, () => void start2(), e.status === 401 ? 'This dashboard needs a viewer token.' : 'That token was not accepted.');
      return;
    }
    replace(main, h('p', { class: 'error' }, e instanceof Error ? e.message : String(e)));
    return;
  }
  const items = navItems(cfg);
  const nav = h('nav', { class: 'main-nav' });
  replace(header, h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '◆'), cfg.title), nav, h('span', { class: 'access' }, cfg.access === 'loopback' ? 'local access' : 'viewer token'));
  document.title = `${cfg.title} dashboard`;

  const route = async (): Promise<void> => {
    const p = parts();
    const path = p.join('/');
    const active = items.find((i) => path === i.route || path.startsWith(`${i.route}/`)) ?? items[0];
    replace(nav, ...items.map((i) => h('a', { href: `#/${i.route}`, class: i === active ? 'active' : undefined, 'aria-current': i === active ? 'page' : undefined }, i.label)));
    try {
      if (p[0] === 'attestations' && p[1] !== undefined) await renderAttestation(main, p[1], cfg.policyTypes);
      else if (p[0] === 'policies') await renderPolicies(main, cfg.policyTypes, cfg.editable, p[1], p[2]);
      else if (p[0] === 'signing') await renderSigningKeys(main);
      else if (p[0] === 'broker' && p[1] === 'keys') await renderBrokerKeys(main);
      else if (p[0] === 'broker' && p[1] === 'releases') await renderReleases(main);
      else if (p[0] === 'broker' && p[1] === 'governance') await renderGovernance(main);
      else if (p[0] === 'broker' && p[1] === 'ledger') await renderLedger(main);
      else if (cfg.attestation) await renderAttestations(main, cfg.policyTypes);
      else if (cfg.keyBroker) await renderBrokerKeys(main);
      else replace(main, h('p', {}, 'Nothing to show.'));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        tokenForm(main, () => void route(), 'This dashboard needs a viewer token.');
        return;
      }
      replace(main, h('div', { class: 'card error', 'data-testid': 'view-error' }, h('strong', {}, e instanceof ApiError ? e.code : 'Error'), ` ${e instanceof Error ? e.message : String(e)}`));
    }
  };
  window.addEventListener('hashchange', () => void route());
  await route();
}

async function start2(): Promise<void> {
  clearBody();
  await start();
}

function clearBody(): void {
  while (document.body.firstChild !== null) document.body.removeChild(document.body.firstChild);
}

function boot(): void {
  clearBody();
  void start();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
