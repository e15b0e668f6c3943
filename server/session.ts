// Approval-page logins. Each user has a token; the config holds its SHA-256 only. A session is a
// signed cookie (hono/cookie: HMAC-SHA256; HttpOnly, SameSite=Strict, Secure unless the operator
// serves plain HTTP on purpose) carrying a session id, the user, a CSRF token every form must
// present, and an expiry. Logging out revokes the session id until it would have expired, so the
// cookie replayed afterwards is refused (the revocations are this process's memory: see Revoked).
// Behind single sign-on there is no cookie of ours: the person is proven by the ID token on each
// request, and their CSRF token is derived from their name with the same secret.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getSignedCookie, setSignedCookie } from 'hono/cookie';
import { z } from '../decisions/validation';
import { constantTimeEqual } from '../lib/text';
import type { Identity } from './sso';

const COOKIE = 'hu_session';
const SESSION_SECONDS = 8 * 3600;
/** Logged-out sessions remembered at once; past this, every session issued so far ends. */
export const MAX_REVOKED = 10_000;

const SessionSchema = z.strictObject({
  /** Random; what logout revokes. */
  sid: z.string().min(16).max(64),
  user: z.string().min(1).max(256),
  csrf: z.string().min(16).max(64),
  /** Issued at, Unix milliseconds. */
  iat: z.number().int(),
  /** Expires at, Unix seconds. */
  exp: z.number().int(),
});
export type Session = z.output<typeof SessionSchema>;

/**
 * Sessions ended by logout, each remembered until it would have expired anyway. Bounded: when
 * MAX_REVOKED are remembered and none has expired, every session issued until now is refused
 * instead (all users log in again), which is always safe. In memory: after a restart with a
 * configured HELM_UNSTUCK_SESSION_SECRET, a logged-out cookie is valid again until it expires.
 */
export class Revoked {
  private readonly ids = new Map<string, number>();
  /** Sessions issued at or before this (Unix ms) are refused. */
  private cutoff = -Infinity;

  constructor(
    private readonly now: () => number,
    private readonly max = MAX_REVOKED,
  ) {}

  revoke(s: Pick<Session, 'sid' | 'exp'>): void {
    if (this.ids.size >= this.max) this.sweep();
    if (this.ids.size >= this.max) {
      this.cutoff = this.now();
      this.ids.clear();
      return;
    }
    this.ids.set(s.sid, s.exp);
  }

  has(s: Pick<Session, 'sid' | 'iat'>): boolean {
    return s.iat <= this.cutoff || this.ids.has(s.sid);
  }

  /** Revocations remembered (for tests). */
  get size(): number {
    return this.ids.size;
  }

  private sweep(): void {
    const nowS = this.now() / 1000;
    for (const [sid, exp] of this.ids) if (exp <= nowS) this.ids.delete(sid);
  }
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
  /** Leave Secure off the cookie: only when the operator serves plain HTTP on purpose (server.insecureCookies). */
  insecureCookies?: boolean;
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
  const revoked = new Revoked(now);
  const cookie = { httpOnly: true, sameSite: 'Strict', path: '/', secure: !o.insecureCookies } as const;
  /** The request's session, if its cookie is ours and well-formed, whatever its state. */
  const decode = async (c: Context): Promise<Session | undefined> => {
    const data = await getSignedCookie(c, secret, COOKIE);
    if (!data) return undefined;
    try {
      const r = SessionSchema.safeParse(JSON.parse(Buffer.from(data, 'base64url').toString('utf8')));
      return r.success ? r.data : undefined;
    } catch {
      return undefined;
    }
  };
  return {
    userFor: (token: string) => userForToken(o.users, token),
    async start(c: Context, user: string): Promise<void> {
      const t = now();
      const s: Session = { sid: randomBytes(18).toString('base64url'), user, csrf: randomBytes(24).toString('base64url'), iat: t, exp: Math.floor(t / 1000) + SESSION_SECONDS };
      await setSignedCookie(c, COOKIE, Buffer.from(JSON.stringify(s)).toString('base64url'), secret, { ...cookie, maxAge: SESSION_SECONDS });
    },
    /** The request's session, if its cookie is ours, unexpired, not logged out, and its user still configured. */
    async read(c: Context): Promise<Session | undefined> {
      const s = await decode(c);
      return s && s.exp > now() / 1000 && !revoked.has(s) && Object.hasOwn(o.users, s.user) ? s : undefined;
    },
    /** Log out: the session is revoked here (its cookie replayed later is refused), and the browser told to drop it. */
    async end(c: Context): Promise<void> {
      const s = await decode(c);
      if (s) revoked.revoke(s);
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
