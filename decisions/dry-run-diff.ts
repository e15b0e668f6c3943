// Runbook step 6, decided: did the re-run CI job's dry-run diff change nothing?
// Reads what helm-diff (`helm diff upgrade`: diff, simple, json and structured output) and
// helmfile (`diff`, `apply`) print, as it appears in a GitLab job trace: ANSI colours, section
// markers, carriage returns, several releases. "Could not tell" is its own verdict, never a
// silent no-op: helm-diff prints nothing at all when nothing changes, so a quiet trace proves
// something only if it shows the diff actually ran.
//
// The trace is untrusted input (anyone who can push to the deployed project writes it): every
// pattern here runs in time linear in its input, and the trace's size and line length are capped.

export type DiffVerdict = 'no-op' | 'changes' | 'unknown';

/**
 * What the diff compared the new render with. `two-way` (helm-diff's default): Helm's newest
 * stored manifest, not the cluster; after an unlock that is not what the cluster runs.
 * `three-way` (`--three-way-merge`): the live objects too.
 */
export type DiffMode = 'two-way' | 'three-way' | 'unknown';

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
  /** At most TRACE_LIMITS.maxListedObjects; `omitted` counts the rest. */
  changes: ChangedObject[];
  omitted?: number;
  /** Why this verdict, in a sentence. */
  reason: string;
}

export interface DiffReport {
  verdict: DiffVerdict;
  mode: DiffMode;
  releases: ReleaseDiff[];
  reason: string;
}

export const TRACE_LIMITS = {
  /** A longer trace is not read at all (GitLab's own default job log limit is 4 MiB). */
  maxChars: 16 * 1024 * 1024,
  /** A longer line is read only up to this length, and the verdict is `unknown`. */
  maxLineChars: 256 * 1024,
  /** helm-diff's JSON array, parsed whole up to this size; longer, it is read line by line. */
  maxJsonChars: 4 * 1024 * 1024,
  /** Objects and releases listed in the report (history has a size limit); the rest are counted. */
  maxListedObjects: 200,
  maxReleases: 200,
  /** Kubernetes names are at most 253 characters; anything longer is cut. */
  maxNameChars: 253,
};

// CSI sequences (colours, erase-line). The class stops at the first other byte: linear.
// eslint-disable-next-line no-control-regex -- matching the ESC byte is the point
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
// GitLab's collapsible sections. The options bracket is bounded: unbounded, `[^\]]*` scanned to
// the end of the line from every "section_start:" in it (quadratic on a hostile line).
const SECTION = /section_(?:start|end):\d+:[A-Za-z0-9_.-]+(?:\[[^\]\n]{0,64}\])?/g;

/** One trace line as a terminal shows it: no colours, no section markers, after the last `\r`. */
function cleanLine(raw: string): string {
  let l = raw.includes('\x1b') ? raw.replace(ANSI, '') : raw;
  if (l.includes('section_')) l = l.replace(SECTION, '');
  if (l.endsWith('\r')) l = l.slice(0, -1);
  const cr = l.lastIndexOf('\r');
  return cr >= 0 ? l.slice(cr + 1) : l;
}

interface ReadTrace {
  lines: string[];
  /** The first line over the line cap (1-based) and its length. */
  overlong?: { line: number; chars: number };
}

function readTrace(trace: string): ReadTrace {
  const lines: string[] = [];
  let overlong: ReadTrace['overlong'];
  let start = 0;
  for (;;) {
    const nl = trace.indexOf('\n', start);
    const end = nl < 0 ? trace.length : nl;
    let raw = trace.slice(start, Math.min(end, start + TRACE_LIMITS.maxLineChars));
    if (end - start > TRACE_LIMITS.maxLineChars) {
      overlong ??= { line: lines.length + 1, chars: end - start };
      raw = raw.slice(0, TRACE_LIMITS.maxLineChars);
    }
    lines.push(cleanLine(raw));
    if (nl < 0) break;
    start = nl + 1;
  }
  return { lines, ...(overlong ? { overlong } : {}) };
}

