// Approval-page logins. Each user has a token; the config holds its SHA-256 only. A session is a
// signed cookie (hono/cookie: HMAC-SHA256; HttpOnly, SameSite=Strict) carrying the user, a CSRF
// token every form must present, and an expiry.
import { createHash, randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getSignedCookie, setSignedCookie } from 'hono/cookie';
import { constantTimeEqual } from '../lib/text';

const COOKIE = 'hu_session';
const SESSION_SECONDS = 8 * 3600;

export interface Session {
  user: string;
  csrf: string;
  /** Unix seconds. */
  exp: number;
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

export function sessions(o: SessionOptions) {
  const secret = o.secret ?? randomBytes(32).toString('hex');
  const now = o.now ?? Date.now;
  const cookie = { httpOnly: true, sameSite: 'Strict', path: '/', secure: o.secureCookie ?? false } as const;
  return {
    /** Whose token this is. Compared with every user, in constant time each, so timing says nothing about who exists. */
    userFor(token: string): string | undefined {
      const digest = createHash('sha256').update(token).digest('hex');
      let user: string | undefined;
      for (const [name, h] of Object.entries(o.users)) if (constantTimeEqual(h, digest)) user = name;
      return user;
    },
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
  };
}

/** Whether a form presented the session's CSRF token. */
export const csrfTokenMatches = (s: Session, presented: string | null) => constantTimeEqual(presented ?? '', s.csrf);
