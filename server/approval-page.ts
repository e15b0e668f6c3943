// The approval page: a list of incidents, and for one incident the evidence a human needs
// (CI, each Deployment's health, the stuck revision and its age, what will be backed up and
// deleted, later the dry-run verdict) with approve and reject buttons.
//
// Login: each user has a token; the config holds its SHA-256 only. A session is an HMAC-signed
// cookie (HttpOnly, SameSite=Strict) carrying the user and a CSRF token; every form carries the
// CSRF token and every POST must present it (and, when the browser sends one, a same-origin
// Origin). The decision is recorded under the logged-in user's name; the workflow itself still
// checks that name against its approvers.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { formatDuration } from '../decisions/duration';
import { WORKFLOW_TYPE, decide } from '../client/remediation';
import { statusQuery, type RemediationStatus } from '../workflows/definitions';
import { HOLD_ANSWERS, isGoodOutcome, type DecisionAction, type Hold } from '../decisions/remediation';
import { escapeHtml, constantTimeEqual } from '../lib/text';
import { readBody, type Handler } from './http';

const COOKIE = 'hu_session';
const SESSION_SECONDS = 8 * 3600;

export interface ApprovalPageOptions {
  client: Client;
  /** user name → SHA-256 hex of the user's token */
  users: Record<string, string>;
  secret?: string;
  /** Set Secure on the cookie (when served over https, e.g. behind a TLS proxy). */
  secureCookie?: boolean;
  now?: () => number;
}

interface Session {
  user: string;
  csrf: string;
  exp: number;
}

const esc = escapeHtml;
const same = constantTimeEqual;

/** While an incident works on its own (not waiting for a human), its page reloads itself this often. */
const REFRESH_SECONDS = 3;

function page(title: string, body: string, user?: string, csrf?: string, refresh?: { seconds: number; url: string }): string {
  const logout = user && csrf ? `<form method="post" action="/logout" class="logout"><input type="hidden" name="csrf" value="${esc(csrf)}">${esc(user)} <button>Log out</button></form>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
${refresh ? `<meta http-equiv="refresh" content="${refresh.seconds}; url=${esc(refresh.url)}">` : ''}<title>${esc(title)} · helm-unstuck</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:72rem;margin:1.5rem auto;padding:0 1rem;color:#1d1d1f}
header{display:flex;justify-content:space-between;align-items:center;border-bottom:1px solid #ddd;margin-bottom:1rem}
h1{font-size:1.3rem}h2{font-size:1.05rem;margin-top:1.5rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.35rem .6rem;border-bottom:1px solid #eee}
th{width:14rem;color:#555}.good{color:#17662d}.bad{color:#a4161a}.wait{background:#fff7e0;padding:.6rem;border-radius:.4rem}
textarea{width:100%;min-height:4rem}button{font:inherit;padding:.35rem 1rem;margin-right:.5rem}
.approve{background:#17662d;color:#fff;border:0;border-radius:.3rem}.reject{background:#a4161a;color:#fff;border:0;border-radius:.3rem}
.error{background:#fde8e8;color:#a4161a;padding:.6rem;border-radius:.4rem}.logout{display:inline}
ul{padding-left:1.2rem}code{font-size:.9em}
</style></head><body><header><h1>helm-unstuck</h1>${logout}</header>${body}</body></html>`;
}

