// The approval page says what a retried activity waits for (client/retries.ts fills `retrying`).
import { incidentView } from '../../server/views';
import type { RemediationStatus } from '../../workflows/definitions';

const status = (o: Partial<RemediationStatus>): RemediationStatus => ({ incident: 'i', step: 'unlock', escalations: 0, evidence: [], view: {}, ...o });
const render = (st: RemediationStatus) => String(incidentView('i', st, { user: 'alice', csrf: 't', exp: 0 }, Date.now()));
const WAIT = 'waiting for the API server: 4 attempts, next in 30 s (unlockRelease; last: <no answer>)';

test.each([
  { name: 'working, an activity under retry', st: status({ retrying: WAIT }) },
  { name: 'waiting on a timer, an activity under retry', st: status({ step: 'roll-forward', waitingFor: 'CI job 7 (running) to finish', retrying: WAIT }) },
])('$name: the wait is shown, escaped', ({ st }) => {
  const out = render(st);
  expect(out).toContain('<p class="wait" id="retrying">waiting for the API server: 4 attempts, next in 30 s (unlockRelease; last: &lt;no answer&gt;)</p>');
  if (st.waitingFor) expect(out).toContain(`Working: waiting for ${st.waitingFor}`);
});

test('nothing under retry: nothing said', () => {
  expect(render(status({}))).not.toContain('id="retrying"');
});
