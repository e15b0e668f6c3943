// The chaos matrix: every fault the issue names, as runs for test/stack/chaos.ts's runIncident.
// Scenario names are the rows of bench/results/chaos.json.
import type { ChaosCluster, ChaosStack, RunContext, RunSpec } from './chaos';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The happy path's activity types, in order (the re-check's second calls are the same types). */
export const ACTIVITY_TYPES = [
  'checkCiQuiet',
  'checkDeploymentHealth',
  'readReleaseHistory',
  'unlockRelease',
  'verifyRelease',
  'findJobToRerun',
  'retryCiJob',
  'getCiJob',
  'readDryRunDiff',
  'reportOutcome',
] as const;

/** A re-run job that runs a few seconds, so the workflow polls it (getCiJob) on a durable timer. */
const RERUN_MS = 3000;

/**
 * The worker SIGKILLed at an activity boundary: as the activity starts (nothing done), after it
 * did its work but before Temporal heard (the result is lost), or once its completion is in
 * history. A new worker takes over.
 */
export function workerKill(activity: string, where: 'before' | 'after' | 'completed', nth = 1): RunSpec {
  return {
    scenario: 'worker-kill-at-activity',
    name: `${activity}#${nth} ${where === 'before' ? 'as it starts' : where === 'after' ? 'after its work, result unreported' : 'after its completion is in history'}`,
    rerunForMs: RERUN_MS,
    ...(where === 'completed' ? {} : { pause: `${activity}:${where}:${nth}` }),
    async fault(ctx) {
      if (where === 'completed') await ctx.waitForEvent(activity, 'completed', nth);
      else await ctx.worker.paused();
      await ctx.replaceWorker(1000);
    },
  };
}

/** The worker SIGKILLed during each durable wait: approval, CI busy, a young revision, the re-run job. */
export function workerKillInWaits(): RunSpec[] {
  const kill = (delayMs: number, before?: (ctx: RunContext) => void) => async (ctx: RunContext) => {
    await ctx.replaceWorker(delayMs);
    before?.(ctx);
  };
  return [
    {
      scenario: 'worker-kill-in-durable-wait',
      name: 'approval wait',
      rerunForMs: RERUN_MS,
      approveDelayMs: 10_000,
      async fault(ctx) {
        await ctx.waitForStatus((s) => s.hold === 'approval');
        await kill(3000)(ctx);
      },
    },
    {
      scenario: 'worker-kill-in-durable-wait',
      name: 'CI-busy timer (runbook step 1)',
      rerunForMs: RERUN_MS,
      ciBusyForMs: 12_000,
      policy: { ciRecheckInterval: '4s', ciMaxChecks: 20 },
      async fault(ctx) {
        await ctx.waitForStatus((s) => /CI to go quiet/.test(s.waitingFor ?? ''));
        await kill(3000)(ctx);
      },
    },
    {
      scenario: 'worker-kill-in-durable-wait',
      name: 'young pending revision timer (step 3)',
      rerunForMs: RERUN_MS,
      policy: { minPendingAge: '30s' },
      async fault(ctx) {
        await ctx.waitForStatus((s) => /pending revision to be/.test(s.waitingFor ?? ''));
        await kill(3000)(ctx);
      },
    },
    {
      scenario: 'worker-kill-in-durable-wait',
      name: 're-run CI job timer (step 6)',
      async fault(ctx) {
        await ctx.waitForStatus((s) => /CI job \d+ \(\w+\) to finish/.test(s.waitingFor ?? ''));
        await ctx.worker.kill();
        ctx.note('worker killed');
        ctx.finishRerun();
        await sleep(2000);
        await ctx.replaceWorker();
      },
    },
  ];
}

/**
 * The Temporal server SIGKILLed and started again on its database file, during the approval wait
 * and during unlock, verify and roll-forward (the worker held at that activity meanwhile). These
 * runs need a Temporal of their own, one run at a time.
 */
export function temporalKill(): RunSpec[] {
  const restart = async (ctx: RunContext, resumeWorker: boolean) => {
    await ctx.stack.temporal.kill();
    ctx.note('temporal killed');
    if (resumeWorker) ctx.worker.resume();
    await sleep(5000);
    await ctx.stack.temporal.start();
    ctx.note('temporal started again');
  };
  const at = (name: string, pause: string): RunSpec => ({
    scenario: 'temporal-kill-restart',
    name,
    pause,
    rerunForMs: RERUN_MS,
    async fault(ctx) {
      await ctx.worker.paused();
      await restart(ctx, true);
    },
  });
  return [
    {
      scenario: 'temporal-kill-restart',
      name: 'approval wait',
      rerunForMs: RERUN_MS,
      approveDelayMs: 20_000,
      async fault(ctx) {
        await ctx.waitForStatus((s) => s.hold === 'approval');
        await restart(ctx, false);
      },
    },
    at('unlock (record deleted, completion in flight)', 'unlockRelease:after:1'),
    at('verify (as verifyRelease starts)', 'verifyRelease:before:1'),
    at('roll-forward (job retried, completion in flight)', 'retryCiJob:after:1'),
  ];
}

