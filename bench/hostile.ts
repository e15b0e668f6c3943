// Benchmark: the dry-run trace parser on hostile CI logs (5 MB, lines up to 1 MB, shapes that
// make backtracking regexes quadratic) against a normal-sized job log, in the same run. Anyone
// who can push to the deployed project writes the log; judging it must never block the worker.
// Also jobPattern (RE2) on catastrophic patterns and long job names. Writes bench/results/hostile.json.
// No servers needed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDryRunTrace, TRACE_LIMITS } from '../decisions/dry-run-diff';
import { compileJobPattern } from '../decisions/schemas';
import { writeResult } from './lib/result';
import { median } from './lib/stack';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const MB = 1024 * 1024;
const fixture = (name: string) => readFileSync(join(__dirname, '..', 'test', 'fixtures', 'helm-diff', name), 'utf8');

/** A normal job log: GitLab's preamble and a default-output diff of 40 objects (about 40 KB). */
function normalLog(): string {
  const head = fixture('three-way-color.txt').split('\n').slice(0, 6).join('\n');
  const objects = Array.from({ length: 40 }, (_, i) =>
    [
      `\x1b[33mgitlab, gitlab-component-${i}, Deployment (apps) has changed:\x1b[0m`,
      '  # Source: gitlab/charts/component/templates/deployment.yaml',
      ...Array.from({ length: 12 }, (_, j) => `  spec.template.spec.containers[${j}].env: unchanged line of context ${j}`),
      `\x1b[31m-         image: "registry.gitlab.com/gitlab-org/build/cng/component-${i}:v18.5.1"\x1b[0m`,
      `\x1b[32m+         image: "registry.gitlab.com/gitlab-org/build/cng/component-${i}:v18.6.0"\x1b[0m`,
    ].join('\n'),
  );
  return `${head}\n${objects.join('\n')}\n\x1b[32;1mJob succeeded\x1b[0;m\n`;
}

/** `prefix` repeated to `size` characters, then a newline. */
const line = (unit: string, size: number) => `${unit.repeat(Math.ceil(size / unit.length)).slice(0, size)}\n`;

/** Fill to `total` characters with lines of `lineSize`, each built from `unit`. */
function lines(unit: string, lineSize: number, total: number, first = ''): string {
  const one = line(unit, lineSize);
  return first + one.repeat(Math.floor((total - first.length) / one.length));
}

function timed(trace: string, runs = RUNS): { ms: number; verdict: string; reason: string } {
  const ms: number[] = [];
  let r = parseDryRunTrace(trace);
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    r = parseDryRunTrace(trace);
    ms.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return { ms: Math.round(median(ms) * 1000) / 1000, verdict: r.verdict, reason: r.reason.slice(0, 160) };
}

function main() {
  const normal = normalLog();
  // Small and fast: many runs, so the median is not one cold or descheduled run.
  const base = timed(normal, 20 * RUNS);
  const normalMsPerMB = base.ms / (normal.length / MB);
  const underCap = TRACE_LIMITS.maxLineChars - 1;
  const filler = normal.repeat(Math.ceil((4 * MB) / normal.length)).slice(0, 4 * MB);
  const cases: Record<string, string> = {
    // The shape: a 5 MB log whose 1 MB line is the old DIFF_COMMAND's worst case.
    '5 MB log holding a 1 MB `$ helm helm …` line': `${filler}\n$ ${line('helm ', MB)}`,
    // The same shapes in lines just under the line cap, so every pattern runs on every byte.
    '5 MB of `$ helm helm …` lines under the line cap': lines('helm ', underCap, 5 * MB, '$ '),
    '5 MB of unclosed `section_start:1:x[` markers': lines('section_start:1:x[', underCap, 5 * MB),
    '5 MB of header-like `a, a, a, …` lines': lines('a, ', underCap, 5 * MB),
    '5 MB of ANSI escapes without a final byte': lines('\x1b[;;;;;;', underCap, 5 * MB),
    '5 MB JSON array that never closes': `$ helm diff upgrade x ./c --output json\n[{\n${lines('  "kind": "Deployment",\n', 24, 5 * MB)}`,
    '17 MB log (over the size cap)': lines('x', 1023, TRACE_LIMITS.maxChars + MB),
  };
  const results = Object.entries(cases).map(([name, trace]) => {
    const t = timed(trace);
    const mb = trace.length / MB;
    const r = {
      name,
      chars: trace.length,
      ms: t.ms,
      verdict: t.verdict,
      ms_ratio_to_normal_log: Math.round((t.ms / base.ms) * 10) / 10,
      per_byte_ratio_to_normal_log: Math.round((t.ms / mb / normalMsPerMB) * 100) / 100,
      reason: t.reason,
    };
    console.error(`bench: ${name}: ${t.ms} ms (${t.verdict}), ${r.per_byte_ratio_to_normal_log}× the normal log's time per byte`);
    return r;
  });
  // jobPattern runs on job names whoever pushes a branch chooses: RE2 (re2js) on the patterns a
  // backtracking engine takes exponential time on, against names built to trigger it.
  const jobPatterns = [
    ['(a+)+$', `${'a'.repeat(100_000)}!`],
    ['(a|aa)+$', `${'a'.repeat(100_000)}!`],
    ['^(\\w+\\s?)*$', `${'word '.repeat(20_000)}!`],
    ['^deploy:gprd', `deploy:${'x'.repeat(100_000)}`],
  ].map(([pattern, name]) => {
    const re = compileJobPattern(pattern!);
    const ms: number[] = [];
    let matched = false;
    for (let i = 0; i < RUNS; i++) {
      const start = process.hrtime.bigint();
      matched = re.test(name!);
      ms.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    const r = { pattern, name_chars: name!.length, ms: Math.round(median(ms) * 1000) / 1000, matched };
    console.error(`bench: jobPattern ${pattern} on a ${name!.length}-character job name: ${r.ms} ms`);
    return r;
  });
  const headline = results[0]!;
  const result = {
    benchmark: 'hostile',
    what: 'parseDryRunTrace (decisions/dry-run-diff.ts) on hostile CI logs against a normal job log, same process, median of runs',
    runs: RUNS,
    limits: { maxChars: TRACE_LIMITS.maxChars, maxLineChars: TRACE_LIMITS.maxLineChars, maxJsonChars: TRACE_LIMITS.maxJsonChars },
    normal_log: { chars: normal.length, ms: base.ms, verdict: base.verdict },
    five_mb_with_one_mb_line_ms: headline.ms,
    target: { five_mb_with_one_mb_line_ms: '< 1000', verdict: 'never no-op', job_pattern_ms: '< 100' },
    cases: results,
    job_patterns: jobPatterns,
  };
  console.error(`bench: normal log ${normal.length} chars in ${base.ms} ms; 5 MB with a 1 MB line in ${headline.ms} ms`);
  writeResult('hostile', result, { five_mb_with_one_mb_line_ms: headline.ms, normal_log_ms: base.ms, job_pattern_max_ms: Math.max(...jobPatterns.map((p) => p.ms)) });
  if (!(headline.ms < 1000) || results.some((r) => r.verdict === 'no-op') || jobPatterns.some((p) => !(p.ms < 100))) process.exitCode = 1;
}

main();
