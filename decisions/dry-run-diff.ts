// Runbook step 6, decided: did the re-run CI job's dry-run diff change nothing?
// Reads helm-diff (`helm diff upgrade`, text/simple/json output) and `helmfile diff` as they
// appear in a GitLab job trace: ANSI colours, section markers, several releases. "Could not
// tell" is its own verdict, never a silent no-op: helm-diff prints nothing at all when nothing
// changes, so a quiet trace proves something only if it shows the diff actually ran.

export type DiffVerdict = 'no-op' | 'changes' | 'unknown';

export interface ChangedObject {
  namespace: string;
  name: string;
  kind: string;
  change: 'changed' | 'added' | 'removed' | 'ownership';
}

export interface ReleaseDiff {
  /** The release, when the trace names it (helmfile's "Comparing release=…"). */
  release?: string;
  verdict: DiffVerdict;
  changes: ChangedObject[];
  /** Why this verdict, in a sentence. */
  reason: string;
}

export interface DiffReport {
  verdict: DiffVerdict;
  releases: ReleaseDiff[];
  reason: string;
}

// CSI sequences (colours, erase-line) and stray carriage returns.
// eslint-disable-next-line no-control-regex -- matching the ESC byte is the point
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
const SECTION = /section_(start|end):\d+:[A-Za-z0-9_.-]+(\[[^\]]*\])?/g;

export function cleanTrace(trace: string): string[] {
  return trace
    .replace(ANSI, '')
    .replace(SECTION, '')
    .split(/\r?\n/)
    .map((l) => l.replace(/^.*\r(?!$)/, '').replace(/\r$/, ''));
}

const HEADER = /^(\S+), (\S+), (\S+) \(([^)]*)\) (has changed|has been added|has been removed|changed ownership)(.*)$/;
const PLAN = /^Plan: (\d+) to add, (\d+) to change, (\d+) to destroy(?:, (\d+) to change ownership)?\.?$/;
const COMPARING = /^Comparing release=([^,\s]+), chart=([^,\s]+), namespace=(\S+)/;
const AFFECTED_ITEM = /^\s+(\S+) \(([^)]*)\) (UPDATED|DELETED|ADDED)\s*$/;
const DIFF_COMMAND = /^\$ .*\b(helm(file)? .*\bdiff\b|helm diff)/;

function judgeSegment(lines: string[], release: string | undefined, ranDiff: boolean): ReleaseDiff {
  const changes: ChangedObject[] = [];
  let suppressedOnly = 0;
  let plan: number[] | undefined;
  let json: 'empty' | 'changes' | undefined;
  let error: string | undefined;
  for (const line of lines) {
    const h = HEADER.exec(line);
    if (h) {
      const [, namespace, name, kind, , what, rest] = h;
      if (what === 'has changed' && /but diff is empty after suppression/.test(rest ?? '')) {
        suppressedOnly++;
        continue;
      }
      const change = what === 'has changed' ? 'changed' : what === 'has been added' ? 'added' : what === 'has been removed' ? 'removed' : 'ownership';
      changes.push({ namespace: namespace!, name: name!, kind: kind!, change });
      continue;
    }
    const p = PLAN.exec(line.trim());
    if (p) plan = p.slice(1).map((n) => Number(n ?? 0));
    const t = line.trim();
    if (t === '[]') json ??= 'empty';
    else if (t.startsWith('[{') && t.includes('"kind"')) json = 'changes';
    if (/^Error: /.test(t) || /identified at least one change/.test(t)) {
      if (/^Error: /.test(t) && !/identified at least one change/.test(t)) error ??= t;
    }
  }
  const base = release === undefined ? {} : { release };
  const who = release ? `release ${release}` : 'the diff';
  if (changes.length > 0) {
    const list = changes.map((c) => `${c.kind} ${c.namespace}/${c.name} ${c.change}`).join(', ');
    return { ...base, verdict: 'changes', changes, reason: `${who} would change ${changes.length} object(s): ${list}` };
  }
  if (plan && plan.some((n) => n > 0)) {
    return { ...base, verdict: 'changes', changes, reason: `${who} plans changes (${plan.join('/')} add/change/destroy/ownership)` };
  }
  if (json === 'changes') return { ...base, verdict: 'changes', changes, reason: `${who}: JSON diff lists changes` };
  if (error) return { ...base, verdict: 'unknown', changes, reason: `${who} did not finish: ${error}` };
  if (plan) return { ...base, verdict: 'no-op', changes, reason: `${who}: Plan: 0 to add, 0 to change, 0 to destroy` };
  if (json === 'empty') return { ...base, verdict: 'no-op', changes, reason: `${who}: JSON diff is []` };
  if (ranDiff) {
    const note = suppressedOnly ? ` (${suppressedOnly} object(s) differ only in suppressed content)` : '';
    return { ...base, verdict: 'no-op', changes, reason: `${who} ran and printed no changes${note}` };
  }
  return { ...base, verdict: 'unknown', changes, reason: `could not tell: the trace shows no diff output and no sign that a diff ran` };
}

export function parseDryRunTrace(trace: string): DiffReport {
  const lines = cleanTrace(trace);
  const ranDiffCommand = lines.some((l) => DIFF_COMMAND.test(l));

  // helmfile: one segment per "Comparing release=…", plus its closing summary.
  const starts = lines.flatMap((l, i) => (COMPARING.test(l) ? [i] : []));
  let releases: ReleaseDiff[];
  if (starts.length > 0) {
    releases = starts.map((start, k) => {
      const end = starts[k + 1] ?? lines.length;
      const seg = lines.slice(start, end);
      return judgeSegment(seg, COMPARING.exec(lines[start]!)![1], true);
    });
    // `helmfile diff --detailed-exitcode` names the affected releases at the end.
    const affectedAt = lines.findIndex((l) => /^Affected releases are:/.test(l.trim()));
    if (affectedAt >= 0) {
      for (const l of lines.slice(affectedAt + 1)) {
        const m = AFFECTED_ITEM.exec(l);
        if (!m) break;
        const r = releases.find((x) => x.release === m[1]);
        if (r && r.verdict !== 'changes') {
          r.verdict = 'changes';
          r.reason = `release ${m[1]} is listed as ${m[3]} in helmfile's affected releases`;
        }
      }
    }
  } else {
    const noAffected = lines.some((l) => /^No affected releases/.test(l.trim()));
    releases = [judgeSegment(lines, undefined, ranDiffCommand || noAffected)];
  }

  const changed = releases.filter((r) => r.verdict === 'changes');
  const unknown = releases.filter((r) => r.verdict === 'unknown');
  if (changed.length > 0) {
    return { verdict: 'changes', releases, reason: changed.map((r) => r.reason).join('; ') };
  }
  if (unknown.length > 0) {
    return { verdict: 'unknown', releases, reason: unknown.map((r) => r.reason).join('; ') };
  }
  return { verdict: 'no-op', releases, reason: releases.map((r) => r.reason).join('; ') };
}