/**
 * Where the API server goes away: as health, unlock or verify starts, or inside the unlock just
 * after its backup is written (the worker's first createRecord), so that its DELETE goes into the
 * stopped server. With SIGSTOP that DELETE waits in the kernel's socket buffer after the attempt
 * gave up on it, and runs when the server resumes, racing the retry's own reads (issue 14's
 * "exactly one DELETE request").
 */
export const API_POINTS = {
  health: 'checkDeploymentHealth:before:1',
  unlock: 'unlockRelease:before:1',
  'unlock-after-backup': 'kube.createRecord:after:1',
  verify: 'verifyRelease:before:1',
} as const;

/**
 * The API server stopped (SIGSTOP: connections hang) or killed (connections refused, then a new
 * kube-apiserver on the same etcd) for `ms`, just as the worker reaches `point`. Each needs a
 * control plane of its own.
 */
export function apiOutage(mode: 'sigstop' | 'kill', point: keyof typeof API_POINTS, ms: number): RunSpec {
  return {
    scenario: `api-server-${mode}-${ms >= 600_000 ? '10m' : `${ms / 1000}s`}`,
    name: `at ${point}`,
    pause: API_POINTS[point],
    rerunForMs: RERUN_MS,
    timeoutMs: ms + 20 * 60_000,
    async fault(ctx) {
      await ctx.worker.paused();
      const cp = ctx.stack.cp;
      if (mode === 'sigstop') process.kill(cp.apiServerPid(), 'SIGSTOP');
      else await cp.killApiServer();
      ctx.note(`API server ${mode === 'sigstop' ? 'stopped' : 'killed'}`);
      ctx.worker.resume();
      await sleep(ms);
      if (mode === 'sigstop') process.kill(cp.apiServerPid(), 'SIGCONT');
      else await cp.startApiServer();
      ctx.note('API server back');
    },
  };
}

/** GitLab answering errors in bursts at runbook steps 1 and 6. */
export function gitlabBursts(status: 500 | 502 | 503 | 429): RunSpec {
  const headers = status === 429 ? { 'retry-after': '2' } : undefined;
  const burst = (n: number, match?: RegExp) => Array.from({ length: n }, () => ({ status, ...(headers ? { headers } : {}), ...(match ? { match } : {}) }));
  return {
    scenario: status === 429 ? 'gitlab-429-bursts' : 'gitlab-5xx-bursts',
    name: `${status} x3 at checkCiQuiet and x3 at retryCiJob`,
    ownGitlab: true,
    pause: 'checkCiQuiet:before:1,retryCiJob:before:1',
    rerunForMs: RERUN_MS,
    async fault(ctx) {
      await ctx.worker.paused('checkCiQuiet:before:1');
      ctx.stack.gitlab.faults.push(...burst(3));
      ctx.worker.resume();
      await ctx.worker.paused('retryCiJob:before:1');
      ctx.stack.gitlab.faults.push(...burst(3, /\/retry$/));
      ctx.worker.resume();
    },
  };
}

/** GitLab unreachable (connection refused) for `ms`, as the activity at `pause` starts. */
export function gitlabDown(pause: string, ms: number): RunSpec {
  return {
    scenario: 'gitlab-unreachable-5m',
    name: `at ${pause.split(':')[0]}`,
    ownGitlab: true,
    pause,
    rerunForMs: RERUN_MS,
    timeoutMs: ms + 20 * 60_000,
    async fault(ctx) {
      await ctx.worker.paused();
      const g = ctx.stack.gitlab;
      const port = Number(new URL(g.url).port);
      await g.stop();
      ctx.note('GitLab down');
      ctx.worker.resume();
      await sleep(ms);
      await g.start(port);
      ctx.note('GitLab back');
    },
  };
}

/**
 * An incident on a shared task queue whose workers the caller runs (two workers, one killed
 * repeatedly), about a cluster of its own that those workers are configured with.
 */
export function onFleet(taskQueue: string, i: number, cluster: ChaosCluster): RunSpec {
  return { scenario: 'two-workers-one-killed-repeatedly', name: `incident ${i + 1}`, taskQueue, cluster, rerunForMs: RERUN_MS, async fault() {} };
}

/** Not a fault: the harness deletes the unlocked record once more by hand, and must count it. */
export function handDoubleDelete(deleteByHand: (stack: ChaosStack, namespace: string, name: string) => Promise<number>): RunSpec {
  return {
    scenario: 'self-check-double-delete',
    name: 'a second DELETE by hand after the unlock',
    rerunForMs: RERUN_MS,
    async fault(ctx) {
      await ctx.waitForEvent('unlockRelease', 'completed');
      const code = await deleteByHand(ctx.stack, ctx.o.namespace, `sh.helm.release.v1.${ctx.o.release}.v2`);
      ctx.note(`deleted by hand: ${code}`);
    },
  };
}
