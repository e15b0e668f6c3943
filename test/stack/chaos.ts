// The chaos matrix's engine: one incident on a genuinely stuck release, run by a worker in a
// process of its own, with a fault injected from outside at an exact point (the worker SIGKILLed,
// the Temporal server killed and restarted on its database, the API server stopped or killed,
// GitLab failing or gone). What the incident did is counted from the API server's audit log and
// the fake GitLab's calls, never from the incident's own report. Used by bench/chaos.ts (the
// whole matrix, `npm run chaos`) and test/stack/chaos.test.ts (a fast subset in `npm test`).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { OperatorConfig } from '../../activities/policy';
import { startRemediation } from '../../client/incidents';
import { devServerSearchAttributeArgs } from '../../client/temporal-setup';
import { publicKeyOf } from '../../decisions/decision-proof';
import type { Outcome } from '../../decisions/vocabulary';
import type { PolicyConfig } from '../../decisions/schemas';
import { statusQuery, type RemediationResult, type RemediationStatus } from '../../workflows/definitions';
import type { remediateStuckRelease } from '../../workflows';
import { FakeGitlab } from '../fake-gitlab/server';
import { startControlPlane, type ControlPlane } from './control-plane';
import { markHealthy } from './deployments';
import { CLUSTER, unique } from './fixtures';
import { Helm } from './helm';
import { decideVerified, ENVIRONMENT, GITLAB_TOKEN, remediationInput, RIG_POLICY, SERVE_KEY, trace } from './incident-rig';
import { binaries, freePort, LEASH, removeDir, startServer, tempDir, waitUntil, type Binaries, type Server } from './process';
import { makeStuck } from './stuck';
import { waitFor } from '../wait-for';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The Temporal dev server on a database file, so it can be SIGKILLed and started again where it was. */
export interface Temporal {
  address: string;
  client: Client;
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPersistentTemporal(bin: string, dir: string): Promise<Temporal> {
  const [port, httpPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const address = `127.0.0.1:${port}`;
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--http-port', String(httpPort), '--metrics-port', String(metricsPort), '--headless', '--db-filename', join(dir, 'temporal.db'), '--log-level', 'error', ...devServerSearchAttributeArgs()];
  let server: Server | undefined;
  const up = async () => {
    server = startServer('temporal', bin, args, { logFile: join(dir, 'temporal.log') });
    const s = server;
    await waitUntil(
      'temporal dev server',
      async () => {
        const c = await Connection.connect({ address, connectTimeout: 2000 });
        try {
          await c.workflowService.getSystemInfo({});
          return true;
        } finally {
          await c.close();
        }
      },
      { timeoutMs: 90_000, server: s, intervalMs: 300 },
    );
  };
  await up();
  const connection = await Connection.connect({ address });
  return {
    address,
    client: new Client({ connection }),
    async kill() {
      process.kill(server!.pid, 'SIGKILL');
      await server!.stop();
    },
    start: up,
    async stop() {
      await connection.close().catch(() => undefined);
      await server?.stop();
    },
  };
}

/** What one stack offers a run. Parts may be shared between stacks that do not fault them. */
export interface ChaosStack {
  cp: ControlPlane;
  temporal: Temporal;
  gitlab: FakeGitlab;
  bins: Binaries;
  bundleFile: string;
  dir: string;
}

export interface StackParts {
  cp?: ControlPlane;
  temporal?: Temporal;
  gitlab?: FakeGitlab;
}

let bundleCode: Promise<string> | undefined;
function workflowBundle(): Promise<string> {
  bundleCode ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never,
  }).then((b) => b.code);
  return bundleCode;
}

/** A stack for chaos runs: its own audited control plane, Temporal and GitLab unless given shared ones. */
export async function startChaosStack(shared: StackParts = {}): Promise<ChaosStack & { stop(): Promise<void> }> {
  const bins = await binaries();
  const dir = tempDir('chaos');
  const own: (() => Promise<void>)[] = [];
  try {
    const cp = shared.cp ?? (await startControlPlane({ etcdBin: bins.etcd, apiserverBin: bins.kubeApiserver, dir: join(dir, 'kube'), audit: true }));
    if (!shared.cp) own.push(() => cp.stop());
    const temporal = shared.temporal ?? (await startPersistentTemporal(bins.temporal, dir));
    if (!shared.temporal) own.push(() => temporal.stop());
    let gitlab = shared.gitlab;
    if (!gitlab) {
      const g = new FakeGitlab({ token: GITLAB_TOKEN });
      await g.start();
      routeRetries(g);
      own.push(() => g.stop());
      gitlab = g;
    }
    const bundleFile = join(dir, 'workflow-bundle.js');
    writeFileSync(bundleFile, await workflowBundle());
    return {
      cp,
      temporal,
      gitlab,
      bins,
      bundleFile,
      dir,
      async stop() {
        for (const stop of own.reverse()) await stop().catch(() => undefined);
        await removeDir(dir);
      },
    };
  } catch (err) {
    for (const stop of own.reverse()) await stop().catch(() => undefined);
    throw err;
  }
}

