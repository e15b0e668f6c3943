// The command line's help, usage errors and exit statuses, and that its start-up stays light.
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT, main } from '../../cli/main';
import { decodeKey, publicKeyOf } from '../../decisions/decision-proof';

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s), env: {} });
  return { code, out, err };
}

const COMMANDS = ['demo', 'serve', 'start', 'approve', 'reject', 'status', 'list', 'temporal', 'restore', 'worker', 'scan', 'history', 'report', 'keygen'];

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
    const { main } = require('./cli/main.ts');
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

describe('keygen', () => {
  test('prints a seed whose public key it names; -o writes a new file (600) and never overwrites one', async () => {
    const printed = await cli('keygen');
    expect(printed.code).toBe(EXIT.ok);
    const seed = decodeKey(printed.out.trim())!;
    expect(seed).toHaveLength(32);
    expect(printed.err).toBe(`public key (for decisionKeys): ${publicKeyOf(seed)}\n`);
    const file = join(mkdtempSync(join(tmpdir(), 'keygen-')), 'decision-key');
    const written = await cli('keygen', '-o', file);
    expect(written.out).toBe(`${publicKeyOf(decodeKey(readFileSync(file, 'utf8').trim())!)}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await cli('keygen', '-o', file)).toMatchObject({ code: EXIT.error, err: expect.stringMatching(/cannot write .*EEXIST/) });
  });
});

test('approve through serve needs a URL that is one and a user token', async () => {
  const run = async (env: NodeJS.ProcessEnv) => {
    let err = '';
    const code = await main(['approve', 'helm-unstuck/a/b/c', '--reason', 'x'], { out: () => undefined, err: (s) => (err += s), env });
    return { code, err };
  };
  expect(await run({ HELM_UNSTUCK_SERVER_URL: 'http://127.0.0.1:1' })).toEqual({ code: EXIT.error, err: 'helm-unstuck approve: HELM_UNSTUCK_SERVER_URL is set: your user token is needed too (HELM_UNSTUCK_USER_TOKEN or HELM_UNSTUCK_USER_TOKEN_FILE)\n' });
  expect(await run({ HELM_UNSTUCK_SERVER_URL: 'not a url', HELM_UNSTUCK_USER_TOKEN: 't' })).toMatchObject({ code: EXIT.error, err: expect.stringMatching(/is not a URL/) });
  expect(await run({ HELM_UNSTUCK_SERVER_URL: 'http://127.0.0.1:1', HELM_UNSTUCK_USER_TOKEN: 't' })).toMatchObject({ code: EXIT.error, err: expect.stringMatching(/^helm-unstuck approve: cannot reach helm-unstuck serve at http:\/\/127\.0\.0\.1:1 \(/) });
});

test("start refuses a namespace the cluster does not allow, before connecting to anything", async () => {
  const config = join(mkdtempSync(join(tmpdir(), 'cli-ns-')), 'config.yaml');
  writeFileSync(config, 'clusters: {gprd: {gitlab: [{project: 1, environment: gprd}], namespaces: [gitlab]}}\npolicy: {approvers: [alice]}\n');
  let err = '';
  // TEMPORAL_ADDRESS nobody answers: reaching it would fail differently.
  const code = await main(['start', '--cluster', 'gprd', '-n', 'kube-system', '--release', 'x', '--by', 'alice'], { out: () => undefined, err: (s) => (err += s), env: { HELM_UNSTUCK_CONFIG: config, TEMPORAL_ADDRESS: '127.0.0.1:1' } });
  expect({ code, err }).toEqual({ code: EXIT.error, err: 'helm-unstuck start: namespace "kube-system" is not among the namespaces allowed in cluster "gprd" (clusters.gprd.namespaces)\n' });
});

describe('approve names the hold and plan it answers, and sends only what the person saw', () => {
  const ID = 'helm-unstuck/gprd/gitlab/gitlab';
  const PLAN = 'a1b2c3d4e5f6';
  const atGate = {
    incident: ID, step: 'approval', hold: 'approval', waitingFor: 'a human', escalations: 0, evidence: [],
    view: { plan: { strategy: 'delete', digest: PLAN, records: [{ objectName: 'sh.helm.release.v1.gitlab.v1235', revision: 1235, status: 'pending-upgrade', uid: 'u-1', resourceVersion: '42', backupName: 'b' }] } },
  };
  let status: object = atGate;
  const posted: unknown[] = [];
  let serve: Server;
  let url: string;
  beforeAll(async () => {
    serve = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        if (req.method === 'GET') return res.end(JSON.stringify(status));
        posted.push(JSON.parse(body));
        res.end(JSON.stringify({ accepted: true, step: 'approval', by: 'alice', verifiedBy: 'token' }));
      });
    });
    await new Promise<void>((ok) => serve.listen(0, '127.0.0.1', ok));
    url = `http://127.0.0.1:${(serve.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((ok) => serve.close(ok)));
  beforeEach(() => {
    posted.length = 0;
    status = atGate;
  });

  async function decide(argv: string[], confirm?: (q: string) => Promise<boolean>) {
    let out = '';
    let err = '';
    const env = { HELM_UNSTUCK_SERVER_URL: url, HELM_UNSTUCK_USER_TOKEN: 'alice-token' };
    const code = await main([...argv.slice(0, 1), ID, '--reason', 'CI quiet', ...argv.slice(1)], { out: (s) => (out += s), err: (s) => (err += s), env, ...(confirm ? { confirm } : {}) });
    return { code, out, err };
  }
  const SAID = `helm-unstuck approve: incident ${ID} waits at the approval gate; this sends approve on plan ${PLAN}: back up and delete sh.helm.release.v1.gitlab.v1235 (pending-upgrade, uid u-1)\n`;

  test('not at a terminal, without --plan or --yes: it says what it would answer, and sends nothing', async () => {
    expect(await decide(['approve'])).toEqual({ code: EXIT.error, out: '', err: `${SAID}helm-unstuck approve: not at a terminal, so not asked: name what you approve with --plan ${PLAN} or --yes; nothing was sent\n` });
    expect(posted).toEqual([]);
  });

  test('a --plan that is not the plan shown now is refused before sending', async () => {
    const r = await decide(['approve', '--plan', '000000000000']);
    expect(r).toMatchObject({ code: EXIT.error, err: expect.stringContaining(`helm-unstuck approve: --plan 000000000000 is not the plan the incident shows now (${PLAN}): nothing was sent`) });
    expect(posted).toEqual([]);
    // Even with --yes, and on a reject.
    expect((await decide(['approve', '--plan', '000000000000', '--yes'])).code).toBe(EXIT.error);
    expect((await decide(['reject', '--plan', '000000000000'])).code).toBe(EXIT.error);
    expect(posted).toEqual([]);
  });

  test('--plan matching the plan shown, or --yes, sends it on that plan', async () => {
    expect(await decide(['approve', '--plan', PLAN])).toMatchObject({ code: EXIT.ok, err: SAID });
    expect(await decide(['approve', '--yes'])).toMatchObject({ code: EXIT.ok, err: SAID });
    expect(posted).toEqual([{ action: 'approve', reason: 'CI quiet', plan: PLAN }, { action: 'approve', reason: 'CI quiet', plan: PLAN }]);
  });

  test('at a terminal it asks after saying what it answers: no sends nothing, yes sends', async () => {
    const asked: string[] = [];
    let errWhenAsked = '';
    const no = await decide(['approve'], async (q) => {
      asked.push(q);
      return false;
    });
    expect(no).toMatchObject({ code: EXIT.error, err: `${SAID}helm-unstuck approve: not confirmed: nothing was sent\n` });
    expect(posted).toEqual([]);
    let err = '';
    const code = await main(['approve', ID, '--reason', 'CI quiet'], {
      out: () => undefined,
      err: (s) => (err += s),
      env: { HELM_UNSTUCK_SERVER_URL: url, HELM_UNSTUCK_USER_TOKEN: 'alice-token' },
      confirm: async (q) => {
        asked.push(q);
        errWhenAsked = err;
        return true;
      },
    });
    expect([code, errWhenAsked, asked]).toEqual([EXIT.ok, SAID, ['approve this? [y/N] ', 'approve this? [y/N] ']]);
    expect(posted).toEqual([{ action: 'approve', reason: 'CI quiet', plan: PLAN }]);
  });

  test('on a busy-CI hold it names the hold; there is no plan to name, so --plan is refused and --yes continues', async () => {
    status = { ...atGate, step: 'check-ci', hold: 'ci-busy', view: {} };
    expect(await decide(['approve', '--plan', PLAN])).toMatchObject({ code: EXIT.error, err: expect.stringContaining('is not the plan the incident shows now (none at this hold)') });
    const r = await decide(['approve', '--yes']);
    expect(r).toMatchObject({ code: EXIT.ok, err: `helm-unstuck approve: incident ${ID} waits at the busy-CI hold; this sends continue (no plan to name at this hold)\n` });
    expect(posted).toEqual([{ action: 'continue', reason: 'CI quiet' }]);
  });

  test('reject stops without asking, on the plan shown', async () => {
    expect((await decide(['reject'])).code).toBe(EXIT.ok);
    expect(posted).toEqual([{ action: 'reject', reason: 'CI quiet', plan: PLAN }]);
  });
});
