// serve's single sign-on check over real HTTP: discovery and JWKS from a loopback issuer, ID
// tokens signed by jose. Forged headers, wrong issuers, audiences, keys and algorithms get nothing.
import { generateKeyPair, UnsecuredJWT } from 'jose';
import { SSO_ALGORITHMS, type SsoSettings } from '../../lib/config';
import { identityFromClaims, ssoVerifier } from '../../server/sso';
import { startLocalIssuer, type LocalIssuer } from './local-issuer';

let op: LocalIssuer;
let settings: SsoSettings;
const logs: string[] = [];
beforeAll(async () => {
  op = await startLocalIssuer();
  settings = { issuer: op.issuer, clientId: 'helm-unstuck', groupsClaim: 'groups', algorithms: [...SSO_ALGORITHMS] };
});
afterAll(() => op.close());

const ALICE = { preferred_username: 'alice', email: 'alice@example.test', groups: ['sre', 'helm-approvers'] };

describe('ssoVerifier', () => {
  test('a valid ID token names the person and their groups', async () => {
    const v = ssoVerifier(settings);
    await expect(v.verify(`Bearer ${await op.token(ALICE)}`)).resolves.toEqual({ ok: true, identity: { user: 'alice', verifiedBy: 'sso', groups: ['sre', 'helm-approvers'], subject: expect.stringMatching(/#alice$/) } });
  });

  test.each<[string, () => Promise<string | undefined>, RegExp]>([
    ['no header at all (X-Forwarded-User is never read)', async () => undefined, /no ID token/],
    ['a user token instead of an ID token', async () => 'Bearer alice-token', /no ID token/],
    ['another issuer', async () => `Bearer ${await op.token(ALICE, { issuer: 'https://evil.example/' })}`, /not valid \(ERR_JWT_CLAIM_VALIDATION_FAILED\)/],
    ['another audience (a token for another app)', async () => `Bearer ${await op.token(ALICE, { audience: 'grafana' })}`, /not valid \(ERR_JWT_CLAIM_VALIDATION_FAILED\)/],
    ['an expired token', async () => `Bearer ${await op.token(ALICE, { expiresIn: Math.floor(Date.now() / 1000) - 120 })}`, /expired/],
    ['a key the issuer never published', async () => `Bearer ${await op.token(ALICE, { key: (await generateKeyPair('RS256')).privateKey })}`, /not valid \(ERR_JWS_SIGNATURE_VERIFICATION_FAILED\)/],
    ['a shared-secret (HS256) token', async () => `Bearer ${await op.token(ALICE, { alg: 'HS256', key: new TextEncoder().encode('x'.repeat(32)) })}`, /not valid/],
    ['an unsigned token (alg none)', async () => `Bearer ${new UnsecuredJWT(ALICE).setIssuer(op.issuer).setAudience('helm-unstuck').setSubject('alice').setIssuedAt().setExpirationTime('5m').encode()}`, /no ID token|not valid/],
  ])('refuses %s', async (_w, header, why) => {
    const r = await ssoVerifier(settings).verify(await header());
    expect(r).toEqual({ ok: false, why: expect.stringMatching(why) });
  });

  test('an algorithm the operator did not allow is refused', async () => {
    const r = await ssoVerifier({ ...settings, algorithms: ['ES256'] }).verify(`Bearer ${await op.token(ALICE)}`);
    expect(r).toMatchObject({ ok: false });
  });

  test('a provider that cannot be reached gives nothing, is logged; a reachable one is asked once for many tokens', async () => {
    const v = ssoVerifier({ ...settings, issuer: 'http://127.0.0.1:1/' }, (l) => logs.push(l));
    const token = await op.token(ALICE);
    await expect(v.verify(`Bearer ${token}`)).resolves.toEqual({ ok: false, why: "the identity provider's keys could not be read" });
    expect(logs.at(-1)).toMatch(/^single sign-on: cannot read the provider's keys: /);
    const before = op.discoveries;
    const good = ssoVerifier(settings);
    await good.verify(`Bearer ${token}`);
    await good.verify(`Bearer ${token}`);
    expect(op.discoveries - before).toBe(1);
  });
});

describe('identityFromClaims', () => {
  const o = { groupsClaim: 'groups' };
  test.each<[string, Record<string, unknown>, object, ReturnType<typeof identityFromClaims>]>([
    ['preferred_username first', ALICE, o, { ok: true, identity: { user: 'alice', verifiedBy: 'sso', groups: ['sre', 'helm-approvers'] } }],
    ['then email, when the provider verified it', { email: 'bob@example.test', email_verified: true }, o, { ok: true, identity: { user: 'bob@example.test', verifiedBy: 'sso', groups: [] } }],
    // issue 20: an address anyone can type into an account names nobody
    ['never an email the provider did not verify', { email: 'bob@example.test' }, o, { ok: false, why: 'the ID token has no preferred_username or verified email claim naming the person' }],
    ['nor one it says it did not', { email: 'bob@example.test', email_verified: 'true' }, o, { ok: false, why: 'the ID token has no preferred_username or verified email claim naming the person' }],
    ['the account (issuer and sub) is the subject', { preferred_username: 'asmith', iss: 'https://idp', sub: '42' }, o, { ok: true, identity: { user: 'asmith', verifiedBy: 'sso', groups: [], subject: 'https://idp#42' } }],
    ['a configured user claim only', { preferred_username: 'alice', upn: 'ALICE' }, { ...o, userClaim: 'upn' }, { ok: true, identity: { user: 'ALICE', verifiedBy: 'sso', groups: [] } }],
    ['a configured user claim that is missing', { preferred_username: 'alice' }, { ...o, userClaim: 'upn' }, { ok: false, why: 'the ID token has no upn claim naming the person' }],
    ['no name at all', { sub: '123' }, o, { ok: false, why: 'the ID token has no preferred_username or verified email claim naming the person' }],
    ['a name with a newline', { preferred_username: 'alice\napproved' }, o, { ok: false, why: expect.stringMatching(/whitespace, control characters/) as unknown as string }],
    ['one group as a string', { preferred_username: 'a', roles: 'admins' }, { groupsClaim: 'roles' }, { ok: true, identity: { user: 'a', verifiedBy: 'sso', groups: ['admins'] } }],
    ['groups that are not names', { preferred_username: 'a', groups: [1, 2] }, o, { ok: false, why: "the ID token's groups claim is not a list of group names" }],
    ['an inherited claim name is no claim', { preferred_username: 'a' }, { groupsClaim: 'constructor' }, { ok: true, identity: { user: 'a', verifiedBy: 'sso', groups: [] } }],
  ])('%s', (_w, claims, opts, expected) => {
    expect(identityFromClaims(claims, opts as SsoSettings)).toEqual(expected);
  });
});