export function cleanTrace(trace: string): string[] {
  return readTrace(trace).lines;
}

// Every pattern below is anchored and each quantified class excludes the character that ends
// it, so a failed match costs one pass over the line, never a pass per starting point.
// `<namespace>, <name>, <Kind> (<group>) <what>`: helm-diff's header (diff output) or line
// (simple output). The namespace is empty for some cluster-scoped objects.
const OBJECT_LINE =
  /^([^\s,]*), ([^\s,]+), ([^\s,(]+) \(([^)\s]*)\) (has changed|has been added|has been removed|changed ownership|to be changed\.|to be added\.|to be removed\.|to change ownership\.)/;
const PLAN = /^Plan: (\d+) to add, (\d+) to change, (\d+) to destroy(?:, (\d+) to change ownership)?\.?$/;
const COMPARING = /^Comparing release=([^,\s]+), chart=([^,\s]+), namespace=([^,\s]+)/;
const AFFECTED_ITEM = /^\s+(\S+) \(([^)\s]*)\) (UPDATED|DELETED|ADDED)\s*$/;
// One field of helm-diff's JSON template, on its own line: `"kind": "Deployment",`.
const JSON_FIELD = /^"(api|apiVersion|kind|namespace|name|change|changeType)": ?"([^"\\]*)",?$/;

const IDENTIFIED_CHANGE = 'identified at least one change';
const PLUGIN_EXITED = 'Error: plugin "diff" exited with error';
const LOG_LIMIT = "Job's log exceeded limit";

const CHANGE_OF: Record<string, ChangedObject['change'] | 'suppressed'> = {
  'has changed': 'changed',
  'to be changed.': 'changed',
  'has been added': 'added',
  'to be added.': 'added',
  'has been removed': 'removed',
  'to be removed.': 'removed',
  'changed ownership': 'ownership',
  'to change ownership.': 'ownership',
  MODIFY: 'changed',
  ADD: 'added',
  REMOVE: 'removed',
  OWNERSHIP: 'ownership',
  // --suppress-output-line-regex left nothing to show: the user's own filter says no change.
  MODIFY_SUPPRESSED: 'suppressed',
};

const clip = (s: string) => (s.length > TRACE_LIMITS.maxNameChars ? `${s.slice(0, TRACE_LIMITS.maxNameChars)}…` : s);

/** Objects found in one release's output, counted past the listing cap. */
class Found {
  changes: ChangedObject[] = [];
  total = 0;
  suppressedOnly = 0;
  add(namespace: unknown, name: unknown, kind: unknown, change: unknown): boolean {
    const c = typeof change === 'string' && Object.hasOwn(CHANGE_OF, change) ? CHANGE_OF[change] : undefined;
    if (!c) return false;
    if (c === 'suppressed') {
      this.suppressedOnly++;
      return true;
    }
    this.total++;
    if (this.changes.length < TRACE_LIMITS.maxListedObjects) {
      const s = (v: unknown) => clip(typeof v === 'string' ? v : '');
      this.changes.push({ namespace: s(namespace), name: s(name), kind: s(kind) || '?', change: c });
    }
    return true;
  }
}

/** helm-diff's JSON array (json or structured output), parsed; false when it is not one. */
function readJsonArray(text: string, found: Found): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return false;
  }
  if (!Array.isArray(parsed)) return false;
  for (const e of parsed) {
    if (typeof e !== 'object' || e === null) return false;
    const o = e as Record<string, unknown>;
    if (!found.add(o.namespace, o.name, o.kind, o.change ?? o.changeType)) return false;
  }
  return true;
}

