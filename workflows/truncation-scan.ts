// scanAfterTruncation: serve heard that Alertmanager truncated a cluster's alert group, and asks
// the worker (which holds the cluster credentials) for that cluster's stuck releases. serve then
// starts or joins one incident per release, as for an alert. A workflow of its own, so no running
// incident's history changes; one per cluster at a time (its id), shared by serve replicas.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ScannedRelease } from '../activities/truncation-scan';

const { scanClusterForStuckReleases } = proxyActivities<Activities>({
  // As the incident's reads (workflows/incident.ts): each attempt heartbeats, a lost worker is noticed in 10 s.
  // Bad input (a cluster not configured) is not retried (activities/failures.ts).
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { maximumAttempts: 3 },
});

export async function scanAfterTruncation(cluster: string): Promise<ScannedRelease[]> {
  return scanClusterForStuckReleases({ cluster });
}
