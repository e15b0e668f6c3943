// The approval page's HTML. hono/html's `html` template escapes every interpolated value (text
// and attribute alike); only nested `html` fragments pass through unescaped.
import { html, raw } from 'hono/html';
import { describeDecider } from '../decisions/approval';
import { MAX_REASON_CHARS } from '../decisions/decision-limits';
import { formatDuration } from '../decisions/duration';
import { HOLD_ANSWERS, isGoodOutcome, releaseOfWorkflowId, type Hold } from '../decisions/vocabulary';
import { VERDICT_WORDS } from '../decisions/live-objects';
import { buildTimeline, timelineSvg } from '../report/timeline';
import type { RemediationStatus } from '../workflows/definitions';
import type { IncidentRow } from './incident-list';
import type { IncidentRun } from './release-page';
import type { Viewer } from './session';

export type Html = ReturnType<typeof html>;

const STYLE = `body{font:15px/1.45 system-ui,sans-serif;max-width:72rem;margin:1.5rem auto;padding:0 1rem;color:#1d1d1f}
header{display:flex;justify-content:space-between;align-items:center;border-bottom:1px solid #ddd;margin-bottom:1rem}
h1{font-size:1.3rem}h2{font-size:1.05rem;margin-top:1.5rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.35rem .6rem;border-bottom:1px solid #eee}
th{width:14rem;color:#555}.good{color:#17662d}.bad{color:#a4161a}.wait{background:#fff7e0;padding:.6rem;border-radius:.4rem}
textarea{width:100%;min-height:4rem}button{font:inherit;padding:.35rem 1rem;margin-right:.5rem}
.approve{background:#17662d;color:#fff;border:0;border-radius:.3rem}.reject{background:#a4161a;color:#fff;border:0;border-radius:.3rem}
.error{background:#fde8e8;color:#a4161a;padding:.6rem;border-radius:.4rem}.logout{display:inline}
ul{padding-left:1.2rem}code{font-size:.9em}
.cluster strong,.where .cluster{font-size:1.1rem;background:#1d1d1f;color:#fff;padding:.1rem .45rem;border-radius:.3rem}
.release strong,.where .release{font-size:1.1rem;font-weight:700}.where{margin:.3rem 0 1rem}
tr.hold td{background:#fff7e0}figure{margin:0;overflow-x:auto}`;