/** The same array read field by field, when it cannot be parsed whole (cut, interleaved, huge). */
function scanJsonFields(lines: string[], found: Found): number {
  let fields: Record<string, string> = {};
  let n = 0;
  for (const line of lines) {
    const m = JSON_FIELD.exec(line.trim());
    if (!m) continue;
    const [, key, value] = m as unknown as [string, string, string];
    if (key === 'change' || key === 'changeType') {
      if (found.add(fields.namespace, fields.name, fields.kind, value)) n++;
      fields = {};
    } else fields[key] = value;
  }
  return n;
}

/** What one release's output showed, gathered line by line before anything is judged. */
interface SegmentFacts {
  found: Found;
  /** The counts of a `Plan: a to add, c to change, d to destroy[, o to change ownership]` summary. */
  plan?: number[];
  /** A JSON diff that was `[]`; one that was read; one that began but could not be read. */
  jsonEmpty: boolean;
  jsonRead: boolean;
  jsonUnread: boolean;
  // `--detailed-exitcode`: helm-diff's exit 2 makes helm print both lines; together they mean
  // "changes", the plugin line alone means helm-diff failed.
  identified: boolean;
  pluginExited: boolean;
  /** The first other `Error: ` line. */
  error?: string;
}

/** A JSON array's lines into the facts: parsed whole when small enough, else field by field. */
function readJsonBlock(facts: SegmentFacts, block: string[]): void {
  const chars = block.reduce((n, l) => n + l.length + 1, 0);
  if (chars <= TRACE_LIMITS.maxJsonChars && readJsonArray(block.join('\n'), facts.found)) facts.jsonRead = true;
  else if (scanJsonFields(block, facts.found) > 0) facts.jsonRead = true;
  else facts.jsonUnread = true;
}

/**
 * The segment's JSON arrays and its other lines, in order. `[{` (json) or `[` (structured) opens
 * an array, `}]` or `]` closes it; a new opener abandons an unclosed one, so each line is looked
 * at once.
 */
function* jsonBlocksAndLines(lines: string[]): Generator<{ json: string[] } | { line: string }> {
  let open: string[] | undefined;
  for (const line of lines) {
    const t = line.trim();
    if (t.startsWith('[{') || t === '[') {
      if (open) yield { json: open };
      open = [line];
    } else if (open) open.push(line);
    else {
      yield { line };
      continue;
    }
    if (t === ']' || t.endsWith('}]')) {
      yield { json: open };
      open = undefined;
    }
  }
  if (open) yield { json: open };
}

/** One line outside JSON into the facts: the first reader that recognises it takes it. */
const LINE_READERS: ((facts: SegmentFacts, line: string, t: string) => boolean)[] = [
  (f, _, t) => t === '[]' && (f.jsonEmpty = true),
  (f, line) => {
    const h = OBJECT_LINE.exec(line);
    if (!h) return false;
    const [, namespace, name, kind, , what] = h;
    // "has changed, but diff is empty after suppression.": only lines the user suppresses differ.
    const suppressed = what === 'has changed' && line.includes('but diff is empty after suppression');
    f.found.add(namespace, name, kind, suppressed ? 'MODIFY_SUPPRESSED' : what);
    return true;
  },
  (f, _, t) => {
    const p = PLAN.exec(t);
    if (p) f.plan = p.slice(1).map((n) => Number(n ?? 0));
    return p !== null;
  },
  (f, _, t) => {
    if (!t.startsWith('Error: ')) return false;
    if (t.includes(IDENTIFIED_CHANGE)) f.identified = true;
    else if (t === PLUGIN_EXITED) f.pluginExited = true;
    else f.error ??= t;
    return true;
  },
];

function readSegment(lines: string[]): SegmentFacts {
  const facts: SegmentFacts = { found: new Found(), jsonEmpty: false, jsonRead: false, jsonUnread: false, identified: false, pluginExited: false };
  for (const part of jsonBlocksAndLines(lines)) {
    if ('json' in part) readJsonBlock(facts, part.json);
    else LINE_READERS.some((read) => read(facts, part.line, part.line.trim()));
  }
  if (facts.pluginExited && !facts.identified) facts.error ??= PLUGIN_EXITED;
  return facts;
}

