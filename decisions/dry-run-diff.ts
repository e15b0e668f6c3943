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

function judgeSegment(lines: string[], release: string | undefined, ranDiff: boolean): ReleaseDiff {
  const found = new Found();
  let plan: number[] | undefined;
  let jsonEmpty = false;
  let jsonRead = false;
  let jsonUnread = false;
  let error: string | undefined;
  // `--detailed-exitcode`: helm-diff's exit 2 makes helm print both lines; together they mean
  // "changes", the plugin line alone means helm-diff failed.
  let identified = false;
  let pluginExited = false;
  let jsonStart = -1;
  const endJson = (end: number) => {
    const block = lines.slice(jsonStart, end + 1);
    const chars = block.reduce((n, l) => n + l.length + 1, 0);
    if (chars <= TRACE_LIMITS.maxJsonChars && readJsonArray(block.join('\n'), found)) jsonRead = true;
    else if (scanJsonFields(block, found) > 0) jsonRead = true;
    else jsonUnread = true;
    jsonStart = -1;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const t = line.trim();
    // A JSON array: `[{` (json) or `[` (structured) opens it, `}]` or `]` closes it. A new opener
    // abandons an unclosed one, so each line is looked at once.
    if (t.startsWith('[{') || t === '[') {
      if (jsonStart >= 0) endJson(i - 1);
      jsonStart = i;
      if (t.endsWith('}]')) endJson(i);
      continue;
    }
    if (jsonStart >= 0) {
      if (t === ']' || t.endsWith('}]')) endJson(i);
      continue;
    }
    if (t === '[]') {
      jsonEmpty = true;
      continue;
    }
    const h = OBJECT_LINE.exec(line);
    if (h) {
      const [, namespace, name, kind, , what] = h;
      // "has changed, but diff is empty after suppression.": only lines the user suppresses differ.
      if (what === 'has changed' && line.includes('but diff is empty after suppression')) found.add(namespace, name, kind, 'MODIFY_SUPPRESSED');
      else found.add(namespace, name, kind, what);
      continue;
    }
    const p = PLAN.exec(t);
    if (p) {
      plan = p.slice(1).map((n) => Number(n ?? 0));
      continue;
    }
    if (!t.startsWith('Error: ')) continue;
    if (t.includes(IDENTIFIED_CHANGE)) identified = true;
    else if (t === PLUGIN_EXITED) pluginExited = true;
    else error ??= t;
  }
  if (jsonStart >= 0) endJson(lines.length - 1);
  if (pluginExited && !identified) error ??= PLUGIN_EXITED;

  const base = release === undefined ? {} : { release };
  const who = release ? `release ${release}` : 'the diff';
  const omitted = found.total - found.changes.length;
  if (found.total > 0) {
    const list = found.changes.map((c) => `${c.kind} ${c.namespace}/${c.name} ${c.change}`).join(', ');
    return {
      ...base,
      verdict: 'changes',
      changes: found.changes,
      ...(omitted > 0 ? { omitted } : {}),
      reason: `${who} would change ${found.total} object(s): ${list}${omitted > 0 ? ` and ${omitted} more` : ''}`,
    };
  }
  const changes: ChangedObject[] = [];
  if (plan && plan.some((n) => n > 0)) {
    return { ...base, verdict: 'changes', changes, reason: `${who} plans changes (${plan.join('/')} add/change/destroy/ownership)` };
  }
  if (identified) {
    return { ...base, verdict: 'changes', changes, reason: `${who}: helm-diff identified at least one change (--detailed-exitcode) in output this does not list` };
  }
  if (jsonUnread) return { ...base, verdict: 'unknown', changes, reason: `${who}: a JSON diff began but could not be read` };
  if (error) return { ...base, verdict: 'unknown', changes, reason: `${who} did not finish: ${clip(error)}` };
  const note = found.suppressedOnly ? ` (${found.suppressedOnly} object(s) differ only in suppressed content)` : '';
  if (plan) return { ...base, verdict: 'no-op', changes, reason: `${who}: Plan: 0 to add, 0 to change, 0 to destroy${note}` };
  if (jsonEmpty || jsonRead) return { ...base, verdict: 'no-op', changes, reason: `${who}: JSON diff is []${note}` };
  if (ranDiff) return { ...base, verdict: 'no-op', changes, reason: `${who} ran and printed no changes${note}` };
  return { ...base, verdict: 'unknown', changes, reason: `could not tell: the trace shows no diff output and no sign that a diff ran` };
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

export function parseDryRunTrace(trace: string): DiffReport {
  if (trace.length > TRACE_LIMITS.maxChars) {
    return unknownTrace(
      `could not tell: the trace is ${trace.length} characters, over the ${TRACE_LIMITS.maxChars}-character cap, and was not read`,
    );
  }
  const { lines, overlong } = readTrace(trace);
  const commands = findCommands(lines);
  // helm-diff's line, or helmfile's closing "Identified at least one change".
  const identified = lines.some((l) => l.includes(IDENTIFIED_CHANGE) || l.includes('Identified at least one change'));

  // helmfile: one segment per "Comparing release=…", plus its closing summary.
  const starts: number[] = [];
  lines.forEach((l, i) => {
    if (l.startsWith('Comparing release=') && COMPARING.test(l)) starts.push(i);
  });
  let releases: ReleaseDiff[];
  let releasesOmitted = 0;
  if (starts.length > 0) {
    releases = [];
    for (let k = 0; k < starts.length; k++) {
      const start = starts[k]!;
      const end = starts[k + 1] ?? lines.length;
      const r = judgeSegment(lines.slice(start, end), COMPARING.exec(lines[start]!)![1], true);
      if (releases.length < TRACE_LIMITS.maxReleases) releases.push(r);
      else releasesOmitted++;
    }
    // `helmfile diff --detailed-exitcode` and `helmfile apply` name the affected releases.
    const affectedAt = lines.findIndex((l) => l.trim().startsWith('Affected releases are:'));
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
    const noAffected = lines.some((l) => l.trim().startsWith('No affected releases'));
    const ran = (commands.ranDiff || noAffected) && commands.unreadFormat === undefined;
    releases = [judgeSegment(lines, undefined, ran)];
    if (commands.unreadFormat !== undefined && releases[0]!.verdict === 'no-op') {
      releases[0] = {
        verdict: 'unknown',
        changes: [],
        reason: `could not tell: the diff ran with output "${clip(commands.unreadFormat)}", which this does not read`,
      };
    }
  }

  const mode = { mode: commands.mode };
  const explain = (reason: string) => `${reason}. ${commands.modeReason}`;
  const more = releasesOmitted > 0 ? ` (and ${releasesOmitted} more release(s) not listed)` : '';
  const changed = releases.filter((r) => r.verdict === 'changes');
  const unknown = releases.filter((r) => r.verdict === 'unknown');
  let verdict: DiffVerdict;
  let reason: string;
  if (changed.length > 0) {
    verdict = 'changes';
    reason = changed.map((r) => r.reason).join('; ') + more;
  } else if (identified) {
    // helmfile says a release changed but no release's output shows which.
    verdict = 'changes';
    reason = 'the trace says it identified at least one change (--detailed-exitcode), though it lists none this can read';
  } else if (unknown.length > 0) {
    verdict = 'unknown';
    reason = unknown.map((r) => r.reason).join('; ') + more;
  } else {
    verdict = 'no-op';
    reason = releases.map((r) => r.reason).join('; ') + more;
  }
  // A trace cut short or with a line too long to read cannot prove anything, either way.
  if (overlong) {
    return {
      verdict: 'unknown',
      ...mode,
      releases,
      reason: explain(
        `could not tell: line ${overlong.line} is ${overlong.chars} characters, over the ${TRACE_LIMITS.maxLineChars}-character cap (read so far: ${verdict}: ${reason})`,
      ),
    };
  }
  if (verdict === 'no-op' && lines.some((l) => l.includes(LOG_LIMIT))) {
    return { verdict: 'unknown', ...mode, releases, reason: explain(`could not tell: GitLab cut the job log short (${LOG_LIMIT}), after: ${reason}`) };
  }
  return { verdict, ...mode, releases, reason: explain(reason) };
}
