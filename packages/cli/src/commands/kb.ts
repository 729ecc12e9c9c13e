/**
 * `cloister kb …`: the members' and clients' side of the key broker (docs/key-broker.md).
 * - `propose` / `vote`: member-signed proposals and ballots (compact JWS with the member's key).
 * - `ledger [verify]`: export the ledger, or verify an export offline against the broker's signing key.
 * - `release NAME`: ask for a key with an attestation token, and open it with the target's private key.
 */
import { writeFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { LedgerVerificationError, brokerJson, brokerRequest, openReleasedKey, signBallot, signProposal, verifyLedger, type Action } from '@cloister/key-broker';
import { CliError } from '../errors.js';
import { readTextInput } from '../io.js';

interface Common {
  readonly url?: string;
  readonly ca?: string;
  readonly json?: boolean;
}

function base(o: Common): string {
  if (o.url === undefined) throw new CliError('INVALID_ARGUMENT', '--url URL (the broker) is required');
  try {
    return new URL(o.url).toString().replace(/\/+$/, '');
  } catch {
    throw new CliError('INVALID_ARGUMENT', `--url ${o.url} is not a URL`);
  }
}

function ca(o: Common): { ca?: string } {
  return o.ca !== undefined ? { ca: readTextInput(o.ca, 'the CA file') } : {};
}

function privateKey(path: string | undefined, what: string): KeyObject {
  if (path === undefined) throw new CliError('INVALID_ARGUMENT', `--key PEM (${what}) is required`);
  try {
    return createPrivateKey(readTextInput(path, what));
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError('INVALID_ARGUMENT', `${path} is not a PEM private key`);
  }
}

function jsonArg(text: string, what: string): unknown {
  const t = text.trimStart().startsWith('[') || text.trimStart().startsWith('{') ? text : readTextInput(text, what);
  try {
    return JSON.parse(t);
  } catch {
    throw new CliError('INVALID_ARGUMENT', `${what} is not JSON`);
  }
}

function out(o: Common, json: unknown, lines: [string, string][]): void {
  if (o.json === true) {
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    return;
  }
  const w = Math.max(...lines.map(([k]) => k.length));
  process.stdout.write(lines.map(([k, v]) => `${k.padEnd(w)}  ${v}\n`).join(''));
}

interface ProposalView {
  id: string;
  state: string;
  ballots: { member: string; vote: string }[];
  outcome?: unknown;
}

export async function kbProposeCommand(o: Common & { key?: string; actions?: string }): Promise<void> {
  if (o.actions === undefined) throw new CliError('INVALID_ARGUMENT', '--actions JSON|FILE is required: [{"type":"create_key",…}]');
  const parsed = jsonArg(o.actions, 'the actions');
  const actions = (Array.isArray(parsed) ? parsed : [parsed]) as Action[];
  const jws = await signProposal(actions, privateKey(o.key, 'the member key'));
  const view = await brokerJson<ProposalView>(`${base(o)}/governance/proposals`, { body: { proposal: jws }, ...ca(o) });
  out(o, { ok: true, proposal: view }, [
    ['proposal', view.id],
    ['state', view.state],
    ['actions', actions.map((a) => a.type).join(', ')],
  ]);
}

export async function kbVoteCommand(id: string, o: Common & { key?: string; reject?: boolean }): Promise<void> {
  if (!/^[0-9a-f]{64}$/.test(id)) throw new CliError('INVALID_ARGUMENT', 'the proposal id is 64 hex characters');
  const jws = await signBallot(id, o.reject === true ? 'reject' : 'accept', privateKey(o.key, 'the member key'));
  const view = await brokerJson<ProposalView>(`${base(o)}/governance/proposals/${id}/ballots`, { body: { ballot: jws }, ...ca(o) });
  out(o, { ok: true, proposal: view }, [
    ['proposal', view.id],
    ['vote', o.reject === true ? 'reject' : 'accept'],
    ['state', view.state],
    ['ballots', String(view.ballots.length)],
  ]);
}

export async function kbLedgerCommand(verb: string | undefined, file: string | undefined, o: Common & { out?: string; brokerKey?: string }): Promise<void> {
  if (verb !== undefined && verb !== 'verify') throw new CliError('INVALID_ARGUMENT', `unknown "${verb}": kb ledger [verify [FILE]]`);
  let text: string;
  if (verb === 'verify' && file !== undefined) text = readTextInput(file, 'the ledger');
  else {
    const r = await brokerRequest(`${base(o)}/governance/ledger`, { ...ca(o), maxBytes: 256 * 1024 * 1024 });
    if (r.status !== 200) throw new CliError('INPUT_UNREADABLE', `the broker answered HTTP ${r.status} for its ledger`);
    text = r.text;
  }
  if (verb === undefined) {
    if (o.out !== undefined) writeFileSync(o.out, text);
    else if (o.json !== true) process.stdout.write(text);
    const entries = text.split('\n').filter((l) => l.length > 0).length;
    if (o.json === true) out(o, { ok: true, entries, ...(o.out !== undefined ? { out: o.out } : {}) }, []);
    else if (o.out !== undefined) out(o, {}, [['entries', String(entries)], ['written', o.out]]);
    return;
  }
  let key: JsonWebKey;
  let keySource: string;
  if (o.brokerKey !== undefined) {
    key = jsonArg(o.brokerKey, 'the broker key') as JsonWebKey;
    keySource = o.brokerKey;
  } else {
    key = (await brokerJson<{ signingKey: JsonWebKey }>(`${base(o)}/broker/identity`, ca(o))).signingKey;
    keySource = 'the broker (pin it with --broker-key)';
  }
  try {
    createPublicKey({ key: key as import('node:crypto').JsonWebKey, format: 'jwk' });
  } catch {
    throw new CliError('INVALID_ARGUMENT', 'the broker key is not a public JWK');
  }
  try {
    const s = verifyLedger(text, key);
    out(o, { ok: true, entries: s.entries, head: s.head }, [
      ['ledger', 'verified'],
      ['entries', String(s.entries)],
      ['head', s.head],
      ['key', keySource],
    ]);
  } catch (e) {
    if (!(e instanceof LedgerVerificationError)) throw e;
    out(o, { ok: false, error: { code: e.code, rule: e.rule, seq: e.seq, message: e.message } }, [
      ['ledger', 'NOT verified'],
      ['entry', String(e.seq)],
      ['rule', e.rule],
      ['reason', e.message],
    ]);
    process.exitCode = 1;
  }
}

export async function kbReleaseCommand(name: string, o: Common & { token?: string; key?: string; enc?: string; version?: string; out?: string; nonce?: string }): Promise<void> {
  if (o.token === undefined) throw new CliError('INVALID_ARGUMENT', '--token FILE (the attestation token) is required');
  const token = readTextInput(o.token, 'the token').trim();
  const key = privateKey(o.key, 'the private key of the token\'s runtime RSA key');
  const path = `${base(o)}/keys/${encodeURIComponent(name)}${o.version !== undefined ? `/${encodeURIComponent(o.version)}` : ''}/release?api-version=7.4`;
  // Release is authorised by the attestation token; the bearer is only the Key Vault challenge's formality.
  const r = await brokerJson<{ value: string }>(path, {
    bearer: 'release',
    body: { target: token, ...(o.enc !== undefined ? { enc: o.enc } : {}), ...(o.nonce !== undefined ? { nonce: o.nonce } : {}) },
    ...ca(o),
  });
  const opened = await openReleasedKey(r.value, key);
  const kind = opened.kty.replace(/-HSM$/, '');
  const material = Buffer.from(opened.material);
  const encoded = kind === 'oct' ? material.toString('base64') : createPrivateKey({ key: material, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString();
  if (o.out !== undefined) writeFileSync(o.out, kind === 'oct' ? material : encoded, { mode: 0o600 });
  const summary: [string, string][] = [
    ['key', opened.kid],
    ['kty', opened.kty],
    ['enc', opened.enc],
    ['bytes', String(material.length)],
    ['written', o.out ?? '(not written: --out FILE)'],
  ];
  out(o, { ok: true, kid: opened.kid, kty: opened.kty, enc: opened.enc, bytes: material.length, ...(o.out !== undefined ? { out: o.out } : {}) }, summary);
  material.fill(0);
}

export interface KbRecoveryOptions extends Common {
  readonly key?: string;
  readonly adminTokenFile?: string;
  readonly out?: string;
  readonly mrsigner?: string;
  readonly productId?: string;
  readonly collateral?: string;
  readonly trustRoot?: string[];
  readonly allowSimulated?: boolean;
}

/**
 * `kb recovery start|share|submit`: the operator starts a recovery (a fresh recovery key in the waiting broker's
 * enclave); each member verifies that key's quote (the broker's MRSIGNER and product, REPORTDATA = SHA-256 of the
 * key's thumbprint), decrypts its own share and re-encrypts it to that key; the operator submits the shares.
 */
export async function kbRecoveryCommand(verb: string, files: string[], o: KbRecoveryOptions): Promise<void> {
  const url = base(o);
  const admin = (): string => {
    if (o.adminTokenFile === undefined) throw new CliError('INVALID_ARGUMENT', `kb recovery ${verb} needs --admin-token-file`);
    return readTextInput(o.adminTokenFile, 'the admin token').trim();
  };
  if (verb === 'start') {
    const k = await brokerJson<{ jwk: { kid: string } }>(`${url}/recovery/key`, { method: 'POST', body: {}, bearer: admin(), ...ca(o) });
    out(o, { ok: true, recoveryKey: k.jwk.kid }, [['recovery key', k.jwk.kid], ['next', 'each member: cloister kb recovery share --url … --key member.pem …']]);
    return;
  }
  if (verb === 'submit') {
    if (files.length === 0) throw new CliError('INVALID_ARGUMENT', 'kb recovery submit SHARE_FILE… (the re-encrypted shares)');
    const shares = files.map((f) => readTextInput(f, 'a share').trim());
    const r = await brokerJson<{ state: string }>(`${url}/recovery`, { body: { shares }, bearer: admin(), ...ca(o) });
    out(o, { ok: true, state: r.state }, [['state', r.state], ['shares', String(shares.length)]]);
    return;
  }
  if (verb !== 'share') throw new CliError('INVALID_ARGUMENT', `unknown "${verb}": kb recovery start | share | submit`);
  if (o.mrsigner === undefined || !/^[0-9a-fA-F]{64}$/.test(o.mrsigner)) throw new CliError('INVALID_ARGUMENT', "--mrsigner HEX (the broker enclave's signer) is required to verify the recovery key");
  if (o.collateral === undefined) throw new CliError('INVALID_ARGUMENT', "--collateral FILE (the broker platform's collateral) is required to verify the recovery key");
  const member = privateKey(o.key, 'the member key');
  const { memberOf, reencryptShare } = await import('@cloister/key-broker');
  const { verifyEvidence } = await import('@cloister/enclave');
  const { trustAnchorFromCertificate } = await import('@cloister/dcap');
  const { exportJWK } = await import('jose');
  const { createHash } = await import('node:crypto');
  const kid = (await memberOf(await exportJWK(createPublicKey(member)))).kid;
  const rk = await brokerJson<{ jwk: JsonWebKey & { kid: string }; quote: string }>(`${url}/recovery/key`, ca(o));
  const productId = Number(o.productId ?? '13');
  if (!Number.isInteger(productId) || productId < 0 || productId > 65535) throw new CliError('INVALID_ARGUMENT', '--product-id is 0..65535');
  // The key's thumbprint is recomputed, not taken from the broker's word.
  const thumbprint = (await memberOf({ kty: 'RSA', n: rk.jwk.n, e: rk.jwk.e })).kid;
  const evidence = await verifyEvidence(
    new Uint8Array(Buffer.from(rk.quote, 'base64')),
    { mrsigner: o.mrsigner.toLowerCase(), isvProdId: productId, allowSimulated: o.allowSimulated === true, reportData: createHash('sha256').update(thumbprint).digest('hex') },
    {
      collateral: readTextInput(o.collateral, 'the collateral'),
      ...(o.trustRoot !== undefined ? { trustAnchors: o.trustRoot.map((f) => trustAnchorFromCertificate(readTextInput(f, 'a trust root'))) } : {}),
    },
  );
  const { share, threshold } = await brokerJson<{ share: string; threshold: number }>(`${url}/recovery/shares/${kid}`, ca(o));
  const reencrypted = await reencryptShare(share, member, rk.jwk);
  if (o.out !== undefined) writeFileSync(o.out, `${reencrypted}\n`, { mode: 0o600 });
  else if (o.json !== true) process.stdout.write(`${reencrypted}\n`);
  out(o, { ok: true, member: kid, threshold, recoveryKey: thumbprint, mrenclave: evidence.identity.mrenclave, ...(o.out !== undefined ? { out: o.out } : { share: reencrypted }) }, o.out !== undefined ? [
    ['member', kid],
    ['recovery key', `${thumbprint} (quote verified: mrsigner ${o.mrsigner.toLowerCase().slice(0, 16)}…, mrenclave ${evidence.identity.mrenclave.slice(0, 16)}…)`],
    ['threshold', String(threshold)],
    ['written', o.out],
  ] : []);
}