// Each run's re-run job: running at once, finished (a no-op diff) when the run says so.
const onRetry = new Map<number, (jobId: number) => void>();
function routeRetries(g: FakeGitlab): void {
  g.onRetry = (project, job) => {
    g.setJob(project, job.id, 'running');
    onRetry.get(project)?.(job.id);
  };
}

/** What a worker process needs of a stack. */
export type WorkerStack = Pick<ChaosStack, 'gitlab' | 'bundleFile'> & { temporal: Pick<Temporal, 'address'>; cp: Pick<ControlPlane, 'kubeconfig'> };

/**
 * A worker process (test/stack/worker-process.ts) on a leash. `env` goes last: e.g. a Temporal
 * profile instead of TEMPORAL_ADDRESS (a variable set to undefined is not passed on).
 */
export class WorkerProcess {
  readonly child: ChildProcess;
  private out = '';
  private readonly exit: Promise<unknown>;
  killed = false;

  constructor(stack: WorkerStack, taskQueue: string, operator: OperatorConfig, pause = '', gitlabUrl = stack.gitlab.url, env: NodeJS.ProcessEnv = {}) {
    const entry = resolve(__dirname, 'worker-process.ts');
    this.child = spawn(LEASH, [String(process.pid), '--', process.execPath, '--import', 'tsx', entry], {
      cwd: resolve(__dirname, '..', '..'),
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: stack.temporal.address,
        TASK_QUEUE: taskQueue,
        GITLAB_URL: gitlabUrl,
        KUBECONFIG_FILE: stack.cp.kubeconfig,
        WORKFLOW_BUNDLE: stack.bundleFile,
        OPERATOR_CONFIG: JSON.stringify(operator),
        CHAOS_PAUSE: pause,
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdin!.on('error', () => undefined); // a killed worker's stdin
    this.child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.exit = once(this.child, 'exit');
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Resolves once the worker stops at `point` (any pause point if unset). */
  async paused(point?: string, timeoutMs = 10 * 60_000): Promise<string> {
    const pause = () => [...this.out.matchAll(/chaos-paused (\S+)/g)].map((m) => m[1]!).find((p) => !point || p === point || p === `${point}:1`);
    const exited = () => (this.exited ? `the worker exited: ${this.out.slice(-2000)}` : undefined);
    return (await waitFor(`the worker to pause at ${point ?? 'any point'}`, pause, (p) => p !== undefined, { timeoutMs, failIf: exited }))!;
  }

  resume(): void {
    this.child.stdin!.write('resume\n');
  }

  async kill(): Promise<void> {
    this.killed = true;
    if (!this.exited) this.child.kill('SIGKILL');
    await this.exit;
  }
}

/** One configured cluster (on the control plane's `admin` context) and its GitLab project. */
export interface ChaosCluster {
  cluster: string;
  project: number;
}

/**
 * The operator's configuration a chaos worker runs with: each cluster with its own GitLab project,
 * the rig's quick policy (a CI job may run 30 minutes: outages must not time the re-run out), and
 * serve's key trusted for decisions.
 */
export function chaosOperator(clusters: ChaosCluster[], policy: PolicyConfig = {}): OperatorConfig {
  return {
    clusters: Object.fromEntries(clusters.map((c) => [c.cluster, { context: 'admin', gitlab: [{ project: c.project, environment: ENVIRONMENT }], admissionPolicy: 'not-required' }])),
    policy: { ...RIG_POLICY, ciJobTimeout: '30m', ...policy },
    decisionKeys: [publicKeyOf(SERVE_KEY)],
  };
}

/** A GitLab project number no other chaos run uses (runIncident creates the project). */
export const newProject = () => nextProject++;

/** Every Secret/ConfigMap write the audit log holds for one namespace, by anything but helm. */
export interface AuditedActions {
  /** DELETE requests on Helm release records, with their response codes (a refused one counts too). */
  deletes: number[];
  /** Create requests for backups, with their response codes. */
  backupCreates: number[];
  /** Updates or patches of release records (the mark-failed strategy). */
  recordUpdates: number[];
}

interface AuditEvent {
  stage?: string;
  verb?: string;
  userAgent?: string;
  objectRef?: { resource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
}

export function auditedActions(auditLog: string, namespace: string): AuditedActions {
  const out: AuditedActions = { deletes: [], backupCreates: [], recordUpdates: [] };
  if (!existsSync(auditLog)) throw new Error(`no audit log at ${auditLog}: start the control plane with audit: true`);
  for (const line of readFileSync(auditLog, 'utf8').split('\n')) {
    if (!line.includes(namespace)) continue;
    let e: AuditEvent;
    try {
      e = JSON.parse(line) as AuditEvent;
    } catch {
      continue; // a line cut short by a SIGKILLed API server
    }
    const ref = e.objectRef;
    if (e.stage !== 'ResponseComplete' || ref?.namespace !== namespace || /^helm\b/i.test(e.userAgent ?? '')) continue;
    const code = e.responseStatus?.code ?? 0;
    const name = ref.name ?? '';
    if (e.verb === 'delete' && name.startsWith('sh.helm.release.v1.')) out.deletes.push(code);
    if (e.verb === 'create' && name.startsWith('helm-unstuck.backup.')) out.backupCreates.push(code);
    if ((e.verb === 'update' || e.verb === 'patch') && name.startsWith('sh.helm.release.v1.')) out.recordUpdates.push(code);
  }
  return out;
}

/** What the harness can do during a run, and what it needs to know of the incident. */
export interface RunContext {
  stack: ChaosStack;
  o: { release: string; namespace: string; project: number };
  taskQueue: string;
  handle: WorkflowHandle<typeof remediateStuckRelease>;
  /** The worker running the incident now. */
  worker: WorkerProcess;
  /** Kill the current worker (SIGKILL) and start another, without pause points. */
  replaceWorker(delayMs?: number): Promise<void>;
  /** Wait for the Nth ActivityTask<Scheduled|Completed> event of an activity type in history. */
  waitForEvent(activity: string, kind: 'scheduled' | 'completed', nth?: number, timeoutMs?: number): Promise<void>;
  waitForStatus(pred: (s: RemediationStatus) => boolean, timeoutMs?: number): Promise<RemediationStatus>;
  /** Finish the re-run CI job now (it otherwise finishes on its own ciJobAfterMs after the retry). */
  finishRerun(): void;
  note(text: string): void;
}

export interface RunSpec {
  scenario: string;
  name: string;
  /** CHAOS_PAUSE for the first worker. */
  pause?: string;
  /** Overrides of the operator's policy (chaosOperator) for this run's worker. */
  policy?: PolicyConfig;
  /**
   * The configured cluster the incident is about, and its GitLab project (default: CLUSTER and a
   * new project). Runs on a shared task queue each need their own, so CI retries count per incident.
   */
  cluster?: ChaosCluster;
  /** A job runs in the project when the incident starts, and finishes this many ms later. */
  ciBusyForMs?: number;
  /** How long the re-run job runs; undefined: until fault() calls finishRerun(). */
  rerunForMs?: number;
  /** Injects the fault, concurrently with the incident. */
  fault(ctx: RunContext): Promise<void>;
  /** A GitLab of this run's own (for GitLab outages). */
  ownGitlab?: boolean;
  /** The approver waits this long after the approval is asked for (so a fault can land in the wait). */
  approveDelayMs?: number;
  /** Run on this task queue with workers the caller runs (no worker of the run's own). */
  taskQueue?: string;
  expect?: { outcome: Outcome };
  timeoutMs?: number;
}

export interface RunRow {
  scenario: string;
  name: string;
  outcome: string;
  expected: string;
  correct: boolean;
  lost: boolean;
  deletes: number[];
  backup_creates: number[];
  ci_retries: number;
  double_actions: number;
  helm_status: string;
  wall_s: number;
  worker_kills: number;
  notes: string[];
  error?: string;
}

const NOOP = trace('helmfile-noop.txt');

/** Count double actions: any DELETE after the first (refused or not), any second backup made, any second CI retry. */
export function doubleActions(a: AuditedActions, ciRetries: number): number {
  const made = a.backupCreates.filter((c) => c === 201).length;
  return Math.max(0, a.deletes.length - 1) + Math.max(0, made - 1) + Math.max(0, ciRetries - 1) + Math.max(0, a.recordUpdates.length - 1);
}

/** One incident under one fault: a fresh stuck release, a worker process, the fault, the count. */
export async function runIncident(stack: ChaosStack, spec: RunSpec, opts: { helmSlots?: Slots } = {}): Promise<RunRow> {
  const t0 = Date.now();
  const notes: string[] = [];
  const note = (text: string) => notes.push(`${Math.round((Date.now() - t0) / 1000)}s ${text}`);
  const o = { release: unique('web'), namespace: unique('chaos') };
  const helm = new Helm(4, stack.bins.helm4, stack.cp.kubeconfig, join(stack.dir, 'helm4'));
  let gitlab = stack.gitlab;
  if (spec.ownGitlab) {
    gitlab = new FakeGitlab({ token: GITLAB_TOKEN });
    await gitlab.start();
    routeRetries(gitlab);
  }
  const { cluster, project } = spec.cluster ?? { cluster: CLUSTER, project: newProject() };
  const operator = chaosOperator([{ cluster, project }], spec.policy);
  gitlab.addProject(project, `gitlab-com/gl-infra/k8s-workloads/chaos-${project}`);
  const failed = gitlab.addJob(project, { name: `${ENVIRONMENT}:upgrade`, stage: 'deploy', status: 'failed', trace: 'Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress\n' });
  gitlab.addDeployment(project, { environment: ENVIRONMENT, status: 'failed', job: failed });
  let rerunJob: number | undefined;
  const finishRerun = () => {
    if (rerunJob !== undefined) gitlab.setJob(project, rerunJob, 'success', NOOP);
  };
  onRetry.set(project, (jobId) => {
    rerunJob = jobId;
    note(`CI retried as job ${jobId}`);
    if (spec.rerunForMs !== undefined) setTimeout(finishRerun, spec.rerunForMs);
  });

  const stackForRun: ChaosStack = { ...stack, gitlab };
  const taskQueue = spec.taskQueue ?? unique('tq');
  const workers: WorkerProcess[] = [];
  let handle: WorkflowHandle<typeof remediateStuckRelease> | undefined;
  let result: RemediationResult | undefined;
  let error: string | undefined;
  let stopApprover = false;
  try {
    await (opts.helmSlots ?? unlimited)(async () => {
      await makeStuck['pending-upgrade'](helm, o);
      await markHealthy(o.namespace, stack.cp.kubeconfig);
    });
    if (spec.ciBusyForMs !== undefined) {
      const busy = gitlab.addJob(project, { name: `${ENVIRONMENT}:lint`, stage: 'test', status: 'running' });
      setTimeout(() => gitlab.setJob(project, busy.id, 'success'), spec.ciBusyForMs);
    }
    if (!spec.taskQueue) workers.push(new WorkerProcess(stackForRun, taskQueue, operator, spec.pause ?? ''));
    const input = { ...remediationInput(o), cluster };
    const started = await startRemediation(stack.temporal.client, input, taskQueue);
    const h = started.handle as unknown as WorkflowHandle<typeof remediateStuckRelease>;
    handle = h;
    const ctx: RunContext = {
      stack: stackForRun,
      o: { ...o, project },
      taskQueue,
      handle: h,
      get worker() {
        const w = workers[workers.length - 1];
        if (!w) throw new Error('this run has no worker of its own');
        return w;
      },
      async replaceWorker(delayMs = 0) {
        await workers[workers.length - 1]!.kill();
        note('worker killed');
        if (delayMs) await sleep(delayMs);
        workers.push(new WorkerProcess(stackForRun, taskQueue, operator, '', gitlab.url));
      },
      waitForEvent: (activity, kind, nth = 1, timeoutMs = 10 * 60_000) => waitForEvent(h, activity, kind, nth, timeoutMs),
      waitForStatus: (pred, timeoutMs = 10 * 60_000) => pollStatus(h, pred, timeoutMs),
      finishRerun,
      note,
    };
    // The approver: approves once, whenever the incident asks (the worker may be dead meanwhile).
    const approver = (async () => {
      let askedAt: number | undefined;
      while (!stopApprover) {
        try {
          const s = await withTimeout(h.query(statusQuery), 15_000);
          if (s.hold === 'approval') askedAt ??= Date.now();
          if (askedAt !== undefined && Date.now() - askedAt >= (spec.approveDelayMs ?? 0)) {
            // As serve sends it: on the plan the gate shows now, signed with serve's key.
            await withTimeout(decideVerified(stack.temporal.client, h.workflowId, { action: 'approve', by: 'alice', reason: 'chaos run' }), 60_000);
            note('approved');
            return;
          }
          if (s.step !== 'ci-quiet' && s.step !== 'health' && s.step !== 'identify' && s.step !== 'approval') return;
        } catch {
          // no worker to answer right now, or the server is down
        }
        await sleep(500);
      }
    })();
    // A worker that dies without being killed (say it lost the server for good) is replaced, and noted.
    const keeper = (async () => {
      while (!stopApprover) {
        const w = workers[workers.length - 1];
        if (w?.exited && !w.killed) {
          note('worker exited on its own; starting another');
          workers.push(new WorkerProcess(stackForRun, taskQueue, operator, '', gitlab.url));
        }
        await sleep(1000);
      }
    })();
    const timeoutMs = spec.timeoutMs ?? 15 * 60_000;
    const faulted = spec.fault(ctx).catch((err: unknown) => {
      error = `fault: ${String(err)}`;
    });
    result = await withTimeout(h.result(), timeoutMs).catch((err: unknown) => {
      error ??= `incident: ${String(err)}`;
      return undefined;
    });
    stopApprover = true;
    await Promise.race([faulted, sleep(5000)]);
    await Promise.all([approver, keeper]);
  } catch (err) {
    error ??= `harness: ${String(err)}`;
  } finally {
    stopApprover = true;
    for (const w of workers) await w.kill();
    if (handle && !result) await handle.terminate('chaos run over').catch(() => undefined);
    onRetry.delete(project);
  }

  let lost = true;
  if (handle) {
    const d = await handle.describe().catch(() => undefined);
    lost = d?.status.name !== 'COMPLETED';
  }
  const audited = auditedActions(stack.cp.auditLog!, o.namespace);
  const ciRetries = gitlab.retries(project).length;
  if (spec.ownGitlab) await gitlab.stop();
  const helmStatus = await helm
    .status(o.release, o.namespace)
    .then((s) => `${s.status} ${s.revision}`)
    .catch((err: unknown) => `error: ${String(err)}`);
  const expected = spec.expect?.outcome ?? 'unstuck-and-verified';
  const doubles = doubleActions(audited, ciRetries);
  const acted = expected === 'unstuck-and-verified';
  const correct =
    !lost &&
    !error &&
    result?.outcome === expected &&
    doubles === 0 &&
    audited.deletes.length === (acted ? 1 : 0) &&
    audited.backupCreates.filter((c) => c === 201).length === (acted ? 1 : 0) &&
    ciRetries <= 1 &&
    (!acted || helmStatus === 'deployed 1');
  return {
    scenario: spec.scenario,
    name: spec.name,
    outcome: result?.outcome ?? 'none',
    expected,
    correct,
    lost,
    deletes: audited.deletes,
    backup_creates: audited.backupCreates,
    ci_retries: ciRetries,
    double_actions: doubles,
    helm_status: helmStatus,
    wall_s: Math.round((Date.now() - t0) / 1000),
    worker_kills: Math.max(0, workers.filter((w) => w.killed).length - 1),
    notes: result && result.outcome !== expected ? [...notes, `reason: ${result.reason}`] : notes,
    ...(error ? { error } : {}),
  };
}

let nextProject = 7000;

export type Slots = <T>(fn: () => Promise<T>) => Promise<T>;
const unlimited: Slots = (fn) => fn();

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, fail) => (timer = setTimeout(() => fail(new Error(`timed out after ${ms} ms`)), ms))),
  ]);
}

