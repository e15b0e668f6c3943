// The worker's scan after a truncated alert group refuses a cluster the operator did not
// configure, before any cluster is reached (serve asks for it by the alert's cluster label).
import { createTruncationScanActivities } from '../../activities/truncation-scan';
import { InvalidInputError } from '../../activities/failures';
import type { KubeFor } from '../../activities/clusters';

test.each([['elsewhere'], ['__proto__'], ['constructor']])('cluster %j, not configured: refused, nothing read', async (cluster) => {
  const reached: string[] = [];
  const kubeFor = ((c: string) => {
    reached.push(c);
    throw new Error('no cluster may be reached');
  }) as unknown as KubeFor;
  const { scanClusterForStuckReleases } = createTruncationScanActivities(kubeFor, { clusters: { gprd: { gitlab: [] } }, policy: { approvers: ['alice'] }, decisionKeys: [] } as never, Date.now);
  await expect(scanClusterForStuckReleases({ cluster })).rejects.toThrow(InvalidInputError);
  await expect(scanClusterForStuckReleases({ cluster })).rejects.toThrow(`cluster ${JSON.stringify(cluster)} is not configured`);
  expect(reached).toEqual([]);
});

test('no configuration at all: refused', async () => {
  const { scanClusterForStuckReleases } = createTruncationScanActivities((() => { throw new Error('reached'); }) as unknown as KubeFor, undefined, Date.now);
  await expect(scanClusterForStuckReleases({ cluster: 'gprd' })).rejects.toThrow(/is not configured/);
});
