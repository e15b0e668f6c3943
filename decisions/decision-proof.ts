// A decision's proof of identity. `serve` verifies who a person is (single sign-on through
// oauth2-proxy, or a login token) and signs the decision with its Ed25519 key; the workflow checks
// the signature against the public keys in the operator's configuration, in the update's
// validator, before anything is written to history, and the activities that act check it again
// against the configuration as it is when they act. A proof answers one question: one hold (by
// its number) of one workflow run, so a copy sent to another hold or another run proves nothing. Whoever can reach Temporal but not serve's key
// can still send a decision, but only as `unverified`, which the operator's policy refuses unless
// it says otherwise. Pure (noble's audited Ed25519, no node:crypto): it runs in the workflow
// sandbox, in serve and in tests alike.
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { b64url } from './base64url';
import type { Hold } from './holds';

/** How the identity of the person deciding was verified. */
export const VERIFIED_BY = ['sso', 'token', 'unverified'] as const;
export type VerifiedBy = (typeof VERIFIED_BY)[number];

/** Through which path the decision arrived. */
export const DECISION_PATHS = ['page', 'api', 'temporal'] as const;
export type DecisionPath = (typeof DECISION_PATHS)[number];

/** Which question a proof answers: one hold, by its number, of one workflow run. */
export interface ProofBinding {
  /** The workflow run's id (a restart under the same workflow id is another run). */
  run: string;
  hold: Hold;
  /** The hold's number in the run (1 for the first hold opened, 2 for the next, ...). */
  seq: number;
}

/** Who decided, as vouched for by serve. Absent on a raw Temporal update or signal. */
export interface DecisionProof extends ProofBinding {
  verifiedBy: Exclude<VerifiedBy, 'unverified'>;
  via: Exclude<DecisionPath, 'temporal'>;
  /** The person, canonically: `token:alice`, `sso:asmith` (decisions/principal.ts). */
  principal: string;
  /** SSO only: the ID token's issuer and subject, `issuer#sub`: one account whatever its name. */
  subject?: string;
  /** The person's groups as the identity provider stated them (SSO only). */
  groups?: string[];
  /** When serve signed it (ISO 8601). */
  at: string;
  /** Ed25519 signature over `proofPayload`, base64url. */
  signature: string;
}

/** What a proof is about: one decision, by one person, on one incident, on one plan. */
export interface ProvenDecision {
  action: string;
  by: string;
  reason: string;
  /** The plan digest the person saw (approval holds); absent on other holds. */
  plan?: string;
}

/** The exact bytes serve signs and the workflow verifies: a fixed-order JSON array. */
export function proofPayload(incident: string, d: ProvenDecision, p: Omit<DecisionProof, 'signature'>): Uint8Array {
  return utf8ToBytes(
    JSON.stringify([
      'helm-unstuck/decision/v2',
      incident,
      p.run,
      p.hold,
      p.seq,
      d.action,
      d.by,
      d.reason,
      d.plan ?? '',
      p.principal,
      p.subject ?? '',
      p.verifiedBy,
      p.via,
      [...(p.groups ?? [])].sort(),
      p.at,
    ]),
  );
}

/** A proof older than this is refused: a signed decision cannot be kept and replayed later. */
export const PROOF_MAX_AGE_MS = 10 * 60_000;

export type ProofCheck =
  | { ok: true; verifiedBy: DecisionProof['verifiedBy']; via: DecisionProof['via']; groups: string[]; principal: string; subject?: string }
  | { ok: false; why: string };

/** What a proof must answer: this run, and (when asking now) this hold by its number. */
export interface Expected {
  run: string;
  hold: ProofBinding['hold'];
  /** Unset where any hold of that kind in the run will do (the act, which reads no hold). */
  seq?: number;
  /** Unset: the signing time is not checked (the act, long after the workflow took it). */
  nowMs?: number;
}


const TOKEN = /^[\x21-\x7e]{1,512}$/;

