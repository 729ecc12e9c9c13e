/** The attestation service's token-signing keys (with their certificates) and policy signers. Public parts only. */
import type { PolicySignerView, SigningKeyView } from '../../types.js';
import { get } from '../api.js';
import { badge, card, fmtTime, h, replace, shortHex, table } from '../dom.js';

export async function renderSigningKeys(root: HTMLElement): Promise<void> {
  replace(root, h('h1', {}, 'Signing keys'), h('p', { class: 'muted' }, 'Loading…'));
  const r = await get<{ keys: SigningKeyView[]; signers: PolicySignerView[] }>('/signing-keys');
  replace(
    root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Signing keys and certificates')),
    card(
      'Token signing keys',
      h('p', { class: 'muted' }, 'Published at /certs (JWKS). Private keys are encrypted at rest and never leave the service.'),
      table(r.keys, [
        { title: 'Key id', cell: (k) => h('code', {}, k.kid) },
        { title: 'Instance', cell: (k) => (k.instance === 'simulated' ? badge('simulated', 'sim') : 'real') },
        { title: 'Algorithm', cell: (k) => k.alg },
        { title: 'Status', cell: (k) => badge(k.status, k.status === 'active' ? 'ok' : k.status === 'retiring' ? 'warn' : 'neutral') },
        { title: 'Created', cell: (k) => fmtTime(k.created), className: 'nowrap' },
        { title: 'Certificate subject', cell: (k) => k.certificate?.subject ?? '—' },
        { title: 'Valid until', cell: (k) => fmtTime(k.certificate?.notAfter), className: 'nowrap' },
        { title: 'SHA-256', cell: (k) => shortHex(k.certificate?.sha256, 16) },
      ], { testid: 'signing-keys', empty: 'No signing keys yet.' }),
    ),
    card(
      'Policy signers',
      h('p', { class: 'muted' }, 'Certificates whose keys may sign policies. With any configured, only signed policies are accepted (isolated mode).'),
      table(r.signers, [
        { title: 'Subject', cell: (s) => s.certificate.subject },
        { title: 'Instance', cell: (s) => (s.instance === 'simulated' ? badge('simulated', 'sim') : 'real') },
        { title: 'Issuer', cell: (s) => s.certificate.issuer },
        { title: 'Serial', cell: (s) => shortHex(s.certificate.serialNumber, 16) },
        { title: 'Valid until', cell: (s) => fmtTime(s.certificate.notAfter), className: 'nowrap' },
        { title: 'SHA-256', cell: (s) => shortHex(s.certificate.sha256, 16) },
        { title: 'Added', cell: (s) => fmtTime(s.added), className: 'nowrap' },
      ], { testid: 'policy-signers', empty: 'No policy signers: unsigned policies are accepted with the admin token.' }),
    ),
  );
}
