// Single sign-on: who a request comes from, proven by the OpenID provider's signature. oauth2-proxy
// (run with --pass-authorization-header) forwards the user's ID token as `Authorization: Bearer`;
// serve verifies it against the issuer's published keys (discovery's jwks_uri), the issuer, the
// audience (our client id), its expiry and the allowed algorithms, and reads the person and their
// groups from the configured claims. X-Forwarded-User/-Email/-Groups are never read: anyone who
// reaches serve directly can send those. The only file that imports jose.
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import type { SsoSettings } from '../lib/config';

/** A person whose identity serve verified. */
export interface Identity {
  user: string;
  verifiedBy: 'sso' | 'token';
  groups: string[];
  /** SSO: the account, `issuer#sub`, one person whatever name the claims show. */
  subject?: string;
}

export type SsoResult = { ok: true; identity: Identity } | { ok: false; why: string };

const MAX_GROUPS = 256;
const MAX_NAME = 256;

/**
 * The person and groups an ID token's (already verified) claims name: `userClaim` if configured,
 * else preferred_username, then email, but an email only when the provider says it verified it
 * (`email_verified: true`: anyone can type an address into an account); groups from
 * `groupsClaim`, a list of strings (or one string), absent meaning none. The account itself,
 * issuer and `sub`, is the subject: two names of one account are one person.
 */
export function identityFromClaims(claims: JWTPayload, o: Pick<SsoSettings, 'userClaim' | 'groupsClaim'>): SsoResult {
  const names = o.userClaim ? [o.userClaim] : ['preferred_username', 'email'];
  const claimed = (n: string) => (Object.hasOwn(claims, n) && (n !== 'email' || claims.email_verified === true) ? claims[n] : undefined);
  const name = names.map(claimed).find((v) => typeof v === 'string' && v.length > 0);
  if (typeof name !== 'string') return { ok: false, why: `the ID token has no ${names.map((n) => (n === 'email' ? 'verified email' : n)).join(' or ')} claim naming the person` };
  if (name.length > MAX_NAME || /[\p{Cc}\s]/u.test(name)) return { ok: false, why: 'the ID token names the person with whitespace, control characters or too long a name' };
  const raw = Object.hasOwn(claims, o.groupsClaim) ? claims[o.groupsClaim] : undefined;
  const groups = raw === undefined || raw === null ? [] : typeof raw === 'string' ? [raw] : raw;
  if (!Array.isArray(groups) || groups.length > MAX_GROUPS || !groups.every((g) => typeof g === 'string' && g.length > 0 && g.length <= MAX_NAME)) {
    return { ok: false, why: `the ID token's ${o.groupsClaim} claim is not a list of group names` };
  }
  const subject = typeof claims.iss === 'string' && typeof claims.sub === 'string' && claims.sub.length > 0 ? `${claims.iss}#${claims.sub}`.slice(0, 1024) : undefined;
  return { ok: true, identity: { user: name, verifiedBy: 'sso', groups: [...new Set(groups as string[])], ...(subject ? { subject } : {}) } };
}

export interface SsoVerifier {
  /** The identity an `Authorization: Bearer <ID token>` header proves, or why it proves none. */
  verify(authorization: string | undefined): Promise<SsoResult>;
}

/** Discovery, then the issuer's key set; fetched on first use, and again after a failure. */
function keysOf(issuer: string): () => Promise<ReturnType<typeof createRemoteJWKSet>> {
  let keys: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  return () => {
    keys ??= (async () => {
      const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
      const res = await fetch(url, { signal: AbortSignal.timeout(5000), redirect: 'error' });
      if (!res.ok) throw new Error(`${url} answered ${res.status}`);
      const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
      // OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for.
      if (doc.issuer !== issuer) throw new Error(`${url} names issuer ${JSON.stringify(doc.issuer)}, not ${issuer}`);
      if (typeof doc.jwks_uri !== 'string' || !URL.canParse(doc.jwks_uri)) throw new Error(`${url} has no jwks_uri`);
      return createRemoteJWKSet(new URL(doc.jwks_uri), { timeoutDuration: 5000, cooldownDuration: 30_000 });
    })().catch((err: unknown) => {
      keys = undefined;
      throw err;
    });
    return keys;
  };
}

export function ssoVerifier(o: SsoSettings, log: (line: string) => void = () => undefined): SsoVerifier {
  const keys = keysOf(o.issuer);
  return {
    async verify(authorization) {
      const token = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(authorization ?? '')?.[1];
      if (!token || token.split('.').length !== 3) return { ok: false, why: 'no ID token: sign in through single sign-on' };
      let jwks;
      try {
        jwks = await keys();
      } catch (err) {
        log(`single sign-on: cannot read the provider's keys: ${(err as Error).message}`);
        return { ok: false, why: "the identity provider's keys could not be read" };
      }
      try {
        const { payload } = await jwtVerify(token, jwks, { issuer: o.issuer, audience: o.clientId, algorithms: o.algorithms, requiredClaims: ['exp', 'iat', 'sub'], clockTolerance: 30 });
        return identityFromClaims(payload, o);
      } catch (err) {
        if (err instanceof errors.JWTExpired) return { ok: false, why: 'the ID token has expired: sign in again' };
        if (err instanceof errors.JOSEError) return { ok: false, why: `the ID token is not valid (${err.code})` };
        log(`single sign-on: verifying an ID token failed: ${(err as Error).message}`);
        return { ok: false, why: 'the ID token could not be verified' };
      }
    },
  };
}