/** The proof's own claims, checked for shape: what it says, before whether it is true. */
function claims(proof: unknown): { ok: true; p: Omit<DecisionProof, 'signature'>; sig: Uint8Array } | { ok: false; why: string } {
  if (!proof || typeof proof !== 'object') return { ok: false, why: 'the decision carries no proof of who made it' };
  const p = proof as Partial<DecisionProof>;
  if (p.verifiedBy !== 'sso' && p.verifiedBy !== 'token') return { ok: false, why: 'the proof does not say how the identity was verified' };
  if (p.via !== 'page' && p.via !== 'api') return { ok: false, why: 'the proof does not say through which path the decision came' };
  if (p.groups !== undefined && !(Array.isArray(p.groups) && p.groups.length <= 256 && p.groups.every((g) => typeof g === 'string' && g.length <= 256))) {
    return { ok: false, why: 'the proof lists malformed groups' };
  }
  if (typeof p.run !== 'string' || !TOKEN.test(p.run) || typeof p.seq !== 'number' || !Number.isSafeInteger(p.seq) || p.seq < 1 || typeof p.hold !== 'string') {
    return { ok: false, why: 'the proof does not say which hold of which run it answers (a proof from an older serve?)' };
  }
  if (typeof p.principal !== 'string' || p.principal.length > 600 || !p.principal.startsWith(`${p.verifiedBy}:`)) return { ok: false, why: 'the proof names no principal' };
  if (p.subject !== undefined && (typeof p.subject !== 'string' || p.subject.length > 1024)) return { ok: false, why: 'the proof has a malformed subject' };
  if (typeof p.at !== 'string' || !Number.isFinite(Date.parse(p.at))) return { ok: false, why: 'the proof has no signing time' };
  const sig = typeof p.signature === 'string' ? b64url.decode(p.signature) : undefined;
  if (!sig || sig.length !== 64) return { ok: false, why: 'the proof has no valid signature' };
  const { verifiedBy, via, run, hold, seq, principal, subject, groups, at } = p as DecisionProof;
  return { ok: true, p: { verifiedBy, via, run, hold, seq, principal, ...(subject !== undefined ? { subject } : {}), ...(groups ? { groups } : {}), at }, sig };
}

/**
 * Whether `proof` is serve's signature over this decision on this incident, answering the run and
 * hold `expected` names, made within PROOF_MAX_AGE_MS of `expected.nowMs` (when given) by one of
 * `publicKeys` (base64url, 32 bytes raw Ed25519).
 */
export function checkProof(incident: string, d: ProvenDecision, proof: unknown, publicKeys: readonly string[], expected: Expected): ProofCheck {
  const c = claims(proof);
  if (!c.ok) return c;
  const { p, sig } = c;
  if (p.run !== expected.run) return { ok: false, why: `the proof answers another run of this incident (${p.run}), not this one` };
  if (p.hold !== expected.hold || (expected.seq !== undefined && p.seq !== expected.seq)) {
    return { ok: false, why: `the proof answers the ${p.hold} hold (number ${p.seq}), not the ${expected.hold} hold${expected.seq !== undefined ? ` (number ${expected.seq})` : ''} open now` };
  }
  if (expected.nowMs !== undefined) {
    const age = expected.nowMs - Date.parse(p.at);
    if (age > PROOF_MAX_AGE_MS || age < -PROOF_MAX_AGE_MS) return { ok: false, why: `the proof was signed at ${p.at}, too far from now to be trusted` };
  }
  const msg = proofPayload(incident, d, p);
  for (const key of publicKeys) {
    const pub = b64url.decode(key);
    if (!pub || pub.length !== 32) continue;
    try {
      if (ed25519.verify(sig, msg, pub)) {
        return { ok: true, verifiedBy: p.verifiedBy, via: p.via, groups: p.groups ?? [], principal: p.principal, ...(p.subject !== undefined ? { subject: p.subject } : {}) };
      }
    } catch {
      // A malformed key or signature is simply not a match.
    }
  }
  return { ok: false, why: 'the proof is not signed by a key the operator configured' };
}

/** Sign a decision (serve's side; tests too). `secretKey` is the 32-byte Ed25519 seed. */
export function signProof(incident: string, d: ProvenDecision, p: Omit<DecisionProof, 'signature'>, secretKey: Uint8Array): DecisionProof {
  return { ...p, signature: b64url.encode(ed25519.sign(proofPayload(incident, d, p), secretKey)) };
}

/** The public key for a 32-byte seed, base64url: what the operator's configuration lists. */
export const publicKeyOf = (secretKey: Uint8Array): string => b64url.encode(ed25519.getPublicKey(secretKey));

/** A new random seed (serve's key; `helm-unstuck keygen`). */
export const newSecretKey = (): Uint8Array => ed25519.utils.randomSecretKey();

export { decodeKey, encodeKey } from './base64url';

/** A short digest of text (plan digests): the first 12 hex digits of its SHA-256. */
export const shortDigest = (text: string): string => bytesToHex(sha256(utf8ToBytes(text))).slice(0, 12);