/** Judging one segment's facts: the first rule that holds gives the verdict. Changes shown beat any doubt; doubt beats silence. */
const SEGMENT_VERDICTS: { when: (f: SegmentFacts, ranDiff: boolean) => boolean; verdict: DiffVerdict; reason: (f: SegmentFacts, who: string) => string }[] = [
  {
    when: (f) => f.found.total > 0,
    verdict: 'changes',
    reason: (f, who) => {
      const omitted = f.found.total - f.found.changes.length;
      const list = f.found.changes.map((c) => `${c.kind} ${c.namespace}/${c.name} ${c.change}`).join(', ');
      return `${who} would change ${f.found.total} object(s): ${list}${omitted > 0 ? ` and ${omitted} more` : ''}`;
    },
  },
  { when: (f) => f.plan?.some((n) => n > 0) === true, verdict: 'changes', reason: (f, who) => `${who} plans changes (${f.plan!.join('/')} add/change/destroy/ownership)` },
  { when: (f) => f.identified, verdict: 'changes', reason: (_, who) => `${who}: helm-diff identified at least one change (--detailed-exitcode) in output this does not list` },
  { when: (f) => f.jsonUnread, verdict: 'unknown', reason: (_, who) => `${who}: a JSON diff began but could not be read` },
  { when: (f) => f.error !== undefined, verdict: 'unknown', reason: (f, who) => `${who} did not finish: ${clip(f.error!)}` },
  { when: (f) => f.plan !== undefined, verdict: 'no-op', reason: (f, who) => `${who}: Plan: 0 to add, 0 to change, 0 to destroy${suppressedNote(f)}` },
  { when: (f) => f.jsonEmpty || f.jsonRead, verdict: 'no-op', reason: (f, who) => `${who}: JSON diff is []${suppressedNote(f)}` },
  { when: (_, ranDiff) => ranDiff, verdict: 'no-op', reason: (f, who) => `${who} ran and printed no changes${suppressedNote(f)}` },
  { when: () => true, verdict: 'unknown', reason: () => 'could not tell: the trace shows no diff output and no sign that a diff ran' },
];

const suppressedNote = (f: SegmentFacts) => (f.found.suppressedOnly ? ` (${f.found.suppressedOnly} object(s) differ only in suppressed content)` : '');

function judgeSegment(lines: string[], release: string | undefined, ranDiff: boolean): ReleaseDiff {
  const facts = readSegment(lines);
  const rule = SEGMENT_VERDICTS.find((r) => r.when(facts, ranDiff))!;
  const omitted = facts.found.total - facts.found.changes.length;
  return {
    ...(release === undefined ? {} : { release }),
    verdict: rule.verdict,
    // Empty unless objects were found: only the first rule lists them.
    changes: facts.found.changes,
    ...(omitted > 0 ? { omitted } : {}),
    reason: rule.reason(facts, release ? `release ${release}` : 'the diff'),
  };
}

/** A command the job echoed (`$ …` from GitLab, `exec: …` from helmfile --debug), as words. */
function commandWords(line: string): string[] | undefined {
  if (line.startsWith('$ ')) return line.slice(2).split(/\s+/);
  if (line.startsWith('exec: ')) return line.slice(6).split(/\s+/);
  return undefined;
}

const tool = (word: string) => {
  const base = word.slice(word.lastIndexOf('/') + 1);
  return base === 'helm' || base === 'helmfile' ? base : undefined;
};

interface Command {
  tool: 'helm' | 'helmfile';
  verb: string;
  words: string[];
}

