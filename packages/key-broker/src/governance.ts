/**
 * M-of-N governance: members (public JWKs, named by their RFC 7638 SHA-256 thumbprint) sign proposals and ballots as
 * compact JWS (RFC 7515); a proposal is enacted when `threshold` current members accepted it. This module parses
 * and verifies; broker.ts applies enacted actions and writes the ledger.
 *
 * - Proposal: header `{alg, kid, typ: "cloister-kb-proposal+jwt"}`, payload `{actions: [...], nonce}`; its id is the
 *   SHA-256 (hex) of the payload bytes, so the same proposal cannot be submitted twice and ballots bind to it.
 * - Ballot: header `{alg, kid, typ: "cloister-kb-ballot+jwt"}`, payload `{proposal: id, vote: "accept"|"reject"}`.
 *   A member votes once per proposal (a replayed ballot is refused); only the ballots of current members count.
 */
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import { KeyBrokerError } from './errors.js';
import { parseReleasePolicy } from './release-policy.js';

export const PROPOSAL_TYP = 'cloister-kb-proposal+jwt';
export const BALLOT_TYP = 'cloister-kb-ballot+jwt';
export const MEMBER_ALGORITHMS = ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'] as const;
export const MAX_GOVERNANCE_JWS = 64 * 1024;
const MAX_ACTIONS = 32;

export type Action =
  | { readonly type: 'create_key'; readonly name: string; readonly kty: string; readonly key_size?: number; readonly crv?: string; readonly release_policy: unknown; readonly exportable?: boolean }
  | { readonly type: 'set_release_policy'; readonly name: string; readonly release_policy: unknown }
  | { readonly type: 'rotate_key'; readonly name: string }
  | { readonly type: 'delete_key'; readonly name: string }
  | { readonly type: 'add_member'; readonly jwk: JWK }
  | { readonly type: 'remove_member'; readonly kid: string }
  | { readonly type: 'set_threshold'; readonly threshold: number };

export const ACTION_TYPES = ['create_key', 'set_release_policy', 'rotate_key', 'delete_key', 'add_member', 'remove_member', 'set_threshold'] as const;

export const KEY_NAME = /^[0-9a-zA-Z-]{1,127}$/;

export interface Member {
  readonly kid: string;
  readonly jwk: JWK;
}

export async function memberOf(jwk: unknown): Promise<Member> {
  if (typeof jwk !== 'object' || jwk === null) throw new KeyBrokerError('ProposalInvalid', 'a member is a public JWK');
  const j = jwk as Record<string, unknown>;
  if ('d' in j || 'p' in j || 'k' in j) throw new KeyBrokerError('ProposalInvalid', 'a member JWK must be public (no d/p/k)');
  if (j['kty'] !== 'EC' && j['kty'] !== 'RSA' && j['kty'] !== 'OKP') throw new KeyBrokerError('ProposalInvalid', 'a member JWK is EC, RSA or OKP');
  const pub: JWK = j['kty'] === 'RSA' ? { kty: 'RSA', n: j['n'] as string, e: j['e'] as string } : { kty: j['kty'] as string, crv: j['crv'] as string, x: j['x'] as string, ...(j['y'] !== undefined ? { y: j['y'] as string } : {}) };
  let kid: string;
  try {
    kid = await calculateJwkThumbprint(pub, 'sha256');
    await importJWK(pub, pub.kty === 'RSA' ? 'RS256' : pub.kty === 'OKP' ? 'EdDSA' : pub.crv === 'P-384' ? 'ES384' : 'ES256');
  } catch {
    throw new KeyBrokerError('ProposalInvalid', 'a member JWK is not a valid public key');
  }
  return { kid, jwk: pub };
}

function parseAction(a: unknown): Action {
  if (typeof a !== 'object' || a === null) throw new KeyBrokerError('ProposalInvalid', 'an action is an object');
  const o = a as Record<string, unknown>;
  const bad = (m: string): never => {
    throw new KeyBrokerError('ProposalInvalid', `action ${String(o['type'])}: ${m}`);
  };
  const name = (): string => (typeof o['name'] === 'string' && KEY_NAME.test(o['name']) ? o['name'] : bad('name must match [0-9a-zA-Z-]{1,127}'));
  switch (o['type']) {
    case 'create_key': {
      const n = name();
      if (typeof o['kty'] !== 'string') bad('kty is required');
      parseReleasePolicy(o['release_policy']);
      return { type: 'create_key', name: n, kty: o['kty'] as string, ...(typeof o['key_size'] === 'number' ? { key_size: o['key_size'] } : {}), ...(typeof o['crv'] === 'string' ? { crv: o['crv'] } : {}), release_policy: o['release_policy'], exportable: o['exportable'] !== false };
    }
    case 'set_release_policy':
      parseReleasePolicy(o['release_policy']);
      return { type: 'set_release_policy', name: name(), release_policy: o['release_policy'] };
    case 'rotate_key':
      return { type: 'rotate_key', name: name() };
    case 'delete_key':
      return { type: 'delete_key', name: name() };
    case 'add_member':
      if (typeof o['jwk'] !== 'object' || o['jwk'] === null) bad('jwk is required');
      return { type: 'add_member', jwk: o['jwk'] as JWK };
    case 'remove_member':
      if (typeof o['kid'] !== 'string') bad('kid is required');
      return { type: 'remove_member', kid: o['kid'] as string };
    case 'set_threshold':
      if (!Number.isInteger(o['threshold']) || (o['threshold'] as number) < 1) bad('threshold must be a positive integer');
      return { type: 'set_threshold', threshold: o['threshold'] as number };
    default:
      return bad(`unknown action (one of ${ACTION_TYPES.join(', ')})`);
  }
}

