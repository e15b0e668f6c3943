import { generateKeyPairSync, sign } from 'node:crypto';
import { checkProof, decodeKey, encodeKey, newSecretKey, proofPayload, PROOF_MAX_AGE_MS, publicKeyOf, shortDigest, signProof } from '../../decisions/decision-proof';

const INCIDENT = 'helm-unstuck/prod/web/api';
const D = { action: 'approve', by: 'alice', reason: 'runbook', plan: 'a1b2c3d4e5f6' };
const NOW = Date.parse('2026-11-25T12:00:00Z');
const key = newSecretKey();
const pub = publicKeyOf(key);
const proof = signProof(INCIDENT, D, { verifiedBy: 'sso', via: 'page', groups: ['sre'], at: new Date(NOW).toISOString() }, key);

describe('checkProof', () => {
  it('accepts serve’s signature over exactly this decision', () => {
    expect(checkProof(INCIDENT, D, proof, [pub], NOW)).toEqual({ ok: true, verifiedBy: 'sso', via: 'page', groups: ['sre'] });
  });
  it.each([
    ['another incident', () => checkProof('helm-unstuck/prod/web/other', D, proof, [pub], NOW)],
    ['another action', () => checkProof(INCIDENT, { ...D, action: 'reject' }, proof, [pub], NOW)],
    ['another person', () => checkProof(INCIDENT, { ...D, by: 'mallory' }, proof, [pub], NOW)],
    ['another plan', () => checkProof(INCIDENT, { ...D, plan: 'ffffffffffff' }, proof, [pub], NOW)],
    ['another reason', () => checkProof(INCIDENT, { ...D, reason: 'x' }, proof, [pub], NOW)],
    ['added groups', () => checkProof(INCIDENT, D, { ...proof, groups: ['sre', 'admins'] }, [pub], NOW)],
    ['a key nobody configured', () => checkProof(INCIDENT, D, proof, [publicKeyOf(newSecretKey())], NOW)],
    ['no keys', () => checkProof(INCIDENT, D, proof, [], NOW)],
    ['too old', () => checkProof(INCIDENT, D, proof, [pub], NOW + PROOF_MAX_AGE_MS + 1)],
    ['no proof', () => checkProof(INCIDENT, D, undefined, [pub], NOW)],
    ['a claimed verification without signature', () => checkProof(INCIDENT, D, { verifiedBy: 'sso', via: 'page', at: proof.at }, [pub], NOW)],
    ['garbage signature', () => checkProof(INCIDENT, D, { ...proof, signature: '!!' }, [pub], NOW)],
    ['a signature of 4n+1 characters (no base64 at all; must not throw)', () => checkProof(INCIDENT, D, { ...proof, signature: 'abcde' }, [pub], NOW)],
    ['a configured key of 4n+1 characters', () => checkProof(INCIDENT, D, proof, ['abcde'], NOW)],
    ['unverified', () => checkProof(INCIDENT, D, { ...proof, verifiedBy: 'unverified' }, [pub], NOW)],
  ])('refuses %s', (_, run) => {
    expect(run()).toMatchObject({ ok: false });
  });
  it('verifies what node:crypto signs (serve may sign with either)', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'jwk' }).x as string;
    const p = { verifiedBy: 'token' as const, via: 'api' as const, at: new Date(NOW).toISOString() };
    const signature = sign(null, proofPayload(INCIDENT, D, p), privateKey).toString('base64url');
    expect(checkProof(INCIDENT, D, { ...p, signature }, [raw], NOW)).toMatchObject({ ok: true, verifiedBy: 'token' });
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
