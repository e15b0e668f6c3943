// An incident's timeline as a picture: one bar per runbook step, the time a hold waited for a
// human drawn apart from machine time, each decision and the verification marked, so where the
// minutes went is seen, not read. Derived from the evidence entries alone (times, steps, kinds);
// drawn as a small inline SVG: no script, every text escaped. The page and the report both use it.
import { formatDuration } from '../decisions/duration';
import type { EvidenceEntry } from '../workflows/definitions';

/** From, to: milliseconds since the incident's first entry. */
export interface Span {
  from: number;
  to: number;
}

export interface StepBar {
  step: string;
  spans: Span[];
  /** Within `spans`: from a hold opening to the decision that answered it (or to now, still open). */
  human: Span[];
}

export interface Mark {
  kind: 'decision' | 'verified';
  at: number;
}

export interface Timeline {
  /** Epoch milliseconds of the first entry. */
  start: number;
  length: number;
  steps: StepBar[];
  marks: Mark[];
}

type Timed = EvidenceEntry & { t: number };

/** The step 'done' only carries the outcome: no time is spent there. */
const DRAWN = (step: string) => step !== 'done';

/**
 * The timeline of these entries up to `end` (epoch ms; default: the last entry). `openSince` is
 * when a hold still open now opened: its wait runs to `end`. Entries without a time are left out;
 * no entries, no timeline.
 */
export function buildTimeline(evidence: readonly EvidenceEntry[], o: { end?: number; openSince?: string } = {}): Timeline | undefined {
  const timed = evidence
    .map((e) => ({ ...e, t: typeof e?.at === 'string' ? Date.parse(e.at) : NaN }))
    .filter((e): e is Timed => Number.isFinite(e.t) && typeof e.step === 'string')
    .sort((a, b) => a.t - b.t);
  if (timed.length === 0) return undefined;
  const start = timed[0]!.t;
  const last = Math.max(timed[timed.length - 1]!.t, o.end ?? -Infinity);
  const at = (t: number) => Math.min(Math.max(t, start), last) - start;
  const steps = new Map<string, StepBar>();
  const marks: Mark[] = [];
  for (const run of runs(timed)) {
    const step = run.entries[0]!.step;
    const to = run.next?.t ?? last;
    if (DRAWN(step)) {
      const bar = steps.get(step) ?? { step, spans: [], human: [] };
      steps.set(step, bar);
      bar.spans.push({ from: at(run.entries[0]!.t), to: at(to) });
      bar.human.push(...humanWaits(run.entries).map((w) => ({ from: at(w.from), to: at(w.to) })));
    }
    for (const e of run.entries) {
      if (e.kind === 'decision' && DRAWN(step)) marks.push({ kind: 'decision', at: at(e.t) });
      if (e.kind === 'check' && step === 'verify' && e.ok === true) marks.push({ kind: 'verified', at: at(e.t) });
    }
  }
  const open = o.openSince === undefined ? NaN : Date.parse(o.openSince);
  const current = [...steps.values()].pop();
  if (current && Number.isFinite(open) && open < last) current.human.push({ from: at(open), to: at(last) });
  return { start, length: last - start, steps: [...steps.values()], marks };
}

/** Consecutive entries of one step, with the first entry after them. */
function runs(timed: Timed[]): { entries: Timed[]; next?: Timed }[] {
  const out: { entries: Timed[]; next?: Timed }[] = [];
  for (const e of timed) {
    const cur = out[out.length - 1];
    if (cur && cur.entries[0]!.step === e.step) cur.entries.push(e);
    else {
      if (cur) cur.next = e;
      out.push({ entries: [e] });
    }
  }
  return out;
}

