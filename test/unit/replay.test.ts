// Every golden history (test/histories, one per outcome) must replay against the current workflow
// code. A change that would break a running incident fails here: put it behind patched()
// (see CONTRIBUTING.md) instead of re-capturing.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { OUTCOMES } from '../../decisions/remediation';

const DIR = join(__dirname, '..', 'histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
// One history per outcome the workflow can return (a new outcome needs one), plus the paths that
// no outcome names: a cancellation, the escalation timers of a long approval wait, the
// two-person rule's gate, open after the first approval, and a plan that changed while waiting
// (captured before patched('changed-plan-reads-live-objects'): an incident started then replays).
const SCENARIOS = [...OUTCOMES, 'cancelled', 'escalated-then-approved', 'two-person-approved', 'plan-changed-while-waiting'].sort();

let bundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never;
  bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quiet });
}, 120_000);

test('there is a golden history for every outcome', () => {
  expect(files.map((f) => f.replace(/\.json$/, ''))).toEqual(SCENARIOS);
});

test.each(files)('%s replays without nondeterminism', async (file) => {
  const history = historyFromJSON(JSON.parse(readFileSync(join(DIR, file), 'utf8')));
  await Worker.runReplayHistory({ workflowBundle: bundle, replayName: file }, history, `replay-${file}`);
}, 60_000);
