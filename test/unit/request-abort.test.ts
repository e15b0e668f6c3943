// Requests end with their activity attempt: a cancelled attempt's requests to a server that never
// answers are aborted at once (not left hanging to overlap the retry), and the retry POST to
// GitLab is sent once, even when answered 502 (gitbeaker would send it again). The one exception,
// the unlock's write left to finish, keeps its connection after the attempt ends.
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { leftToFinish, requestSignal, withAttempt } from '../../activities/attempt';
import { clusterRegistry } from '../../activities/clusters';
import { GitlabClient, GitlabUnavailableError } from '../../activities/gitlab';
import { FakeGitlab } from '../fake-gitlab/server';
import { waitFor } from '../wait-for';

let silent: Server;
let url: string;
let received = 0;
beforeAll(async () => {
  // Takes every request and never answers, as a frozen server does.
  silent = createServer(() => void received++);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
});
afterAll(() => {
  silent.closeAllConnections();
  silent.close();
});

function activities() {
  const kubeconfig = join(tmpdir(), `request-abort-${process.pid}.kubeconfig`);
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'frozen', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'frozen', context: { cluster: 'frozen', user: 'u' } }],
      'current-context': 'frozen',
    }),
  );
  const gitlab = new GitlabClient(url, 'glpat-test');
  return createActivities({ kubeFor: clusterRegistry({ kubeconfig, contexts: { frozen: 'frozen' } }), gitlab: () => gitlab });
}

/** Run `fn` as an activity attempt, cancel it once its request hangs; how it ended, and how long that took. */
async function cancelled(fn: () => Promise<unknown>): Promise<{ error: Error; ms: number }> {
  const env = new MockActivityEnvironment({ startToCloseTimeoutMs: 120_000 });
  const before = received;
  const run = env.run(fn).then(() => new Error('it finished'), (e: unknown) => e as Error);
  await waitFor('the request at the silent server', () => received, (n) => n > before, { intervalMs: 50 }); // sent, and hangs
  const start = Date.now();
  env.cancel();
  const error = await run;
  return { error, ms: Date.now() - start };
}

test('a Kubernetes request of a cancelled attempt is aborted at once', async () => {
  const acts = activities();
  const { error, ms } = await cancelled(() => acts.readReleaseHistory({ cluster: 'frozen', namespace: 'gitlab', release: 'gitlab' }));
  expect(error.message).toMatch(/list Secrets .*: the activity attempt ended/);
  expect(ms).toBeLessThan(2_000);
});

test('a GitLab request of a cancelled attempt is aborted at once', async () => {
  const acts = activities();
  const { error, ms } = await cancelled(() => acts.getCiJob({ project: 1, jobId: 2 }));
  expect(error).toBeInstanceOf(GitlabUnavailableError);
  expect(error.message).toMatch(/read job 2 of project 1: the activity attempt ended/);
  expect(ms).toBeLessThan(2_000);
});

test('an attempt ends its requests before its start-to-close timeout, so it is over before Temporal retries it', async () => {
  const acts = activities();
  // A 10.5 s start-to-close timeout: the attempt stops its requests 10 s before it, at 0.5 s.
  const env = new MockActivityEnvironment({ startToCloseTimeoutMs: 10_500 });
  const start = Date.now();
  const error = (await env.run(acts.verifyRelease, { cluster: 'frozen', namespace: 'gitlab', release: 'gitlab', expect: { deployedRevision: 1 } }).catch((e: unknown) => e)) as Error;
  expect(error.message).toMatch(/: the activity attempt ended/);
  expect(Date.now() - start).toBeLessThan(5_000);
});

test("a write left to finish keeps its request open when the attempt ends (closing it would not unsend it); the attempt's other requests end with it", async () => {
  const signals: { read?: AbortSignal; write?: AbortSignal } = {};
  const attempt = withAttempt(async () => {
    signals.read = requestSignal(15_000);
    await leftToFinish(60_000, async () => void (signals.write = requestSignal(15_000)));
  });
  await new MockActivityEnvironment({ startToCloseTimeoutMs: 120_000 }).run(attempt);
  expect(signals.read?.aborted).toBe(true);
  expect(signals.write?.aborted).toBe(false);
});

test('the retry POST answered 502 is sent once, and is worth retrying', async () => {
  const gl = new FakeGitlab({ token: 'glpat-test' });
  await gl.start();
  try {
    gl.addProject(7, 'g/p');
    const failed = gl.addJob(7, { name: 'deploy', status: 'failed' });
    gl.faults.push({ status: 502, match: /\/retry$/ }, { status: 502, match: /\/retry$/ });
    const err = await new GitlabClient(gl.url, 'glpat-test').retry(7, failed.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitlabUnavailableError);
    expect((err as Error).message).toMatch(/retry job \d+ of project 7: GitLab answered 502/);
    expect(gl.calls.filter((c) => c.method === 'POST')).toHaveLength(1);
  } finally {
    await gl.stop();
  }
});

test('a request signal still times out after a garbage collection (nothing else holds it while the request waits)', async () => {
  // `gc` from a fresh context, as node does not expose it without --expose-gc.
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const env = new MockActivityEnvironment();
  const fired = await env.run(
    withAttempt(async () => {
      // Only a listener's promise refers to the signal, as with a request waiting on a frozen server.
      const aborted = new Promise<string>((ok) => requestSignal(300).addEventListener('abort', function (this: AbortSignal) {
        ok((this.reason as { name?: string }).name ?? '');
      }));
      for (let i = 0; i < 5; i++) {
        gc();
        await new Promise((r) => setTimeout(r, 20));
      }
      return Promise.race([aborted, new Promise<string>((r) => setTimeout(() => r('never fired'), 3000))]);
    }),
  );
  expect(fired).toBe('TimeoutError');
});
