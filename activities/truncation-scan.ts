// The scan after a truncated alert group, on the worker: Alertmanager left some of a cluster's
// stuck-release alerts out, so the receiver asks (through Temporal, workflows/truncation-scan.ts)
// for every stuck release of that cluster. It runs here because the worker holds the cluster
// credentials and serve, facing the web, holds none.
import pLimit from 'p-limit';
import { own } from '../decisions/validation';
import { operatorNow, type OperatorSource } from './act-gate';
import type { KubeFor } from './clusters';
import { InvalidInputError } from './failures';
import { scan } from './release';

/** A stuck release a scan found: what the receiver needs to start its incident (no payload). */
export interface ScannedRelease {
  namespace: string;
  release: string;
  reason: string;
}

export function createTruncationScanActivities(kubeFor: KubeFor, operator: OperatorSource | undefined, now: () => number) {
  return {
    /**
     * Every stuck release of a configured cluster: the whole cluster, or only the namespaces it
     * allows (one scan each), so nothing outside them is read. Refused for a cluster not configured.
     */
    async scanClusterForStuckReleases(input: { cluster: string }): Promise<ScannedRelease[]> {
      const cluster = String(input?.cluster);
      const configured = own(operatorNow(operator)?.clusters ?? {}, cluster);
      if (!configured) throw new InvalidInputError(`cluster ${JSON.stringify(cluster.slice(0, 253))} is not configured`);
      const scanned = async (namespace?: string) =>
        (await scan(kubeFor(cluster), { cluster, ...(namespace !== undefined ? { namespace } : {}) }, now())).stuck.map((s) => ({ namespace: s.namespace, release: s.release, reason: s.reason }));
      if (!configured.namespaces) return scanned();
      return (await pLimit(4).map(configured.namespaces, (ns) => scanned(ns))).flat();
    },
  };
}