/** In one step: from a wait to the decision that ended it. A wait nobody decided (a timer) is machine time. */
function humanWaits(entries: Timed[]): { from: number; to: number }[] {
  const waits: { from: number; to: number }[] = [];
  let since: number | undefined;
  for (const e of entries) {
    if (e.kind === 'wait' && since === undefined) since = e.t;
    if (e.kind === 'decision' && since !== undefined) {
      waits.push({ from: since, to: e.t });
      since = undefined;
    }
  }
  return waits;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Text or attribute value, safe in SVG (XML) and in HTML. */
export const esc = (s: string): string => String(s).replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const sum = (spans: Span[]) => spans.reduce((n, s) => n + Math.max(0, s.to - s.from), 0);

/** Each step's time in all and, of it, the time spent waiting for a human (milliseconds). */
export const stepTotals = (t: Timeline): { step: string; total: number; human: number }[] => t.steps.map((b) => ({ step: b.step, total: sum(b.spans), human: sum(b.human) }));
const COLORS = { machine: '#6b8fb5', human: '#e09a1f', decision: '#a4161a', verified: '#17662d' } as const;
// Wide enough for the longest totals text at 12px ("2h05m (2h03m waiting for a human)").
const [W, LABEL, TOTALS, ROW] = [760, 100, 230, 22];

/** The timeline as an inline <svg> (a string of escaped markup), or '' when there is nothing to draw. */
export function timelineSvg(t: Timeline | undefined): string {
  if (!t || t.steps.length === 0) return '';
  const plot = W - LABEL - TOTALS;
  const x = (ms: number) => LABEL + (t.length > 0 ? (ms / t.length) * plot : 0);
  const width = (s: Span) => Math.max(1, x(s.to) - x(s.from));
  const rect = (s: Span, y: number, color: string, what: string) =>
    `<rect x="${x(s.from).toFixed(1)}" y="${y + 4}" width="${width(s).toFixed(1)}" height="${ROW - 8}" fill="${color}"><title>${esc(`${what}: ${formatDuration(s.to - s.from)}`)}</title></rect>`;
  const totalsOf = stepTotals(t);
  const rows = t.steps.map((b, i) => {
    const y = i * ROW;
    const { human, total } = totalsOf[i]!;
    const totals = `${formatDuration(total)}${human > 0 ? ` (${formatDuration(human)} waiting for a human)` : ''}`;
    return (
      `<g class="step" data-step="${esc(b.step)}"><text x="0" y="${y + 15}">${esc(b.step)}</text>` +
      b.spans.map((s) => rect(s, y, COLORS.machine, `${b.step}`)).join('') +
      b.human.map((s) => rect(s, y, COLORS.human, `${b.step}, waiting for a human`)).join('') +
      `<text x="${W - TOTALS + 6}" y="${y + 15}">${esc(totals)}</text></g>`
    );
  });
  const height = t.steps.length * ROW;
  const marks = t.marks.map((m) => {
    const mx = x(m.at).toFixed(1);
    const when = new Date(t.start + m.at).toISOString().slice(11, 19);
    return `<line class="${m.kind}" x1="${mx}" x2="${mx}" y1="0" y2="${height}" stroke="${COLORS[m.kind]}" stroke-width="2"><title>${esc(`${m.kind === 'decision' ? 'decision' : 'verified'} at ${when}Z`)}</title></line>`;
  });
  let lx = LABEL;
  const legend = (
    [
      [COLORS.machine, 'machine time'],
      [COLORS.human, 'waiting for a human'],
      [COLORS.decision, 'decision'],
      [COLORS.verified, 'verified'],
    ] as const
  ).map(([color, label]) => {
    const item = `<rect x="${lx}" y="${height + 8}" width="10" height="10" fill="${color}"/><text x="${lx + 14}" y="${height + 17}">${esc(label)}</text>`;
    lx += 14 + label.length * 7 + 18;
    return item;
  });
  const axis = `<text x="${LABEL}" y="${height + 34}">${formatDuration(0)}</text><text x="${LABEL + plot}" y="${height + 34}" text-anchor="end">${esc(formatDuration(t.length))}</text>`;
  const label = `Timeline: ${t.steps.map((b) => `${b.step} ${formatDuration(sum(b.spans))}`).join(', ')}`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" role="img" aria-label="${esc(label)}" width="${W}" height="${height + 40}" viewBox="0 0 ${W} ${height + 40}" font-family="system-ui,sans-serif" font-size="12">` +
    rows.join('') + marks.join('') + legend.join('') + axis + '</svg>'
  );
}