/** The helm/helmfile command in an echoed line: `helm … diff …`, `helmfile … diff|apply …`. */
function helmCommand(words: string[]): Command | undefined {
  const at = words.findIndex((w) => tool(w) !== undefined);
  if (at < 0) return undefined;
  const t = tool(words[at]!)!;
  const verbs = t === 'helm' ? ['diff'] : ['diff', 'apply'];
  const verb = words.slice(at + 1).find((w) => verbs.includes(w));
  return verb ? { tool: t, verb, words } : undefined;
}

/** Formats this parser reads; with any other, silence proves nothing. */
const READ_FORMATS = ['diff', 'simple', 'json', 'structured'];

function outputFormat(words: string[]): string | undefined {
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--output') return words[i + 1];
    if (w.startsWith('--output=')) return w.slice('--output='.length);
    if (w === '--diff-tool' || w.startsWith('--diff-tool=')) return 'diff-tool';
  }
  return undefined;
}

interface DiffCommands {
  ranDiff: boolean;
  mode: DiffMode;
  modeReason: string;
  /** A format the job asked for that this parser cannot read. */
  unreadFormat?: string;
}

function findCommands(lines: string[]): DiffCommands {
  let ranDiff = false;
  let sawHelm = false;
  let sawHelmfile = false;
  let threeWay = false;
  let unreadFormat: string | undefined;
  for (const line of lines) {
    if (line.startsWith('Enabled three way merge via the envvar')) threeWay = true;
    const words = commandWords(line);
    if (!words) continue;
    if (words.some((w) => w.includes('HELM_DIFF_THREE_WAY_MERGE=true'))) threeWay = true;
    const cmd = helmCommand(words);
    if (!cmd) continue;
    if (cmd.verb === 'diff') ranDiff = true;
    if (cmd.tool === 'helm') sawHelm = true;
    else sawHelmfile = true;
    if (words.some((w) => w.includes('--three-way-merge') && !w.endsWith('=false'))) threeWay = true;
    const format = outputFormat(words);
    if (format !== undefined && !READ_FORMATS.includes(format)) unreadFormat ??= format;
  }
  const base = { ranDiff, ...(unreadFormat ? { unreadFormat } : {}) };
  if (threeWay) {
    return { ...base, mode: 'three-way', modeReason: 'The diff was three-way (--three-way-merge): it compared with the live objects.' };
  }
  if (sawHelm && !sawHelmfile) {
    return {
      ...base,
      mode: 'two-way',
      modeReason:
        "The diff was two-way (no --three-way-merge): it compared with Helm's newest stored manifest, not the live objects, so after an unlock it may list changes the cluster already runs, or miss changes the next deploy makes.",
    };
  }
  if (sawHelmfile) {
    return {
      ...base,
      mode: 'unknown',
      modeReason: "Two-way or three-way diff: helmfile's command line does not say (its helmfile.yaml may pass --three-way-merge).",
    };
  }
  return { ...base, mode: 'unknown', modeReason: 'Two-way or three-way diff: no helm diff command is echoed in the trace.' };
}

const unknownTrace = (reason: string): DiffReport => ({ verdict: 'unknown', mode: 'unknown', releases: [], reason });

/** A trace longer than the cap, of which only `bytesRead` were read before reading stopped. */
export const traceNotRead = (bytesRead: number): DiffReport =>
  unknownTrace(`could not tell: the trace is over the ${TRACE_LIMITS.maxChars}-byte cap (reading stopped after ${bytesRead} bytes) and was not judged`);

/** helmfile: one release per "Comparing release=…" segment, at most maxReleases listed, the rest counted. */
function helmfileReleases(lines: string[], starts: number[]): { releases: ReleaseDiff[]; omitted: number } {
  const releases: ReleaseDiff[] = [];
  let omitted = 0;
  starts.forEach((start, k) => {
    const r = judgeSegment(lines.slice(start, starts[k + 1] ?? lines.length), COMPARING.exec(lines[start]!)![1], true);
    if (releases.length < TRACE_LIMITS.maxReleases) releases.push(r);
    else omitted++;
  });
  markAffected(lines, releases);
  return { releases, omitted };
}

