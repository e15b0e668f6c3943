// Touching Helm's records directly, as another actor would, to prove we notice.
import * as k8s from '@kubernetes/client-node';
import { decodePayload, encodePayload } from '../../activities/helm-storage';
import { sharedStack } from './shared';

function coreApi(): k8s.CoreV1Api {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(sharedStack().kubeconfig);
  return kc.makeApiClient(k8s.CoreV1Api);
}

/** Change a record's metadata (not its meaning): a new resourceVersion, as any write gives it. */
export async function relabelPending(namespace: string, name: string): Promise<void> {
  const core = coreApi();
  await core.patchNamespacedSecret(
    { namespace, name, body: { metadata: { annotations: { 'touched-by': 'another-operator' } } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
}

/** Delete a record, as someone clearing a stuck release by hand would. */
export async function deleteRecord(namespace: string, name: string): Promise<void> {
  await coreApi().deleteNamespacedSecret({ namespace, name });
}

/**
 * The records someone's successful `helm rollback <release> <to>` over a stuck upgrade leaves
 * (helm's pkg/action/rollback.go): a new revision on top, a copy of `to`, deployed; the revisions
 * that were deployed, superseded; the pending one untouched, now buried below. Written here
 * (records only, no object changes), so that no test of ours runs `helm rollback`. Returns the
 * new revision.
 */
export async function recordRollbackOverLock(namespace: string, release: string, to: number): Promise<number> {
  const core = coreApi();
  const { items } = await core.listNamespacedSecret({ namespace, labelSelector: `owner=helm,name=${release}` });
  const version = (s: k8s.V1Secret) => Number(s.metadata?.labels?.version);
  const payloadOf = (s: k8s.V1Secret) => decodePayload({ kind: 'Secret', name: s.metadata!.name!, namespace, data: s.data });
  const target = items.find((s) => version(s) === to);
  if (!target) throw new Error(`${namespace}/${release} has no revision ${to}`);
  const next = Math.max(...items.map(version)) + 1;
  const copy = payloadOf(target);
  copy.version = next;
  copy.info = { ...copy.info, status: 'deployed', description: `Rollback to ${to}`, last_deployed: new Date().toISOString() };
  const labels = { name: release, owner: 'helm', status: 'deployed', version: String(next), modifiedAt: String(Math.floor(Date.now() / 1000)) };
  await core.createNamespacedSecret({
    namespace,
    body: { metadata: { name: `sh.helm.release.v1.${release}.v${next}`, namespace, labels }, type: 'helm.sh/release.v1', data: { release: encodePayload('Secret', copy) } },
  });
  for (const s of items.filter((x) => x.metadata?.labels?.status === 'deployed')) {
    const p = payloadOf(s);
    p.info = { ...p.info, status: 'superseded' };
    const name = s.metadata!.name!;
    await core.replaceNamespacedSecret({
      name,
      namespace,
      body: { ...s, metadata: { ...s.metadata, labels: { ...s.metadata?.labels, status: 'superseded' } }, data: { ...s.data, release: encodePayload('Secret', p) } },
    });
  }
  return next;
}
