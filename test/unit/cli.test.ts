// The command line's help, usage errors and exit statuses, and that its start-up stays light.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, main } from '../../client/cli';

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s), env: {} });
  return { code, out, err };
}

const COMMANDS = ['demo', 'serve', 'start', 'approve', 'reject', 'status', 'list', 'restore', 'worker', 'scan', 'history', 'report'];

test('--help lists every command; no command at all is bad usage', async () => {
  const help = await cli('--help');
  expect(help.code).toBe(EXIT.ok);
  for (const c of COMMANDS) expect(help.out).toMatch(new RegExp(`^  ${c} `, 'm'));
  expect(help.out).toContain("Run 'helm-unstuck <command> --help' for a command's options.");
  expect(await cli('help')).toMatchObject({ code: EXIT.ok, out: help.out });
  expect(await cli()).toMatchObject({ code: EXIT.usage, err: help.out });
});

test.each(COMMANDS)('%s --help and help %s show its usage and exit 0', async (c) => {
  const help = await cli(c, '--help');
  expect(help).toMatchObject({ code: EXIT.ok, out: expect.stringMatching(new RegExp(`^Usage: helm-unstuck ${c} `)) });
  expect(await cli('help', c)).toMatchObject({ code: EXIT.ok, out: help.out });
});

test("scan's help keeps its options and exit statuses", async () => {
  const { out } = await cli('scan', '-h');
  for (const flag of ['-n, --namespace', '--context', '--all-contexts', '--all-clusters', '--cluster-timeout', '--kubeconfig', '--driver', '-o, --output', '--fail-if-stuck']) expect(out).toContain(flag);
  expect(out).toContain('Exit status: 0, or 3 with --fail-if-stuck when a stuck release was found; 1 on errors, including\na cluster of the fleet that could not be scanned (when nothing stuck was found); 2 on bad usage.');
});

test('help is written at once, so `helm-unstuck --help | head -1` does not end in EPIPE', async () => {
  for (const argv of [['--help'], ['scan', '--help'], []]) {
    const writes: string[] = [];
    await main(argv, { out: (s) => writes.push(s), err: (s) => writes.push(s), env: {} });
    expect(writes).toHaveLength(1);
  }
});

test('--version prints the package version', async () => {
  expect(await cli('--version')).toMatchObject({ code: EXIT.ok, out: `${(JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version}\n` });
});

test.each([
  [['frobnicate'], /^helm-unstuck: unknown command 'frobnicate'\n/],
  [['scan', '--bogus'], /^helm-unstuck scan: unknown option '--bogus'\n\nUsage: helm-unstuck scan /],
  [['scan', '-o', 'yaml'], /^helm-unstuck scan: option '-o, --output <format>' argument 'yaml' is invalid/],
  [['scan', '--all-contexts', '--cluster-timeout', 'soon'], /^helm-unstuck scan: --cluster-timeout "soon" is not a duration \(e\.g\. 10s, 1m\)\n\nUsage: helm-unstuck scan /],
  [['scan', '--all-contexts', '--all-clusters'], /^helm-unstuck scan: option '--all-contexts' cannot be used with option '--all-clusters'/],
  [['start', '-n', 'x', '--release', 'y'], /^helm-unstuck start: required option '--cluster <name>' not specified/],
  [['approve'], /^helm-unstuck approve: missing required argument 'workflow-id'/],
  [['status', 'a', 'b'], /^helm-unstuck status: too many arguments/],
  [['demo', '--helm', '5'], /^helm-unstuck demo: option '--helm <major>' argument '5' is invalid/],
  [['report', 'neither-a-file-nor-an-id'], /^helm-unstuck report: "neither-a-file-nor-an-id" is neither a file nor a workflow id .*\n\nUsage: helm-unstuck report /],
])('%j is bad usage (exit 2), said clearly', async (argv, message) => {
  const r = await cli(...argv);
  expect(r).toMatchObject({ code: EXIT.usage, out: '' });
  expect(r.err).toMatch(message);
});

test('a command that fails says why and exits 1', async () => {
  const r = await cli('report', join(__dirname, 'cli.test.ts'));
  expect(r).toMatchObject({ code: EXIT.error, err: expect.stringMatching(/^helm-unstuck report: .*cli\.test\.ts is not a workflow history: /) });
});

test('--help and --version load neither Temporal, the Kubernetes client nor the worker', () => {
  // A fresh process: what `helm-unstuck --help` loads, listed from require's cache.
  const script = `
    const { main } = require('./client/cli.ts');
    main([process.env.FLAG], { out: () => {}, err: () => {}, env: {} }).then((code) => {
      process.stdout.write(JSON.stringify({ code, loaded: Object.keys(require.cache) }));
    });`;
  for (const flag of ['--help', '--version']) {
    const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
      cwd: join(__dirname, '..', '..'),
      env: { ...process.env, FLAG: flag },
      encoding: 'utf8',
    });
    expect(child.stderr).toBe('');
    const { code, loaded } = JSON.parse(child.stdout) as { code: number; loaded: string[] };
    expect(code).toBe(EXIT.ok);
    expect(loaded.some((m) => m.includes('node_modules/commander/'))).toBe(true);
    expect(loaded.filter((m) => /node_modules\/(@temporalio|@kubernetes|@gitbeaker)\/|\/(worker|server|demo|activities)\//.test(m))).toEqual([]);
  }
});
