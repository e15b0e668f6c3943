// One numbering of the runbook everywhere: the runbook's own (docs/runbook-helm-upgrade-stuck.txt),
// as decisions/runbook.ts gives it to its decisions ("Step N: …" above them): 1 no CI job
// deploying, 2 every Deployment healthy, 3 find the stuck release and revision, 4 delete that
// revision's record, 5 `helm status` shows it deployed, 6 re-run the failed CI job and see nothing
// change. The approval is the gate before step 4, not a step. The README's table, the workflow's
// numbered steps and every "step N" in docs/ and in source comments must agree with it.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PACKAGE_ROOT as ROOT } from '../../lib/repo';

const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');
const numbers = (s: string) => [...s.matchAll(/\d+/g)].map((m) => Number(m[0]));

/** decisions/runbook.ts: each export below a "Step N" (or "Steps N and M") doc comment, and its step(s). */
function stepsOfDecisions(): Map<string, number[]> {
  const steps = new Map<string, number[]>();
  const lines = read('decisions/runbook.ts').split('\n');
  let current: number[] | undefined;
  lines.forEach((line, i) => {
    // A top-level doc comment starts a section: "Step 4: …", "Steps 1 and 2, and the approval
    // before step 4: …" (the approval gates step 4), or no step at all.
    if (line.startsWith('/**')) {
      const text = line.slice(3).trim() || (lines[i + 1] ?? '').replace(/^\s*\*\s?/, '');
      const lead = text.split(':')[0]!;
      current = /^(Steps? \d|The approval before step \d)/i.test(lead) ? numbers(lead) : undefined;
    }
    const name = /^export (?:async )?(?:function|type|interface|const) (\w+)/.exec(line)?.[1];
    if (name && current) steps.set(name, current);
  });
  return steps;
}

/** Each step's words, from the runbook: a mention of "step N" is about one of these. */
const STEP_WORDS: Record<number, RegExp> = {
  1: /\bCI\b|deploy(?:ing)? jobs?|GitLab|pipeline/i,
  2: /Deployments?\b|health|HPA/i,
  3: /identif|history|stuck release|release's state|young|pending revision|find/i,
  4: /unlock|delet|lock|back(?:ed)? ?up|record|approv/i,
  5: /deployed again|helm status|verif/i,
  6: /re-?run|roll[- ]?forward|retry|dry[- ]run|live|on the cluster|objects?\b|manifests?/i,
};

describe('decisions/runbook.ts numbers its decisions 1 to 6, as the runbook does', () => {
  const steps = stepsOfDecisions();
  test.each<[string, number[]]>([
    ['decideCiQuiet', [1]],
    ['decideAnswer', [1, 2, 4]],
    ['decideIdentify', [3]],
    ['decideLookAgain', [4]],
    ['decideRecheck', [4]],
    ['decideUnlock', [4]],
    ['decideVerified', [5]],
    ['decideRerunWait', [6]],
    ['decideRollForward', [6]],
  ])('%s: step %p', (name, want) => {
    expect(steps.get(name)).toEqual(want);
  });
});

test("the README's table: row N is step N, and names only step N's decisions", () => {
  const steps = stepsOfDecisions();
  const rows = [...read('README.md').matchAll(/^\| (\d+)\. ([^|]+)\|(.*)$/gm)].map((m) => ({ n: Number(m[1]), title: m[2]!.trim(), rest: m[3]! }));
  expect(rows.map((r) => r.n)).toEqual([1, 2, 3, 4, 5, 6]);
  const wrong = rows.flatMap((r) =>
    [...r.rest.matchAll(/`(\w+)`/g)]
      .map((m) => m[1]!)
      .filter((name) => steps.has(name) && !steps.get(name)!.includes(r.n))
      .map((name) => `row ${r.n} (${r.title}) names ${name}, which decisions/runbook.ts gives step ${steps.get(name)!.join(' and ')}`),
  );
  expect(wrong).toEqual([]);
  rows.forEach((r) => expect(`${r.n}: ${r.title}`).toMatch(STEP_WORDS[r.n]!));
});

test("workflows/remediate.ts: each numbered step function asks only that step's decisions", () => {
  const steps = stepsOfDecisions();
  const text = read('workflows/remediate.ts');
  // A numbered doc comment, then the function it documents, up to the next top-level doc comment.
  const parts = [...text.matchAll(/\/\*\*\s*\n?\s*\*?\s*(\d)\. [^]*?\*\/\n(?:export )?(?:async )?function (\w+)([^]*?)(?=\n\/\*\*|$)/g)];
  expect(parts.map((m) => Number(m[1]))).toEqual([1, 2, 3, 4, 5, 6]);
  const wrong = parts.flatMap(([, n, fn, body]) =>
    [...body!.matchAll(/\b(decide\w+)\(/g)]
      .map((m) => m[1]!)
      .filter((d) => steps.has(d) && !steps.get(d)!.includes(Number(n)))
      .map((d) => `${fn} (step ${n}) asks ${d}, which decisions/runbook.ts gives step ${steps.get(d)!.join(' and ')}`),
  );
  expect(wrong).toEqual([]);
  // The header map numbers the same steps: "N name" rows, the approval unnumbered.
  const header = [...text.matchAll(/^\/\/ {3}(\d|-) ([\w-]+)/gm)].map((m) => `${m[1]} ${m[2]}`);
  expect(header).toEqual(['1 ci-quiet', '2 health', '3 identify', '- approval', '4 unlock', '5 verify', '6 roll-fwd']);
});

/** README, CONTRIBUTING, docs/*.md, and every comment line of the .ts sources: where "step N" may be said. */
function places(): { file: string; lines: string[] }[] {
  const docs = ['README.md', 'CONTRIBUTING.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const out = docs.map((file) => ({ file, lines: read(file).split('\n') }));
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (['node_modules', 'dist', '.git', 'histories', 'fixtures'].includes(e.name)) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) {
        // Comment lines only (strings such as test names are not where a reader looks for a number).
        const lines = readFileSync(p, 'utf8').split('\n').map((l) => (/^\s*(\/\/|\/?\*)/.test(l) ? l : ''));
        out.push({ file: relative(ROOT, p), lines });
      }
    }
  };
  walk(ROOT);
  return out;
}

test('every "step N" in the docs and in source comments is about the step the runbook numbers N', () => {
  const wrong: string[] = [];
  for (const { file, lines } of places()) {
    lines.forEach((line, i) => {
      for (const m of line.matchAll(/\bsteps? ((?:\d+(?:-\d+)?(?:, | and | or )?)+)/gi)) {
        // The mention's context: its line and the lines around it, where its sentence goes on.
        const context = `${lines[i - 1] ?? ''}\n${line}\n${lines[i + 1] ?? ''}`.replace(m[0], '');
        const said = m[1]!.includes('-') ? [] : numbers(m[1]!); // a range ("steps 1-3") names no one step
        for (const n of said) {
          if (!STEP_WORDS[n]) wrong.push(`${file}:${i + 1}: step ${n} does not exist (the runbook has 6): ${line.trim()}`);
          else if (said.length === 1 && !STEP_WORDS[n].test(context)) wrong.push(`${file}:${i + 1}: step ${n} is not about ${STEP_WORDS[n]}: ${line.trim()}`);
        }
      }
    });
  }
  expect(wrong).toEqual([]);
});