export function layout(title: string, body: Html, s?: Viewer, refresh?: { seconds: number; url: string }): Html {
  const who = s && html`<span id="viewer">${s.user}${s.verifiedBy === 'sso' ? html` (single sign-on${s.groups.length ? `: ${s.groups.join(', ')}` : ''})` : ''}</span>`;
  const logout = s && html`<form method="post" action="/logout" class="logout"><input type="hidden" name="csrf" value="${s.csrf}">${who} <button>${s.verifiedBy === 'sso' ? 'Sign out' : 'Log out'}</button></form>`;
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
${refresh && html`<meta http-equiv="refresh" content="${refresh.seconds}; url=${refresh.url}">`}<title>${title} · helm-unstuck</title>
<style>${raw(STYLE)}</style></head><body><header><h1>helm-unstuck</h1>${logout}</header>${body}</body></html>`;
}

/** A page that only says what went wrong. */
export const errorView = (title: string, message: string, s?: Viewer) => layout(title, html`<p class="error">${message}</p>`, s);

export const loginView = (next: string, error?: string) =>
  layout('Log in', html`
<h2>Log in</h2>${error && html`<p class="error" role="alert">${error}</p>`}
<form method="post" action="/login"><input type="hidden" name="next" value="${next}">
<label>Your helm-unstuck token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Log in</button></form>`);

/** "03:12 UTC (17m ago)". */
const since = (ms: number, now: number) => `${new Date(ms).toISOString().slice(11, 16)} UTC (${formatDuration(now - ms)} ago)`;

/** The cluster as prominent as the release: an approver must not take production for staging. */
function where(r: IncidentRow): Html {
  const link = (text: string) => html`<a href="/incidents/${r.workflowId}">${text}</a>`;
  return r.target
    ? html`<td class="cluster">cluster <strong>${r.target.cluster}</strong></td><td class="release"><strong>${link(`${r.target.namespace}/${r.target.release}`)}</strong></td>`
    : html`<td class="cluster">cluster unknown</td><td class="release">${link(r.workflowId)}</td>`;
}

/** Running incidents: those waiting for a human first (for whom, since when), then those working on their own. */
export function incidentsView(s: Viewer, rows: IncidentRow[], now: number): Html {
  const holds = rows.filter((r) => r.hold);
  const working = rows.filter((r) => !r.hold);
  const held = holds.map(
    (r) => html`<tr class="hold">${where(r)}<td><strong>${r.hold!.hold}</strong>: waiting for ${r.hold!.waitingFor}</td><td>since ${since(r.hold!.since ?? r.started, now)}</td></tr>`,
  );
  const busy = working.map((r) => html`<tr>${where(r)}<td>${r.unknown ? 'status not readable now' : `working: ${r.step ?? ''}`}</td><td>started ${since(r.started, now)}</td></tr>`);
  return layout(
    'Incidents',
    html`<div id="incidents"><h2>Waiting for a human</h2>${held.length ? html`<table id="holds">${held}</table>` : html`<p>Nobody is waited for.</p>`}
<h2>Working on their own</h2>${busy.length ? html`<table id="working">${busy}</table>` : html`<p>No other running incidents.</p>`}</div>`,
    s,
  );
}

/** Button labels; which action each button sends is HOLD_ANSWERS'. */
const LABELS: Record<Hold, { go: string; stop: string }> = {
  approval: { go: 'Approve', stop: 'Reject' },
  'ci-busy': { go: 'Continue despite busy CI', stop: 'Abort' },
  unhealthy: { go: 'Override: continue', stop: 'Stop' },
  repeated: { go: 'Cause looked at: continue', stop: 'Stop' },
};
const buttons = (hold: Hold) =>
  (['go', 'stop'] as const).map((k) => html`<button type="submit" name="action" value="${HOLD_ANSWERS[hold][k]}" class="${k === 'go' ? 'approve' : 'reject'}">${LABELS[hold][k]}</button>`);

const verdict = (ok: boolean | undefined) => (ok === undefined ? '' : ok ? 'good' : 'bad');

function decisionForm(id: string, st: RemediationStatus, s: Viewer): Html | undefined {
  if (st.hold) {
    return html`<div class="wait" id="decision"><p><strong>Waiting for:</strong> ${st.waitingFor ?? ''}</p>
<form method="post" action="/incidents/${id}/decide"><input type="hidden" name="csrf" value="${s.csrf}">${st.holdSeq ? html`<input type="hidden" name="hold" value="${st.holdSeq}">` : undefined}${st.hold === 'approval' && st.view.plan ? html`<input type="hidden" name="plan" value="${st.view.plan.digest}">` : undefined}
<label>Why (recorded with your name, ${s.user}) <textarea name="reason" required maxlength="${MAX_REASON_CHARS}"></textarea></label>
${buttons(st.hold)}
</form></div>`;
  }
  const retrying = st.retrying ? html`<p class="wait" id="retrying">${st.retrying}</p>` : undefined;
  return st.waitingFor ? html`<p class="wait">Working: waiting for ${st.waitingFor}</p>${retrying}` : retrying;
}

/** One incident: what a human needs to decide, and the form to decide with. */
export function incidentView(id: string, st: RemediationStatus, s: Viewer, now: number, o: { error?: string; refresh?: { seconds: number; url: string } } = {}): Html {
  const v = st.view;
  const row = (k: string, val: string | undefined, ok?: boolean) => val && html`<tr><th>${k}</th><td class="${verdict(ok)}">${val}</td></tr>`;
  const age = v.release?.pendingSince ? ` (pending for ${formatDuration(now - Date.parse(v.release.pendingSince))})` : '';
  const plan = v.plan?.records.map((r) => html`<li><code>${r.objectName}</code> (revision ${r.revision}, ${r.status}, uid <code>${r.uid}</code>) → backup <code>${r.backupName}</code></li>`);
  const target = releaseOfWorkflowId(id);
  const svg = timelineSvg(buildTimeline(st.evidence ?? [], { ...(st.outcome ? {} : { end: now }), ...(st.hold && st.holdSince ? { openSince: st.holdSince } : {}) }));
  const body = html`<p><a href="/incidents">← incidents</a></p><h2>Incident <code>${id}</code></h2>
${target && html`<p class="where" id="where"><span class="cluster">cluster ${target.cluster}</span> <span class="release">${target.namespace}/${target.release}</span></p>`}
${o.error && html`<p class="error" role="alert">${o.error}</p>`}
<table id="summary">
${row('Step', st.step)}${row('Outcome', st.outcome ? `${st.outcome}: ${st.reason ?? ''}` : undefined, isGoodOutcome(st.outcome))}
${row('CI', v.ci?.summary, v.ci?.quiet)}${row('Deployments', v.health?.summary, v.health?.healthy)}
${row('Stuck release', v.release ? `${v.release.summary}${age}` : undefined)}
${row('Already applied', v.applied?.summary, v.applied ? !v.applied.objects.some((o) => o.verdict === 'drift' || o.verdict === 'missing' || o.verdict === 'unreadable') : undefined)}
${row('Verified', v.verification?.summary, v.verification?.verified)}${row('Dry run', v.dryRun ? `${v.dryRun.verdict} (job ${v.dryRun.jobId}): ${v.dryRun.reason}` : undefined, v.dryRun ? v.dryRun.verdict === 'no-op' : undefined)}
${row('Cluster after the re-run', v.clusterChange?.summary, v.clusterChange ? v.clusterChange.change === 'nothing' || v.clusterChange.change === 'completed' : undefined)}
${row('Escalations', st.escalations ? String(st.escalations) : undefined)}
</table>
${v.health?.deployments.length ? html`<h2>Each Deployment</h2><ul id="deployments">${v.health.deployments.map((d) => html`<li>${d}</li>`)}</ul>` : undefined}
${v.applied?.objects.length ? html`<h2>Each object of the release, live</h2><ul id="applied">${v.applied.objects.map((o) => html`<li>${o.kind} <code>${o.namespace}/${o.name}</code>: ${VERDICT_WORDS[o.verdict]}</li>`)}</ul>` : undefined}
${plan?.length ? html`<h2>On approval, helm-unstuck will ${v.plan?.strategy === 'delete' ? 'back up, then delete' : 'back up, then mark failed'} (plan <code id="plan-digest">${v.plan?.digest}</code>)</h2><ul id="plan">${plan}</ul>` : undefined}
${st.approvals?.length ? html`<h2>Decisions at the approval gate</h2><ul id="approvals">${st.approvals.map((d) => html`<li>${describeDecider(d)} ${d.action === 'approve' ? 'approved' : 'rejected'}${d.plan ? html` plan <code>${d.plan}</code>` : ''} via ${d.via} at ${d.at.slice(11, 19)}: ${d.reason}</li>`)}</ul>` : undefined}
${decisionForm(id, st, s)}
${svg ? html`<h2>Where the time went</h2><figure id="timeline">${raw(svg)}</figure>` : undefined}
<h2>Evidence</h2><ul id="evidence">${st.evidence.map((e) => html`<li class="${verdict(e.ok)}">${e.at.slice(11, 19)} [${e.step}] ${e.summary}</li>`)}</ul>`;
  return layout(id, body, s, o.refresh);
}

/** A release's incidents (server/release-page.ts), newest first; the newest is the incident page's. */
export function releaseView(
  s: Viewer,
  r: { cluster: string; namespace: string; release: string; page: string; incidentPage: string; runs: IncidentRun[]; now: number; refreshSeconds: number },
): Html {
  const when = (d: Date) => `${formatDuration(r.now - d.getTime())} ago`;
  const rows = r.runs.map(
    (run, i) => html`<tr><td>${i === 0 ? html`<a href="${r.incidentPage}">latest incident</a>` : html`earlier incident <code>${run.runId}</code>`}</td><td>${run.status.toLowerCase().replaceAll('_', ' ')}</td><td>started ${when(run.startTime)}${run.closeTime ? `, ended ${when(run.closeTime)}` : ''}</td></tr>`,
  );
  // None yet: the alert can arrive before its incident starts, so look again until one does.
  const none = html`<p id="no-incident">No incident for this release yet. This page looks again every ${r.refreshSeconds} seconds.</p>`;
  const body = html`<p><a href="/incidents">← incidents</a></p><h2>Release <code>${r.namespace}/${r.release}</code> in cluster <code>${r.cluster}</code></h2>
${rows.length ? html`<table id="release-incidents">${rows}</table>` : none}`;
  return layout(`${r.namespace}/${r.release} in ${r.cluster}`, body, s, rows.length ? undefined : { seconds: r.refreshSeconds, url: r.page });
}