/** `helmfile diff --detailed-exitcode` and `helmfile apply` close with the affected releases: each of them changes. */
function markAffected(lines: string[], releases: ReleaseDiff[]): void {
  const affectedAt = lines.findIndex((l) => l.trim().startsWith('Affected releases are:'));
  if (affectedAt < 0) return;
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

/** A trace of one release (helm diff, or helmfile naming none): silence proves nothing in a format this does not read. */
function singleRelease(lines: string[], commands: DiffCommands): ReleaseDiff {
  const noAffected = lines.some((l) => l.trim().startsWith('No affected releases'));
  const ran = (commands.ranDiff || noAffected) && commands.unreadFormat === undefined;
  const r = judgeSegment(lines, undefined, ran);
  if (commands.unreadFormat === undefined || r.verdict !== 'no-op') return r;
  return { verdict: 'unknown', changes: [], reason: `could not tell: the diff ran with output "${clip(commands.unreadFormat)}", which this does not read` };
}

/** The trace's verdict from its releases': any change, else the trace's own "identified", else any doubt, else no-op. */
function overallVerdict(releases: ReleaseDiff[], identified: boolean, more: string): { verdict: DiffVerdict; reason: string } {
  const changed = releases.filter((r) => r.verdict === 'changes');
  if (changed.length > 0) return { verdict: 'changes', reason: changed.map((r) => r.reason).join('; ') + more };
  // helmfile says a release changed but no release's output shows which.
  if (identified) return { verdict: 'changes', reason: 'the trace says it identified at least one change (--detailed-exitcode), though it lists none this can read' };
  const unknown = releases.filter((r) => r.verdict === 'unknown');
  if (unknown.length > 0) return { verdict: 'unknown', reason: unknown.map((r) => r.reason).join('; ') + more };
  return { verdict: 'no-op', reason: releases.map((r) => r.reason).join('; ') + more };
}

/** A trace with a line too long to read, or cut short by GitLab, proves nothing either way: why, or undefined. */
function unreadPart(lines: string[], overlong: ReadTrace['overlong'], read: { verdict: DiffVerdict; reason: string }): string | undefined {
  if (overlong) {
    return `could not tell: line ${overlong.line} is ${overlong.chars} characters, over the ${TRACE_LIMITS.maxLineChars}-character cap (read so far: ${read.verdict}: ${read.reason})`;
  }
  if (read.verdict === 'no-op' && lines.some((l) => l.includes(LOG_LIMIT))) return `could not tell: GitLab cut the job log short (${LOG_LIMIT}), after: ${read.reason}`;
  return undefined;
}

export function parseDryRunTrace(trace: string): DiffReport {
  if (trace.length > TRACE_LIMITS.maxChars) {
    return unknownTrace(`could not tell: the trace is ${trace.length} characters, over the ${TRACE_LIMITS.maxChars}-character cap, and was not read`);
  }
  const { lines, overlong } = readTrace(trace);
  const commands = findCommands(lines);
  // helm-diff's line, or helmfile's closing "Identified at least one change".
  const identified = lines.some((l) => l.includes(IDENTIFIED_CHANGE) || l.includes('Identified at least one change'));
  const starts = lines.flatMap((l, i) => (l.startsWith('Comparing release=') && COMPARING.test(l) ? [i] : []));
  const { releases, omitted } = starts.length > 0 ? helmfileReleases(lines, starts) : { releases: [singleRelease(lines, commands)], omitted: 0 };
  const read = overallVerdict(releases, identified, omitted > 0 ? ` (and ${omitted} more release(s) not listed)` : '');
  const unread = unreadPart(lines, overlong, read);
  const { verdict, reason } = unread ? { verdict: 'unknown' as const, reason: unread } : read;
  return { verdict, mode: commands.mode, releases, reason: `${reason}. ${commands.modeReason}` };
}