/** The status query until `pred` holds; a query no worker answers (none running) counts as "not yet". */
function pollStatus(h: WorkflowHandle, pred: (s: RemediationStatus) => boolean, timeoutMs: number): Promise<RemediationStatus> {
  const status = () => withTimeout(h.query(statusQuery), 15_000);
  return waitFor('the status query to match', status, pred, { timeoutMs, intervalMs: 200 });
}

async function waitForEvent(h: WorkflowHandle, activity: string, kind: 'scheduled' | 'completed', nth: number, timeoutMs: number): Promise<void> {
  const count = async () => {
    const events = (await h.fetchHistory()).events ?? [];
    const scheduled = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity).map((e) => String(e.eventId)));
    return kind === 'scheduled'
      ? scheduled.size
      : events.filter((e) => e.activityTaskCompletedEventAttributes && scheduled.has(String(e.activityTaskCompletedEventAttributes.scheduledEventId))).length;
  };
  await waitFor(`${activity} ${kind} ${nth} time(s)`, count, (n) => n >= nth, { timeoutMs, intervalMs: 150 });
}

/** Delete a record once more, by hand: the harness's proof that a second DELETE is counted. */
export async function deleteRecordByHand(cp: ControlPlane, namespace: string, name: string): Promise<number> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cp.kubeconfig);
  try {
    await kc.makeApiClient(k8s.CoreV1Api).deleteNamespacedSecret({ namespace, name });
    return 200;
  } catch (err) {
    return (err as { code?: number }).code ?? 0;
  }
}

