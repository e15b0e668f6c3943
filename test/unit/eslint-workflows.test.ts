// workflows/ must stay deterministic: the lint rules that enforce it must actually fire.
// Runs the real eslint CLI once over probe files placed where the rules apply.
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';

const root = join(__dirname, '..', '..');
const probeDirs = {
  workflows: join(root, 'workflows', `__lint_probes_${process.pid}__`),
  activities: join(root, 'activities', `__lint_probes_${process.pid}__`),
};

const rejected: [string, RegExp][] = [
  ["import { readFileSync } from 'node:fs';\nexport const x = readFileSync;", /no Node built-ins/],
  ["import * as fs from 'fs';\nexport const x = fs;", /no Node built-ins/],
  ["import * as k8s from '@kubernetes/client-node';\nexport const x = k8s;", /must not do I\/O/],
  ["import { Gitlab } from '@gitbeaker/rest';\nexport const x = Gitlab;", /must not do I\/O/],
  ["import { Client } from '@temporalio/client';\nexport const x = Client;", /must not do I\/O/],
  ["import { createActivities } from '../../activities';\nexport const x = createActivities;", /as types only/],
  ['export const x = process.env.HOME;', /no process/],
  ["export const x = () => fetch('http://example.invalid');", /call an activity/],
  ['export const x = setInterval(() => 0, 1);', /sleep\(\) or condition\(\)/],
];
const allowed = [
  "import type { Activities } from '../../activities';",
  "import { proxyActivities } from '@temporalio/workflow';",
  "import { determineReleaseState } from '../../decisions/release-state';",
  'export const a = proxyActivities<Activities>({ startToCloseTimeout: 1000 });',
  'export const d = determineReleaseState;',
].join('\n');

let messages: Record<string, string>;

beforeAll(async () => {
  const files: Record<string, string> = {};
  rejected.forEach(([code], i) => (files[join(probeDirs.workflows, `bad${i}.ts`)] = code));
  files[join(probeDirs.workflows, 'good.ts')] = allowed;
  files[join(probeDirs.activities, 'outside.ts')] = rejected[0]![0];
  for (const d of Object.values(probeDirs)) mkdirSync(d, { recursive: true });
  for (const [f, code] of Object.entries(files)) writeFileSync(f, code + '\n');
  const eslint = join(root, 'node_modules', '.bin', 'eslint');
  const run = promisify(execFile);
  const { stdout } = await run(eslint, ['-f', 'json', ...Object.keys(files)], { cwd: root }).catch(
    (e: { stdout: string }) => ({ stdout: e.stdout }),
  );
  const results = JSON.parse(stdout) as { filePath: string; messages: { ruleId: string; message: string }[] }[];
  messages = Object.fromEntries(
    results.map((r) => [relative(root, r.filePath), r.messages.map((m) => `${m.ruleId}: ${m.message}`).join('\n')]),
  );
}, 120_000);

afterAll(() => {
  for (const d of Object.values(probeDirs)) rmSync(d, { recursive: true, force: true });
});

const rel = (dir: string, f: string) => relative(root, join(dir, f));

describe('lint rules for workflows/', () => {
  test.each(rejected.map(([code, msg], i) => [code, msg, i] as const))('rejects %s', (_code, message, i) => {
    expect(messages[rel(probeDirs.workflows, `bad${i}.ts`)]).toMatch(message);
  });

  test('allows type-only imports of activities, the workflow API and decisions/', () => {
    expect(messages[rel(probeDirs.workflows, 'good.ts')]).toBe('');
  });

  test('the same code is fine outside workflows/', () => {
    expect(messages[rel(probeDirs.activities, 'outside.ts')]).toBe('');
  });
});
