// What stack tests share: helm for a major version and driver, activities wired to the shared
// control plane, unique names.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createMechanisms, createOperatorActions } from '../../activities';
import { BACKUP_ANNOTATIONS } from '../../activities/unlock';
import type { NewRecord } from '../../activities/kubernetes';
import { backupDigest } from '../../decisions/backup-digest';
import { AdmissionMonitor } from '../../activities/admission';
import type { ReleaseHistory } from '../../activities/release';
import type { UnlockInput } from '../../activities/unlock';
import { clusterRegistry, type KubeFor } from '../../activities/clusters';
import { failingKubeFor } from './failing-kube';
import { Helm, type HelmDriver, type HelmMajor } from './helm';
import { sharedStack } from './shared';

export const CLUSTER = 'local';

export function helmFor(major: HelmMajor, driver: HelmDriver = 'secret'): Helm {
  const s = sharedStack();
  return new Helm(major, major === 3 ? s.binaries.helm3 : s.binaries.helm4, s.kubeconfig, join(s.dir, `helm${major}`), driver);
}

/** The shared control plane as cluster CLUSTER. */
export const stackKubeFor = () => clusterRegistry({ kubeconfig: sharedStack().kubeconfig, contexts: { [CLUSTER]: 'admin' } });

/**
 * These tests act as the shared stack's admin, whom no admission policy narrows: they opt out as
 * an operator would (clusters.<name>.admissionPolicy: not-required). test/stack/admission-policy.test.ts
 * is where the policy, and unlocks that need it, are tested.
 */
export const adminNeedsNoPolicy = (kubeFor: KubeFor) => new AdmissionMonitor(kubeFor, { [CLUSTER]: { admissionPolicy: 'not-required' } }).check;

export function stackActivities(now?: () => number) {
  const kubeFor = stackKubeFor();
  return createMechanisms({ kubeFor, admission: adminNeedsNoPolicy(kubeFor), ...(now ? { now } : {}) });
}

/** The operator's own actions (restore), as the CLI builds them, on the shared control plane. */
export function stackOperatorActions() {
  return createOperatorActions({ kubeFor: stackKubeFor() });
}

/**
 * The digest a backup's annotation should carry for the record it holds, as a rewriter who knows
 * the format would compute it (its original-* annotations must be JSON).
 */
export function digestOfHeld(b: Pick<NewRecord, 'kind' | 'namespace' | 'annotations' | 'data'>): string {
  const ann = b.annotations ?? {};
  const type = ann[BACKUP_ANNOTATIONS.originalType];
  return backupDigest({
    kind: b.kind,
    namespace: b.namespace,
    name: ann[BACKUP_ANNOTATIONS.originalName]!,
    ...(type ? { type } : {}),
    labels: JSON.parse(ann[BACKUP_ANNOTATIONS.originalLabels]!) as Record<string, string>,
    annotations: JSON.parse(ann[BACKUP_ANNOTATIONS.originalAnnotations] ?? '{}') as Record<string, string>,
    data: b.data,
  });
}

/**
 * Activities whose cluster CLUSTER is a real Kube that fails or races when a test arms it;
 * `unlockSettleMs` shortens the wait of an unlock retry that finds its own backup.
 */
export function failingStackActivities(opts: { unlockSettleMs?: number } = {}) {
  const { kubeFor, kube } = failingKubeFor(stackKubeFor(), CLUSTER);
  return { acts: createMechanisms({ kubeFor, admission: adminNeedsNoPolicy(kubeFor), ...opts }), ops: createOperatorActions({ kubeFor }), kube };
}

/** An unlock of every pending revision of `h`, exactly as read (what a human approves). */
export function unlockInput(h: ReleaseHistory, strategy: 'delete' | 'mark-failed' = 'delete'): UnlockInput {
  return {
    cluster: CLUSTER,
    namespace: h.namespace,
    release: h.release,
    driver: h.driver!,
    strategy,
    approved: h.state.pending.map(({ objectName, revision, status, uid, resourceVersion }) => ({ objectName, revision, status, uid, resourceVersion })),
    incident: `test-${h.release}`,
  };
}

export const unique = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;

export { CHART_SECRETS } from '../fixtures/secrets';
