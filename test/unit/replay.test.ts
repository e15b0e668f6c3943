// Every golden history (test/histories, one per outcome) must replay against the current workflow
// code. A change that would break a running incident fails here: put it behind patched()
// (see CONTRIBUTING.md) instead of re-capturing.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { OUTCOMES, workflowIdFor } from '../../decisions/vocabulary';

const DIR = join(__dirname, '..', 'histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
// One history per outcome the workflow can return (a new outcome needs one), plus the paths that
// no outcome names: a cancellation, the escalation timers of a long approval wait, the
// two-person rule's gate, open after the first approval, and a plan that changed while waiting
// (captured before patched('changed-plan-reads-live-objects'): an incident started then replays);
// and requests as alerts (test/stack/requests-as-alerts.test.ts): raised, escalated, resolved,
// and delivered late after Alertmanager was down.
const SCENARIOS = [...OUTCOMES, 'cancelled', 'escalated-then-approved', 'two-person-approved', 'plan-changed-while-waiting', 'requests-as-alerts-escalated', 'requests-as-alerts-delayed'].sort();

let bundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never;
  bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quiet });
}, 120_000);

test('there is a golden history for every outcome', () => {
  expect(files.map((f) => f.replace(/\.json$/, ''))).toEqual(SCENARIOS);
});

/**
 * The id the incident ran under: the release's own (patched('workflow-id-is-the-release') checks
 * it in histories captured since; those captured before replay under any id).
 */
function releaseIdOf(history: ReturnType<typeof historyFromJSON>): string {
  const data = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
  const input = JSON.parse(Buffer.from(data ?? new Uint8Array()).toString('utf8')) as { cluster: string; namespace: string; release: string };
  return workflowIdFor(input.cluster, input.namespace, input.release);
}

test.each(files)('%s replays without nondeterminism', async (file) => {
  const history = historyFromJSON(JSON.parse(readFileSync(join(DIR, file), 'utf8')));
  await Worker.runReplayHistory({ workflowBundle: bundle, replayName: file }, history, releaseIdOf(history));
}, 60_000);
