// The GitLab adapter and the CI activities against the fake GitLab, which follows
// ../shared/reference/gitlab-api.md. Plain HTTP on loopback; no other server needed.
import { createMechanisms } from '../../activities';
import { GitlabClient } from '../../activities/gitlab';
import { TRACE_LIMITS } from '../../decisions/dry-run-diff';
import { FakeGitlab } from '../fake-gitlab/server';

const TOKEN = 'glpat-test';
const P = 42;
let gl: FakeGitlab;
let client: GitlabClient;
let acts: ReturnType<typeof createMechanisms>;

beforeEach(async () => {
  gl = new FakeGitlab({ token: TOKEN });
  await gl.start();
  gl.addProject(P, 'gitlab-com/gl-infra/k8s-workloads/gitlab-com');
  client = new GitlabClient(gl.url, TOKEN);
  acts = createMechanisms({ kubeFor: () => { throw new Error('no kube here'); }, gitlab: () => client });
});
afterEach(() => gl.stop());

const watch = { project: P, environment: 'gprd-us-east1-b' };

describe('GitlabClient', () => {
  test('lists running and pending jobs newest first, across pages, by id or by path', async () => {
    for (let i = 0; i < 230; i++) gl.addJob(P, { name: `job-${i}`, status: i % 2 ? 'running' : 'success' });
    gl.addJob(P, { name: 'queued', status: 'pending' });
    const jobs = await client.activeJobs(P);
    expect(jobs).toHaveLength(116);
    expect(jobs[0]).toMatchObject({ name: 'queued', status: 'pending' });
    expect(jobs.map((j) => j.id)).toEqual([...jobs.map((j) => j.id)].sort((a, b) => b - a));
    expect(await client.activeJobs('gitlab-com/gl-infra/k8s-workloads/gitlab-com')).toHaveLength(116);
    // Two pages of 100 were needed.
    expect(gl.calls.filter((c) => c.path.endsWith('/jobs')).length).toBe(2 * 2);
  });

  test('a retry answers with a new job, whose id differs', async () => {
    const failed = gl.addJob(P, { name: 'gprd-us-east1-b:upgrade', status: 'failed' });
    const fresh = await client.retry(P, failed.id);
    expect(fresh.id).not.toBe(failed.id);
    expect(fresh).toMatchObject({ name: 'gprd-us-east1-b:upgrade', status: 'pending' });
  });

  test.each([
    ['a bad token', () => new GitlabClient(gl.url, 'wrong').activeJobs(P), 'GitlabAuthError', /401/],
    ['an unknown project', () => client.activeJobs(7), 'GitlabNotFoundError', /404 Project Not Found/],
    ['an unknown job', () => client.job(P, 99999), 'GitlabNotFoundError', /404 Not found/],
    ['an erased job', () => client.retry(P, gl.addJob(P, { name: 'x', status: 'failed', erased: true }).id), 'GitlabJobNotRetryableError', /Job is not retryable/],
    ['a server error', () => (gl.faults.push({ status: 500 }), client.activeJobs(P)), 'GitlabUnavailableError', /500/],
  ])('%s is a typed error', async (_what, fn, name, message) => {
    await expect(fn()).rejects.toMatchObject({ name, message: expect.stringMatching(message) });
  });

  test('an answer that does not fit the contract is a clear, non-retryable error at the adapter', async () => {
    gl.faults.push({ status: 200, body: { id: 7, name: 'no web_url', stage: 'deploy', status: 'failed', ref: 'master' } });
    await expect(client.job(P, 7)).rejects.toMatchObject({
      name: 'GitlabError',
      message: expect.stringMatching(/^read job 7 of project 42: GitLab answered something unexpected: .*web_url/s),
    });
  });

  test('429 with Retry-After is retried by gitbeaker itself', async () => {
    gl.addJob(P, { name: 'a', status: 'running' });
    gl.faults.push({ status: 429, headers: { 'retry-after': '1' }, body: { message: 'Retry later' } });
    expect(await client.activeJobs(P)).toHaveLength(1);
    expect(gl.calls.map((c) => c.status)).toEqual([429, 200]);
  });
});

