// Approval-page logins. Each user has a token; the config holds its SHA-256 only. A session is a
// signed cookie (hono/cookie: HMAC-SHA256; HttpOnly, SameSite=Strict) carrying the user, a CSRF
// token every form must present, and an expiry. Behind single sign-on there is no cookie of ours:
// the person is proven by the ID token on each request, and their CSRF token is derived from
// their name with the same secret.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getSignedCookie, setSignedCookie } from 'hono/cookie';
import { constantTimeEqual } from '../lib/text';
import type { Identity } from './sso';

const COOKIE = 'hu_session';
const SESSION_SECONDS = 8 * 3600;

export interface Session {
  user: string;
  csrf: string;
  /** Unix seconds. */
  exp: number;
}

/** Who is looking at a page, verified, with the CSRF token their forms carry. */
export interface Viewer extends Identity {
  csrf: string;
}

export interface SessionOptions {
  /** user name → SHA-256 hex of the user's token */
  users: Record<string, string>;
  /** Signs the cookies; random (sessions end with the process) when unset. */
  secret?: string;
  /** Set Secure on the cookie (when served over https, e.g. behind a TLS proxy). */
  secureCookie?: boolean;
  now?: () => number;
}

export type Sessions = ReturnType<typeof sessions>;

/** Whose token this is. Compared with every user, in constant time each, so timing says nothing about who exists. */
export function userForToken(users: Record<string, string>, token: string): string | undefined {
  const digest = createHash('sha256').update(token).digest('hex');
  let user: string | undefined;
  for (const [name, h] of Object.entries(users)) if (constantTimeEqual(h, digest)) user = name;
  return user;
}

export function sessions(o: SessionOptions) {
  const secret = o.secret ?? randomBytes(32).toString('hex');
  const now = o.now ?? Date.now;
  const cookie = { httpOnly: true, sameSite: 'Strict', path: '/', secure: o.secureCookie ?? false } as const;
  return {
    userFor: (token: string) => userForToken(o.users, token),
    async start(c: Context, user: string): Promise<void> {
      const s: Session = { user, csrf: randomBytes(24).toString('base64url'), exp: Math.floor(now() / 1000) + SESSION_SECONDS };
      await setSignedCookie(c, COOKIE, Buffer.from(JSON.stringify(s)).toString('base64url'), secret, { ...cookie, maxAge: SESSION_SECONDS });
    },
    /** The request's session, if its cookie is ours, unexpired, and its user still configured. */
    async read(c: Context): Promise<Session | undefined> {
      const data = await getSignedCookie(c, secret, COOKIE);
      if (!data) return undefined;
      try {
        const s = JSON.parse(Buffer.from(data, 'base64url').toString('utf8')) as Session;
        return s.exp > now() / 1000 && Object.hasOwn(o.users, s.user) ? s : undefined;
      } catch {
        return undefined;
      }
    },
    end(c: Context): void {
      deleteCookie(c, COOKIE, cookie);
    },
    /** A person single sign-on verified: their CSRF token is an HMAC of their name. */
    ssoViewer(who: Identity): Viewer {
      return { ...who, csrf: createHmac('sha256', secret).update(`sso-csrf\0${who.user}`).digest('base64url') };
    },
  };
}

export const tokenViewer = (s: Session): Viewer => ({ user: s.user, verifiedBy: 'token', groups: [], csrf: s.csrf });

/** Whether a form presented the viewer's CSRF token. */
export const csrfTokenMatches = (s: Pick<Viewer, 'csrf'>, presented: string | null) => constantTimeEqual(presented ?? '', s.csrf);
