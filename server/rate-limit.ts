// Failed logins (the page's token form, the API's bearer tokens) are limited per client address
// and overall, in fixed windows: past the limit a wrong token gets 429, not 401. Only failures are
// counted and limited: the credential is judged first, and a valid one always goes through, so a
// flood of bad tokens (from anywhere) can never lock the approvers out. What stops guessing is the
// tokens' entropy; the limit slows the guesser and bounds the work they cost. Memory is bounded: at
// most MAX_CLIENTS addresses are remembered; past that, only the overall limit counts new ones.
export interface LoginLimit {
  perClient: number;
  overall: number;
  windowMs: number;
}

const MAX_CLIENTS = 10_000;

export class LoginLimiter {
  private readonly clients = new Map<string, { start: number; failures: number }>();
  private overall = { start: 0, failures: 0 };

  constructor(
    private readonly limit: LoginLimit,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A login attempt: whose credential this is (`verify`, judged first, whatever the limit), or
   * else a failure: counted, and limited (`retryAfter` seconds) when the client or everyone has
   * failed too often in this window.
   */
  async attempt<T>(client: string, verify: () => T | undefined | Promise<T | undefined>): Promise<{ ok: true; who: T } | { ok: false; retryAfter: number }> {
    const who = await verify();
    if (who !== undefined) return { ok: true, who };
    const retryAfter = this.retryAfter(client);
    if (retryAfter === 0) this.failed(client);
    return { ok: false, retryAfter };
  }

  /** Seconds until this client's failures are no longer limited, or 0 if they are not now. */
  retryAfter(client: string): number {
    const t = this.now();
    const windowEnd = (w: { start: number }) => Math.max(1, Math.ceil((w.start + this.limit.windowMs - t) / 1000));
    if (this.current(this.overall, t) && this.overall.failures >= this.limit.overall) return windowEnd(this.overall);
    const c = this.clients.get(client);
    if (c && this.current(c, t) && c.failures >= this.limit.perClient) return windowEnd(c);
    return 0;
  }

  /** Count a failed attempt. */
  failed(client: string): void {
    const t = this.now();
    if (!this.current(this.overall, t)) this.overall = { start: t, failures: 0 };
    this.overall.failures++;
    let c = this.clients.get(client);
    if (!c || !this.current(c, t)) {
      if (!c && this.clients.size >= MAX_CLIENTS) this.sweep(t);
      if (!c && this.clients.size >= MAX_CLIENTS) return;
      c = { start: t, failures: 0 };
      this.clients.set(client, c);
    }
    c.failures++;
  }

  /** How many client addresses are remembered (for tests). */
  get size(): number {
    return this.clients.size;
  }

  private current(w: { start: number }, t: number): boolean {
    return t - w.start < this.limit.windowMs;
  }

  private sweep(t: number): void {
    for (const [k, w] of this.clients) if (!this.current(w, t)) this.clients.delete(k);
  }
}
