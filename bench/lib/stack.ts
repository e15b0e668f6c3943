// A control plane of the bench's own (not shared with tests), reached through a byte counter.
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startControlPlane, writeKubeconfig, type ControlPlane } from '../../test/stack/control-plane';
import { binaries, removeDir, tempDir, type Binaries } from '../../test/stack/process';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import { clusterRegistry } from '../../activities/clusters';
import { GitlabClient } from '../../activities/gitlab';
import { newSecretKey, publicKeyOf } from '../../decisions/decision-proof';
import type { FakeGitlab } from '../../test/fake-gitlab/server';
import { markHealthy } from '../../test/stack/deployments';
import type { Helm } from '../../test/stack/helm';
import { makeStuck } from '../../test/stack/stuck';
import { startByteCounter, type ByteCounter } from './byte-counter';

export interface BenchStack {
  cp: ControlPlane;
  bins: Binaries;
  counter: ByteCounter;
  /** A kubeconfig whose server is the byte counter. */
  kubeconfig: string;
  kc: k8s.KubeConfig;
  dir: string;
  stop(): Promise<void>;
}

export async function startBenchStack(): Promise<BenchStack> {
  const bins = await binaries();
  const dir = tempDir('bench');
  const cp = await startControlPlane({ etcdBin: bins.etcd, apiserverBin: bins.kubeApiserver, dir: join(dir, 'kube') });
  const port = Number(new URL(cp.server).port);
  const counter = await startByteCounter('127.0.0.1', port);
  const kubeconfig = join(dir, 'kubeconfig-counted');
  writeKubeconfig(kubeconfig, { server: `https://127.0.0.1:${counter.port}`, caFile: cp.caFile, token: cp.adminToken, context: 'bench' });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cp.kubeconfig);
  return {
    cp,
    bins,
    counter,
    kubeconfig,
    kc,
    dir,
    async stop() {
      await counter.close();
      await cp.stop();
      await removeDir(dir);
    },
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The workflow bundle, built quietly. */
export const quietBundle = () => bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } as never });

/**
 * A bench's operator configuration: clusters `<prefix>-0` … `<prefix>-<runs-1>`, each with its own
 * GitLab project (100 + i), and the public key of `key`, which signs each approval as serve would.
 */
export function benchOperator(prefix: string, runs: number[], key: Uint8Array) {
  return {
    clusters: Object.fromEntries(runs.map((i) => [`${prefix}-${i}`, { context: 'admin', gitlab: [{ project: 100 + i, environment: 'gprd' }], admissionPolicy: 'not-required' as const }])),
    policy: { approvers: ['alice'], minPendingAge: '0s', ciPollInterval: '100ms' },
    decisionKeys: [publicKeyOf(key)],
  };
}

/**
 * A bench's worker on `taskQueue`: `runs` clusters named `<prefix>-<i>` on the bench's API server,
 * each with its GitLab project, and a new key that signs each approval as serve would.
 */
export async function benchWorker(o: { env: TestWorkflowEnvironment; stack: BenchStack; gitlabUrl: string; token: string; prefix: string; runs: number; taskQueue: string; extra?: Partial<ActivityDeps> }) {
  const runs = Array.from({ length: o.runs }, (_, i) => i);
  const key = newSecretKey();
  const gl = new GitlabClient(o.gitlabUrl, o.token);
  const worker = await Worker.create({
    connection: o.env.nativeConnection,
    taskQueue: o.taskQueue,
    workflowBundle: await quietBundle(),
    activities: createActivities({
      kubeFor: clusterRegistry({ kubeconfig: o.stack.cp.kubeconfig, contexts: Object.fromEntries(runs.map((i) => [`${o.prefix}-${i}`, 'admin'])) }),
      gitlab: () => gl,
      operator: benchOperator(o.prefix, runs, key),
      ...o.extra,
    }),
  });
  return { worker, key };
}

/**
 * Run i's release: stuck in pending-upgrade with healthy Deployments, and its project's failed
 * deploy job (GitLab project 100 + i, as benchOperator configures it).
 */
export async function stuckRun(helm: Helm, gitlab: FakeGitlab, stack: BenchStack, i: number, o: { release: string; namespace: string }): Promise<void> {
  await makeStuck['pending-upgrade'](helm, o);
  await markHealthy(o.namespace, stack.cp.kubeconfig);
  const project = 100 + i;
  gitlab.addProject(project, `ops/k8s-workloads-${i}`);
  const failed = gitlab.addJob(project, { name: 'gprd:upgrade', status: 'failed' });
  gitlab.addDeployment(project, { environment: 'gprd', status: 'failed', job: failed });
}