describe('CI activities', () => {
  test('quiet when nothing runs for the environment', async () => {
    gl.addJob(P, { name: 'gprd-us-east1-b:upgrade', status: 'success' });
    const r = await acts.checkCiQuiet([watch]);
    expect(r).toMatchObject({ quiet: true, busy: [], summary: expect.stringMatching(/^CI quiet/) });
  });

  test('busy with a running job or a running deployment, each listed', async () => {
    const job = gl.addJob(P, { name: 'gprd-us-east1-b:upgrade', status: 'running' });
    gl.addDeployment(P, { environment: 'gprd-us-east1-b', status: 'running', job });
    gl.addDeployment(P, { environment: 'gstg', status: 'running', job });
    const r = await acts.checkCiQuiet([watch]);
    expect(r.quiet).toBe(false);
    expect(r.busy.map((b) => [b.kind, b.status])).toEqual([
      ['job', 'running'],
      ['deployment', 'running'],
    ]);
  });

  test('jobPattern narrows which jobs count', async () => {
    gl.addJob(P, { name: 'gstg:upgrade', stage: 'deploy', status: 'running' });
    expect((await acts.checkCiQuiet([watch])).quiet).toBe(false);
    expect((await acts.checkCiQuiet([{ ...watch, jobPattern: 'gprd-us-east1-b' }])).quiet).toBe(true);
  });

  test('a catastrophic jobPattern on a long hostile job name answers at once (RE2, no backtracking)', async () => {
    gl.addJob(P, { name: `${'a'.repeat(50_000)}!`, stage: 'deploy', status: 'running' });
    const start = Date.now();
    // A backtracking engine takes exponential time in the name's length on this pattern and name.
    const r = await acts.checkCiQuiet([{ ...watch, jobPattern: '(a+)+$' }]);
    expect(Date.now() - start).toBeLessThan(2000);
    expect(r.busy.filter((b) => b.kind === 'job')).toEqual([]);
    expect((await acts.checkCiQuiet([{ ...watch, jobPattern: '^deploy:a+!$' }])).busy.map((b) => b.kind)).toEqual(['job']);
  });

  test('a job log over the cap is read only up to it, and judged unknown, saying why', async () => {
    const job = gl.addJob(P, { name: 'gprd:upgrade', status: 'success', trace: `$ helm diff upgrade x ./c\n${'x'.repeat(TRACE_LIMITS.maxChars + (4 << 20))}` });
    const r = await acts.readDryRunDiff({ project: P, jobId: job.id });
    expect(r.diff).toMatchObject({ verdict: 'unknown', reason: expect.stringMatching(/^could not tell: the trace is over the 16777216-byte cap \(reading stopped after \d+ bytes\) and was not judged$/) });
    // Reading stopped near the cap, not at the end of the 20 MiB log.
    expect(r.traceBytes).toBeGreaterThan(TRACE_LIMITS.maxChars);
    expect(r.traceBytes).toBeLessThan(TRACE_LIMITS.maxChars + (2 << 20));
  });

  test('a trace GitLab refuses is our typed error', async () => {
    await expect(client.trace(P, 999_999, 1024)).rejects.toMatchObject({ name: 'GitlabNotFoundError', status: 404 });
  });

  test('finds the job of the newest failed deployment, retries it, reads the verdict', async () => {
    const old = gl.addJob(P, { name: 'gprd-us-east1-b:upgrade', status: 'failed' });
    const newest = gl.addJob(P, { name: 'gprd-us-east1-b:upgrade', status: 'failed' });
    gl.addDeployment(P, { environment: 'gprd-us-east1-b', status: 'failed', job: old });
    gl.addDeployment(P, { environment: 'gprd-us-east1-b', status: 'failed', job: newest });
    const job = await acts.findJobToRerun(watch);
    expect(job?.id).toBe(newest.id);
    const rerun = await acts.retryCiJob({ project: P, jobId: newest.id });
    gl.setJob(P, rerun.id, 'success', '$ helmfile -e gprd diff --detailed-exitcode\nComparing release=gitlab, chart=gitlab/gitlab, namespace=gitlab\nNo affected releases\n');
    const r = await acts.readDryRunDiff({ project: P, jobId: rerun.id });
    expect(r).toMatchObject({ job: { id: rerun.id, status: 'success' }, diff: { verdict: 'no-op' } });
    expect(r.traceBytes).toBeGreaterThan(0);
  });

  test('no failed deployment: nothing to re-run', async () => {
    expect(await acts.findJobToRerun(watch)).toBeNull();
  });

  test('bad watches are refused before any request', async () => {
    await expect(acts.checkCiQuiet([])).rejects.toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    await expect(acts.checkCiQuiet([{ ...watch, jobPattern: '(' }])).rejects.toMatchObject({ message: expect.stringMatching(/not an RE2 regular expression/) });
    expect(gl.calls).toEqual([]);
  });

  test('a retry of a non-retryable job fails non-retryably, naming the reason', async () => {
    const archived = gl.addJob(P, { name: 'x', status: 'failed', archived: true });
    await expect(acts.retryCiJob({ project: P, jobId: archived.id })).rejects.toMatchObject({ type: 'CiJobNotRetryable', nonRetryable: true });
  });
});

test('retryCiJob is idempotent: a second call finds the first retry instead of retrying again', async () => {
  const failed = gl.addJob(P, { name: 'gprd:upgrade', status: 'failed' });
  const first = await acts.retryCiJob({ project: P, jobId: failed.id });
  const second = await acts.retryCiJob({ project: P, jobId: failed.id });
  expect(first).toMatchObject({ alreadyRetried: false });
  expect(second).toMatchObject({ id: first.id, alreadyRetried: true });
  expect(gl.retries()).toHaveLength(1);
});

describe('ids that reach a URL (issue 20: a job id of "../../../projects/42/variables#" read another API path with the token)', () => {
  test.each<[string, { project: unknown; jobId: unknown }]>([
    ['a job id that walks up the path', { project: P, jobId: '../../../projects/42/variables#' }],
    ['a job id that is not whole', { project: P, jobId: 1.5 }],
    ['a job id of zero', { project: P, jobId: 0 }],
    ['a project path that walks up', { project: 'group/../../admin', jobId: 1 }],
    ['a project with a query', { project: 'group/p?private_token=x', jobId: 1 }],
    ['no project', { project: undefined, jobId: 1 }],
  ])('%s: refused as invalid input before any request', async (_, input) => {
    for (const act of [acts.readDryRunDiff, acts.getCiJob, acts.retryCiJob]) {
      await expect(act(input as never)).rejects.toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    }
    expect(gl.calls).toEqual([]);
  });
});
