// serve's side of the scan after a truncated alert group: it holds no cluster credentials, so it
// asks the worker through Temporal (workflows/truncation-scan.ts) and waits for the stuck releases.
import { WorkflowIdConflictPolicy, type Client } from '@temporalio/client';
import type { ScannedRelease } from '../activities/truncation-scan';
import type { scanAfterTruncation } from '../workflows';

export const TRUNCATION_SCAN_WORKFLOW_TYPE = 'scanAfterTruncation';

/** One scan per cluster at a time: a second serve replica asking meanwhile waits for the same one. */
export const truncationScanWorkflowId = (cluster: string) => `helm-unstuck-scan/${cluster}`;

/**
 * The AlertForwarder's `scan`, run by the worker on `taskQueue`. `stop` ends the waits (serve
 * closing): the scan itself goes on in Temporal, and the incidents it finds start when the next
 * truncated group comes in.
 */
export function temporalScanner(client: Client, taskQueue: string, stop: AbortSignal): (cluster: string) => Promise<ScannedRelease[]> {
  return (cluster) =>
    client.withAbortSignal(stop, () => client.workflow.execute<typeof scanAfterTruncation>(TRUNCATION_SCAN_WORKFLOW_TYPE, {
      workflowId: truncationScanWorkflowId(cluster),
      taskQueue,
      args: [cluster],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      // Three attempts of at most two minutes each, and their backoff: then the scan failed.
      workflowExecutionTimeout: '8 minutes',
    }));
}
