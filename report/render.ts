// The incident report as Markdown (for the incident issue) and as one self-contained HTML page.
import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { isGoodOutcome } from '../decisions/vocabulary';
import { mark } from '../lib/glyphs';
import { forTerminalLine } from '../lib/terminal';
import type { IncidentReport, TimelineEntry } from './incident';
import { formatDuration } from '../decisions/duration';
import { buildTimeline, stepTotals, timelineSvg } from './timeline';

const hhmmss = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');

/** The questions every post-incident review asks, answered from history. */
export function answers(r: IncidentReport): [string, string][] {
  const i = r.input;
  const gate = r.decisions.filter((d) => d.action === 'approve' || d.action === 'reject');
  const deleted = r.unlock?.actions.map((a) => `${a.objectName} (revision ${a.revision}, uid ${a.uid}): ${a.outcome}; backup ${a.backupName}`).join('; ');
  return [
    ['Release', i ? `${i.namespace}/${i.release} on cluster ${i.cluster}` : '(unknown)'],
    ['What was stuck', r.stuck ?? 'nothing was found stuck'],
    ['Outcome', `${r.outcome ?? r.status}${r.reason ? `: ${r.reason}` : ''}`],
    ['Who decided', gate.length ? gate.map(whoDecided).join('; ') : 'no approval decision'],
    ['Already applied when approved', r.applied ?? 'not read'],
    ['What was backed up and deleted', deleted ?? 'nothing'],
    ['Verified', r.verification ? `${r.verification.verified ? 'yes' : 'NO'}: ${r.verification.summary}` : 'not reached'],
    ['Dry run of the re-run job', r.rerun ? `${r.rerun.diff.verdict} (job ${r.rerun.job.id}, ${r.rerun.job.status}): ${r.rerun.diff.reason}` : 'not run'],
    ['What the re-run changed on the cluster', r.clusterChange ?? 'not compared'],
    ['Started', `${hhmmss(r.startedAt)} by ${i?.trigger.source ?? '?'} (${i?.trigger.by ?? '?'})`],
    ['Ended', r.endedAt ? `${hhmmss(r.endedAt)} (${r.status})` : 'still running'],
  ];
}

/** "alice approved at … (sso via page, groups sre; plan 1a2b…), because …". */
function whoDecided(d: IncidentReport['decisions'][number]): string {
  const how = d.verifiedBy ? `${d.verifiedBy}${d.via ? ` via ${d.via}` : ''}${d.groups?.length ? `, groups ${d.groups.join(', ')}` : ''}` : d.channel;
  return `${d.by} ${d.action === 'approve' ? 'approved' : 'rejected'} at ${hhmmss(d.at)} (${how}${d.plan ? `; plan ${d.plan}` : ''}), because ${d.reason}`;
}


/**
 * Quoted text (names, reasons, job names, log lines) as literal Markdown: one line, no control
 * characters, and what Markdown (GitHub's and GitLab's) would act on backslash-escaped, so a
 * release note cannot become a link, an autolink, an image, HTML, a code span, emphasis, a list or
 * heading, or a new table column.
 */
export function md(s: string): string {
  return forTerminalLine(s)
    .replace(/[\\`*_[\]<>|~!&]/g, '\\$&')
    .replace(/:\/\//g, '\\://')
    .replace(/\b(www)\./gi, '$1\\.')
    .replace(/^(\d+)([.)])/, '$1\\$2')
    .replace(/^[#+=-]/, '\\$&');
}

export function renderMarkdown(r: IncidentReport): string {
  const lines = [`# Incident ${md(r.incident)}`, '', '| | |', '|---|---|'];
  for (const [k, v] of answers(r)) lines.push(`| ${k} | ${md(v)} |`);
  lines.push('', '## What was checked', '');
  for (const c of r.checks) lines.push(`- ${hhmmss(c.at)} ${mark(c.ok)} ${md(c.what)}`);
  lines.push('', '## Evidence shown at approval', '');
  if (r.shownAtApproval.length === 0) lines.push('- (no approval was asked for)');
  for (const s of r.shownAtApproval) lines.push(`- ${md(s)}`);
  if (r.escalations.length) {
    lines.push('', '## Escalations', '');
    for (const e of r.escalations) lines.push(`- ${hhmmss(e.at)} ${md(e.what)}`);
  }
  if (r.rerun?.diff.releases.some((x) => x.changes.length)) {
    lines.push('', '## Objects the dry run would change', '');
    for (const rel of r.rerun.diff.releases) for (const c of rel.changes) lines.push(`- ${md(`${rel.release ?? ''} ${c.kind} ${c.namespace}/${c.name}: ${c.change}`)}`);
  }
  const drawn = buildTimeline(r.evidence ?? []);
  if (drawn) {
    lines.push('', '## Where the time went', '', '| step | time | of it, waiting for a human |', '|---|---|---|');
    for (const t of stepTotals(drawn)) lines.push(`| ${md(t.step)} | ${formatDuration(t.total)} | ${t.human ? formatDuration(t.human) : ''} |`);
  }
  lines.push('', '## Timeline', '', '| time | | event |', '|---|---|---|');
  for (const t of r.timeline) lines.push(`| ${hhmmss(t.at)} | ${mark(t.ok)} | ${md(t.what)} |`);
  return lines.join('\n') + '\n';
}

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

function list(items: TimelineEntry[]): Html {
  return html`<ul>${items.map((c) => html`<li class="${c.ok === false ? 'bad' : c.ok ? 'good' : ''}"><time>${hhmmss(c.at)}</time> ${mark(c.ok)} ${c.what}</li>`)}</ul>`;
}

/** Where the time went, drawn (report/timeline.ts escapes its own text): once the incident has ended. */
function picture(r: IncidentReport): Html | string {
  const svg = timelineSvg(buildTimeline(r.evidence ?? []));
  return svg ? html`<h2>Where the time went</h2><figure id="timeline">${raw(svg)}</figure>` : '';
}

export function renderHtml(r: IncidentReport): string {
  const outcomeClass = isGoodOutcome(r.outcome) ? 'good' : 'bad';
  const page = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Incident ${r.incident}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.35rem .6rem;border-bottom:1px solid #eee}
th{width:16rem;color:#555;font-weight:600}.good{color:#17662d}.bad{color:#a4161a}
ul{padding-left:1.2rem}li{margin:.2rem 0}time{color:#666;font-variant-numeric:tabular-nums;margin-right:.4rem}
.outcome{display:inline-block;padding:.15rem .6rem;border-radius:1rem;background:#f3f3f3;font-weight:600}
</style></head><body>
<h1>Incident <code>${r.incident}</code></h1>
<p class="outcome ${outcomeClass}" id="outcome">${r.outcome ?? r.status}</p>
<table id="answers">${answers(r).map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`)}</table>
<h2>What was checked</h2>${list(r.checks)}
<h2>Evidence shown at approval</h2><ul>${r.shownAtApproval.length ? r.shownAtApproval.map((s) => html`<li>${s}</li>`) : html`<li>(no approval was asked for)</li>`}</ul>
${r.escalations.length ? html`<h2>Escalations</h2>${list(r.escalations)}` : ''}
${picture(r)}<h2>Timeline</h2>${list(r.timeline)}
</body></html>
`;
  // Nothing in the page is asynchronous, so hono hands back the finished string.
  if (page instanceof Promise) throw new Error('the incident page must render synchronously');
  return page.toString();
}
