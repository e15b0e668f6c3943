import { generateKeyPairSync, sign } from 'node:crypto';
import { checkProof, decodeKey, encodeKey, newSecretKey, proofPayload, PROOF_MAX_AGE_MS, publicKeyOf, shortDigest, signProof } from '../../decisions/decision-proof';

const INCIDENT = 'helm-unstuck/prod/web/api';
const D = { action: 'approve', by: 'alice', reason: 'runbook', plan: 'a1b2c3d4e5f6' };
const NOW = Date.parse('2026-11-25T12:00:00Z');
const key = newSecretKey();
const pub = publicKeyOf(key);
const RUN = 'run-1';
const AT = { run: RUN, hold: 'approval' as const, seq: 2 };
const proof = signProof(INCIDENT, D, { ...AT, verifiedBy: 'sso', via: 'page', principal: 'sso:alice', subject: 'https://idp#42', groups: ['sre'], at: new Date(NOW).toISOString() }, key);
const NOW_AT = { ...AT, nowMs: NOW };

describe('checkProof', () => {
  it('accepts serve’s signature over exactly this decision, answering this hold of this run', () => {
    expect(checkProof(INCIDENT, D, proof, [pub], NOW_AT)).toEqual({ ok: true, verifiedBy: 'sso', via: 'page', groups: ['sre'], principal: 'sso:alice', subject: 'https://idp#42' });
  });
  it('at the act: any approval hold of this run, at any age', () => {
    expect(checkProof(INCIDENT, D, proof, [pub], { run: RUN, hold: 'approval' })).toMatchObject({ ok: true });
    expect(checkProof(INCIDENT, D, proof, [pub], { run: 'run-2', hold: 'approval' })).toMatchObject({ ok: false, why: expect.stringMatching(/another run/) });
  });
  it.each([
    // A proof answers one question (issue 20: a continue at ci-busy replayed at the unhealthy hold).
    ['another hold of the same run', () => checkProof(INCIDENT, D, proof, [pub], { ...NOW_AT, hold: 'unhealthy' })],
    ['a later hold of the same kind', () => checkProof(INCIDENT, D, proof, [pub], { ...NOW_AT, seq: 3 })],
    ['another run (terminated and restarted under the same id)', () => checkProof(INCIDENT, D, proof, [pub], { ...NOW_AT, run: 'run-2' })],
    ['a hold relabelled in the proof', () => checkProof(INCIDENT, D, { ...proof, hold: 'unhealthy', seq: 3 }, [pub], { ...NOW_AT, hold: 'unhealthy', seq: 3 })],
    ['another principal', () => checkProof(INCIDENT, D, { ...proof, principal: 'sso:bob' }, [pub], NOW_AT)],
    ['another subject', () => checkProof(INCIDENT, D, { ...proof, subject: 'https://idp#43' }, [pub], NOW_AT)],
    ['a principal of another namespace than its verification', () => checkProof(INCIDENT, D, { ...proof, principal: 'token:alice' }, [pub], NOW_AT)],
    ['a v1 proof, with no run or hold', () => checkProof(INCIDENT, D, { verifiedBy: 'sso', via: 'page', at: proof.at, signature: proof.signature }, [pub], NOW_AT)],
    ['another incident', () => checkProof('helm-unstuck/prod/web/other', D, proof, [pub], NOW_AT)],
    ['another action', () => checkProof(INCIDENT, { ...D, action: 'reject' }, proof, [pub], NOW_AT)],
    ['another person', () => checkProof(INCIDENT, { ...D, by: 'mallory' }, proof, [pub], NOW_AT)],
    ['another plan', () => checkProof(INCIDENT, { ...D, plan: 'ffffffffffff' }, proof, [pub], NOW_AT)],
    ['another reason', () => checkProof(INCIDENT, { ...D, reason: 'x' }, proof, [pub], NOW_AT)],
    ['added groups', () => checkProof(INCIDENT, D, { ...proof, groups: ['sre', 'admins'] }, [pub], NOW_AT)],
    ['a key nobody configured', () => checkProof(INCIDENT, D, proof, [publicKeyOf(newSecretKey())], NOW_AT)],
    ['no keys', () => checkProof(INCIDENT, D, proof, [], NOW_AT)],
    ['too old', () => checkProof(INCIDENT, D, proof, [pub], { ...NOW_AT, nowMs: NOW + PROOF_MAX_AGE_MS + 1 })],
    ['no proof', () => checkProof(INCIDENT, D, undefined, [pub], NOW_AT)],
    ['a claimed verification without signature', () => checkProof(INCIDENT, D, { verifiedBy: 'sso', via: 'page', at: proof.at }, [pub], NOW_AT)],
    ['garbage signature', () => checkProof(INCIDENT, D, { ...proof, signature: '!!' }, [pub], NOW_AT)],
    ['a signature of 4n+1 characters (no base64 at all; must not throw)', () => checkProof(INCIDENT, D, { ...proof, signature: 'abcde' }, [pub], NOW_AT)],
    ['a configured key of 4n+1 characters', () => checkProof(INCIDENT, D, proof, ['abcde'], NOW_AT)],
    ['unverified', () => checkProof(INCIDENT, D, { ...proof, verifiedBy: 'unverified' }, [pub], NOW_AT)],
  ])('refuses %s', (_, run) => {
    expect(run()).toMatchObject({ ok: false });
  });
  it('verifies what node:crypto signs (serve may sign with either)', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'jwk' }).x as string;
    const p = { ...AT, verifiedBy: 'token' as const, via: 'api' as const, principal: 'token:alice', at: new Date(NOW).toISOString() };
    const signature = sign(null, proofPayload(INCIDENT, D, p), privateKey).toString('base64url');
    expect(checkProof(INCIDENT, D, { ...p, signature }, [raw], NOW_AT)).toMatchObject({ ok: true, verifiedBy: 'token' });
  });
});

describe('shortDigest', () => {
  it('is 12 hex digits of SHA-256', () => {
    expect(shortDigest('abc')).toBe('ba7816bf8f01');
  });
});

test('base64url by hand (the workflow sandbox has no atob) agrees with Node, every length', () => {
  for (let n = 0; n <= 70; n++) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n * 11) & 0xff);
    const text = Buffer.from(bytes).toString('base64url');
    expect(encodeKey(bytes)).toBe(text);
    expect(decodeKey(text)).toEqual(bytes);
  }
  expect(decodeKey('abcde')).toBeUndefined();
  expect(decodeKey('ab+/')).toBeUndefined();
});
