// workflows/ must stay deterministic: the lint rules that enforce it must actually fire.
// Lints probe code with the repo's eslint.config.mjs through ESLint's API (lintText), as if it
// were a file in workflows/ (or activities/): nothing is written to disk. ESLint loads its
// configuration with a dynamic import, which jest's module sandbox refuses, so the probes are
// linted in one plain Node process.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const root = join(__dirname, '..', '..');
const inWorkflows = join(root, 'workflows', 'lint-probe.ts');
const inActivities = join(root, 'activities', 'lint-probe.ts');

const rejected: [string, RegExp][] = [
  ["import { readFileSync } from 'node:fs';\nexport const x = readFileSync;", /no Node built-ins/],
  ["import * as fs from 'fs';\nexport const x = fs;", /no Node built-ins/],
  ["import * as k8s from '@kubernetes/client-node';\nexport const x = k8s;", /must not do I\/O/],
  ["import { Gitlab } from '@gitbeaker/rest';\nexport const x = Gitlab;", /must not do I\/O/],
  ["import { Client } from '@temporalio/client';\nexport const x = Client;", /must not do I\/O/],
  ["import { createActivities } from '../activities';\nexport const x = createActivities;", /as types only/],
  ['export const x = process.env.HOME;', /no process/],
  ["export const x = () => fetch('http://example.invalid');", /call an activity/],
  ['export const x = setInterval(() => 0, 1);', /sleep\(\) or condition\(\)/],
];
const allowed = [
  "import type { Activities } from '../activities';",
  "import { proxyActivities } from '@temporalio/workflow';",
  "import { determineReleaseState } from '../decisions/release-state';",
  'export const a = proxyActivities<Activities>({ startToCloseTimeout: 1000 });',
  'export const d = determineReleaseState;',
].join('\n');

type Probe = { code: string; filePath: string };
/** Reads the probes as JSON on stdin; prints, for each, eslint's `rule: message` lines ('' when none). */
const LINT_PROBES = `
import { ESLint } from 'eslint';
let input = '';
for await (const chunk of process.stdin) input += chunk;
const eslint = new ESLint({ cwd: process.cwd() });
const said = [];
for (const p of JSON.parse(input)) {
  const [result] = await eslint.lintText(p.code + '\\n', { filePath: p.filePath });
  said.push(result.messages.map((m) => m.ruleId + ': ' + m.message).join('\\n'));
}
process.stdout.write(JSON.stringify(said));
`;

async function lintAll(probes: Probe[]): Promise<string[]> {
  const child = promisify(execFile)(process.execPath, ['--input-type=module', '-e', LINT_PROBES], { cwd: root });
  child.child.stdin!.end(JSON.stringify(probes));
  return JSON.parse((await child).stdout) as string[];
}

let said: string[];
beforeAll(async () => {
  said = await lintAll([
    ...rejected.map(([code]) => ({ code, filePath: inWorkflows })),
    { code: allowed, filePath: inWorkflows },
    { code: rejected[0]![0], filePath: inActivities },
  ]);
}, 120_000);

describe('lint rules for workflows/', () => {
  test.each(rejected.map(([code, message], i) => [code, message, i] as const))('rejects %s', (_code, message, i) => {
    expect(said[i]).toMatch(message);
  });

  test('allows type-only imports of activities, the workflow API and decisions/', () => {
    expect(said[rejected.length]).toBe('');
  });

  test('the same code is fine outside workflows/', () => {
    expect(said[rejected.length + 1]).toBe('');
  });
});