export interface VerifiedJws {
  readonly member: string;
  readonly payload: Record<string, unknown>;
  readonly payloadBytes: Uint8Array;
}

/** Verifies a member's compact JWS of `typ` against the current member set. */
export async function verifyMemberJws(jws: unknown, typ: string, members: ReadonlyMap<string, JWK>): Promise<VerifiedJws> {
  const invalid = typ === BALLOT_TYP ? 'BallotInvalid' : 'ProposalInvalid';
  if (typeof jws !== 'string' || jws.length > MAX_GOVERNANCE_JWS) throw new KeyBrokerError(invalid, `expected a compact JWS of at most ${MAX_GOVERNANCE_JWS} bytes`);
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    throw new KeyBrokerError(invalid, 'not a compact JWS');
  }
  if (header.typ !== typ) throw new KeyBrokerError(invalid, `the JWS typ must be ${typ}`);
  if (typeof header.alg !== 'string' || !(MEMBER_ALGORITHMS as readonly string[]).includes(header.alg)) throw new KeyBrokerError(invalid, `alg must be one of ${MEMBER_ALGORITHMS.join(', ')}`);
  const jwk = typeof header.kid === 'string' ? members.get(header.kid) : undefined;
  if (jwk === undefined) throw new KeyBrokerError('MemberUnknown', 'the signer is not a current member', { rule: 'member' });
  let payloadBytes: Uint8Array;
  try {
    const key = await importJWK(jwk, header.alg);
    payloadBytes = (await compactVerify(jws, key, { algorithms: [header.alg] })).payload;
  } catch {
    throw new KeyBrokerError(typ === BALLOT_TYP ? 'BallotSignatureInvalid' : 'ProposalInvalid', 'the signature does not verify with the member key', { rule: 'signature' });
  }
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payloadBytes));
  } catch {
    throw new KeyBrokerError(invalid, 'the JWS payload is not JSON');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new KeyBrokerError(invalid, 'the JWS payload is not an object');
  return { member: header.kid as string, payload: payload as Record<string, unknown>, payloadBytes };
}

export interface VerifiedProposal {
  readonly id: string;
  readonly proposer: string;
  readonly actions: readonly Action[];
}

export async function verifyProposal(jws: unknown, members: ReadonlyMap<string, JWK>): Promise<VerifiedProposal> {
  const v = await verifyMemberJws(jws, PROPOSAL_TYP, members);
  const actions = v.payload['actions'];
  if (!Array.isArray(actions) || actions.length === 0 || actions.length > MAX_ACTIONS) throw new KeyBrokerError('ProposalInvalid', `actions must be 1-${MAX_ACTIONS} entries`);
  if (typeof v.payload['nonce'] !== 'string' || v.payload['nonce'].length < 8 || v.payload['nonce'].length > 128) {
    throw new KeyBrokerError('ProposalInvalid', 'nonce must be a string of 8-128 characters (it makes each proposal unique)');
  }
  return { id: createHash('sha256').update(v.payloadBytes).digest('hex'), proposer: v.member, actions: actions.map(parseAction) };
}

export interface VerifiedBallot {
  readonly proposal: string;
  readonly member: string;
  readonly vote: 'accept' | 'reject';
}

export async function verifyBallot(jws: unknown, proposalId: string, members: ReadonlyMap<string, JWK>): Promise<VerifiedBallot> {
  const v = await verifyMemberJws(jws, BALLOT_TYP, members);
  if (v.payload['proposal'] !== proposalId) throw new KeyBrokerError('BallotInvalid', 'the ballot is for another proposal', { rule: 'proposal' });
  const vote = v.payload['vote'];
  if (vote !== 'accept' && vote !== 'reject') throw new KeyBrokerError('BallotInvalid', 'vote must be accept or reject');
  return { proposal: proposalId, member: v.member, vote };
}