export function approvalPage(o: ApprovalPageOptions): Handler {
  const secret = o.secret ?? randomBytes(32).toString('hex');
  const now = o.now ?? Date.now;
  const sign = (data: string) => createHmac('sha256', secret).update(data).digest('base64url');

  function session(req: IncomingMessage): Session | undefined {
    const raw = (req.headers.cookie ?? '').split(/;\s*/).find((c) => c.startsWith(`${COOKIE}=`))?.slice(COOKIE.length + 1);
    if (!raw) return undefined;
    const [data, mac] = raw.split('.');
    if (!data || !mac || !same(sign(data), mac)) return undefined;
    try {
      const s = JSON.parse(Buffer.from(data, 'base64url').toString('utf8')) as Session;
      return s.exp > now() / 1000 && o.users[s.user] ? s : undefined;
    } catch {
      return undefined;
    }
  }

  function send(res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      // same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on form posts.
      'referrer-policy': 'same-origin',
      ...headers,
    });
    res.end(html);
  }
  const redirect = (res: ServerResponse, to: string, headers: Record<string, string> = {}) => {
    res.writeHead(303, { location: to, 'cache-control': 'no-store', ...headers });
    res.end();
  };

  async function form(req: IncomingMessage): Promise<URLSearchParams> {
    if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) throw new Error('not a form post');
    return new URLSearchParams((await readBody(req, 16 * 1024)).toString('utf8'));
  }

  /** POSTs must come from our own pages: a CSRF token bound to the session, and a same-origin Origin. */
  function csrfOk(req: IncomingMessage, s: Session, f: URLSearchParams): boolean {
    const origin = req.headers.origin;
    if (origin && origin !== 'null' && new URL(origin).host !== req.headers.host) return false;
    if (origin === 'null') return false;
    return same(f.get('csrf') ?? '', s.csrf);
  }

  function loginPage(res: ServerResponse, error?: string, next = '/incidents'): void {
    send(res, error ? 401 : 200, page('Log in', `
<h2>Log in</h2>${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/login"><input type="hidden" name="next" value="${esc(next)}">
<label>Your helm-unstuck token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Log in</button></form>`));
  }

  async function incidentsPage(res: ServerResponse, s: Session): Promise<void> {
    const rows: string[] = [];
    for await (const w of o.client.workflow.list({ query: `WorkflowType = '${WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'` })) {
      rows.push(`<tr><td><a href="/incidents/${esc(w.workflowId)}">${esc(w.workflowId)}</a></td><td>started ${esc(formatDuration(now() - w.startTime.getTime()))} ago</td></tr>`);
      if (rows.length >= 500) break;
    }
    send(res, 200, page('Incidents', `<h2>Running incidents</h2>${rows.length ? `<table id="incidents">${rows.join('')}</table>` : '<p>No running incidents.</p>'}`, s.user, s.csrf));
  }

  // Button labels; which action each button sends is HOLD_ANSWERS'.
  const LABELS: Record<Hold, { go: string; stop: string }> = {
    approval: { go: 'Approve', stop: 'Reject' },
    'ci-busy': { go: 'Continue despite busy CI', stop: 'Abort' },
    unhealthy: { go: 'Override: continue', stop: 'Stop' },
  };
  const buttons = (hold: Hold) =>
    (['go', 'stop'] as const).map((k) => `<button type="submit" name="action" value="${HOLD_ANSWERS[hold][k]}" class="${k === 'go' ? 'approve' : 'reject'}">${esc(LABELS[hold][k])}</button>`).join('');

  function incidentBody(id: string, st: RemediationStatus, s: Session, error?: string): string {
    const v = st.view;
    const row = (k: string, val: string | undefined, ok?: boolean) => (val ? `<tr><th>${esc(k)}</th><td class="${ok === undefined ? '' : ok ? 'good' : 'bad'}">${esc(val)}</td></tr>` : '');
    const age = v.release?.pendingSince ? ` (pending for ${formatDuration(now() - Date.parse(v.release.pendingSince))})` : '';
    const plan = v.plan?.records.map((r) => `<li><code>${esc(r.objectName)}</code> (revision ${r.revision}, ${esc(r.status)}, uid <code>${esc(r.uid)}</code>) → backup <code>${esc(r.backupName)}</code></li>`).join('');
    const decideForm = st.hold
      ? `<div class="wait" id="decision"><p><strong>Waiting for:</strong> ${esc(st.waitingFor ?? '')}</p>
<form method="post" action="/incidents/${esc(id)}/decide"><input type="hidden" name="csrf" value="${esc(s.csrf)}">
<label>Why (recorded with your name, ${esc(s.user)}) <textarea name="reason" required></textarea></label>
${buttons(st.hold)}
</form></div>`
      : st.waitingFor
        ? `<p class="wait">Working: waiting for ${esc(st.waitingFor)}</p>`
        : '';
    return `<p><a href="/incidents">← incidents</a></p><h2>Incident <code>${esc(id)}</code></h2>
${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
<table id="summary">
${row('Step', st.step)}${row('Outcome', st.outcome ? `${st.outcome}: ${st.reason ?? ''}` : undefined, isGoodOutcome(st.outcome))}
${row('CI', v.ci?.summary, v.ci?.quiet)}${row('Deployments', v.health?.summary, v.health?.healthy)}
${row('Stuck release', v.release ? `${v.release.summary}${age}` : undefined)}
${row('Verified', v.verification?.summary, v.verification?.verified)}${row('Dry run', v.dryRun ? `${v.dryRun.verdict} (job ${v.dryRun.jobId}): ${v.dryRun.reason}` : undefined, v.dryRun ? v.dryRun.verdict === 'no-op' : undefined)}
${row('Escalations', st.escalations ? String(st.escalations) : undefined)}
</table>
${v.health?.deployments.length ? `<h2>Each Deployment</h2><ul id="deployments">${v.health.deployments.map((d) => `<li>${esc(d)}</li>`).join('')}</ul>` : ''}
${plan ? `<h2>On approval, helm-unstuck will ${v.plan?.strategy === 'delete' ? 'back up, then delete' : 'back up, then mark failed'}</h2><ul id="plan">${plan}</ul>` : ''}
${decideForm}
<h2>Evidence</h2><ul id="evidence">${st.evidence.map((e) => `<li class="${e.ok === false ? 'bad' : e.ok ? 'good' : ''}">${esc(e.at.slice(11, 19))} [${esc(e.step)}] ${esc(e.summary)}</li>`).join('')}</ul>`;
  }

  async function incidentPage(res: ServerResponse, s: Session, id: string, error?: string): Promise<void> {
    let st: RemediationStatus;
    try {
      st = await o.client.workflow.getHandle(id).query(statusQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return send(res, 404, page('Not found', `<p class="error">No incident ${esc(id)}.</p>`, s.user, s.csrf));
      throw err;
    }
    // Reload while the workflow works on its own; never while a human is writing a decision, once
    // it has ended, or over an error the human has to read. By URL: an error page answers a POST.
    const working = !st.outcome && !st.hold && !error;
    const refresh = working ? { seconds: REFRESH_SECONDS, url: `/incidents/${id}` } : undefined;
    send(res, error ? 409 : 200, page(id, incidentBody(id, st, s, error), s.user, s.csrf, refresh));
  }

  return async (req, res, url) => {
    const path = url.pathname;
    if (path === '/') {
      redirect(res, '/incidents');
      return true;
    }
    if (path === '/login') {
      if (req.method === 'GET') return loginPage(res, undefined, url.searchParams.get('next') ?? '/incidents'), true;
      if (req.method !== 'POST') return false;
      let f: URLSearchParams;
      try {
        f = await form(req);
      } catch {
        return loginPage(res, 'send the login form'), true;
      }
      const digest = createHash('sha256').update(f.get('token') ?? '').digest('hex');
      // Compare against every user, in constant time each, so timing says nothing about who exists.
      let user: string | undefined;
      for (const [name, h] of Object.entries(o.users)) if (same(h, digest)) user = name;
      if (!user) return loginPage(res, 'unknown token'), true;
      const sess: Session = { user, csrf: randomBytes(24).toString('base64url'), exp: Math.floor(now() / 1000) + SESSION_SECONDS };
      const data = Buffer.from(JSON.stringify(sess)).toString('base64url');
      const next = f.get('next') ?? '/incidents';
      redirect(res, next.startsWith('/incidents') ? next : '/incidents', {
        'set-cookie': `${COOKIE}=${data}.${sign(data)}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_SECONDS}${o.secureCookie ? '; Secure' : ''}`,
      });
      return true;
    }
    if (path !== '/logout' && !path.startsWith('/incidents')) return false;
    const s = session(req);
    if (!s) {
      if (req.method === 'GET') redirect(res, `/login?next=${encodeURIComponent(path)}`);
      else send(res, 401, page('Log in', '<p class="error">Log in first.</p>'));
      return true;
    }
    if (req.method === 'POST') {
      let f: URLSearchParams;
      try {
        f = await form(req);
      } catch {
        send(res, 400, page('Bad request', '<p class="error">Send the form as a browser would.</p>', s.user, s.csrf));
        return true;
      }
      if (!csrfOk(req, s, f)) {
        send(res, 403, page('Forbidden', '<p class="error">This form did not come from this page (CSRF check failed). Reload and try again.</p>', s.user, s.csrf));
        return true;
      }
      if (path === '/logout') {
        redirect(res, '/login', { 'set-cookie': `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0` });
        return true;
      }
      const m = /^\/incidents\/(.+)\/decide$/.exec(path);
      if (!m) return false;
      const id = decodeURIComponent(m[1]!);
      const action = f.get('action') as DecisionAction;
      try {
        await decide(o.client, id, { action, by: s.user, reason: f.get('reason') ?? '' });
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError) return incidentPage(res, s, id, `Not accepted: ${err.cause?.message ?? err.message}`), true;
        if (err instanceof WorkflowNotFoundError) return incidentPage(res, s, id), true;
        throw err;
      }
      redirect(res, `/incidents/${id}`);
      return true;
    }
    if (req.method !== 'GET') return false;
    if (path === '/incidents' || path === '/incidents/') return incidentsPage(res, s), true;
    await incidentPage(res, s, decodeURIComponent(path.slice('/incidents/'.length)));
    return true;
  };
}
