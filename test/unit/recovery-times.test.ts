// The recovery times (decisions/recovery-times.ts) and how they reach /metrics (server/metrics.ts
// outcomeSink): each figure from the workflow's clock, and bad input dropped, never exported.
import { recoveryTimes } from '../../decisions/recovery-times';
import { createMetrics, outcomeSink } from '../../server/metrics';

const T0 = Date.parse('2026-12-08T00:00:00Z');
const min = 60_000;

describe('recoveryTimes', () => {
  test.each([
    ['verified: from the pending record to verification', '2026-12-07T23:50:00Z', T0 + 20 * min, 30 * 60],
    ['never verified: no figure', '2026-12-07T23:50:00Z', undefined, undefined],
    ['no pending record time: no figure', undefined, T0 + 20 * min, undefined],
    ['an unparsable record time: no figure', 'yesterday', T0 + 20 * min, undefined],
    ['a record time after the verification (clock skew): no figure', '2026-12-08T01:00:00Z', T0 + 20 * min, undefined],
  ])('%s', (_what, pendingSince, verifiedAt, expected) => {
    const clock = { startedAt: T0, decisionWaits: [], ...(verifiedAt === undefined ? {} : { verifiedAt }) };
    expect(recoveryTimes(clock, pendingSince, T0 + 25 * min).stuckToVerifiedSeconds).toBe(expected);
  });

  test("the incident's length and each hold's wait, as the clock kept them", () => {
    const waits = [{ hold: 'ci-busy' as const, seconds: 90 }, { hold: 'approval' as const, seconds: 600 }];
    expect(recoveryTimes({ startedAt: T0, decisionWaits: waits }, undefined, T0 + 25 * min)).toEqual({ incidentSeconds: 1500, decisionWaits: waits });
  });
});

describe('outcomeSink', () => {
  const exposition = async (m: ReturnType<typeof createMetrics>) => m.registry.metrics();

  test('every outcome and hold is exported from the start at 0', async () => {
    const text = await exposition(createMetrics());
    expect(text).toMatch(/^helm_unstuck_incidents_total\{outcome="needs-review"\} 0$/m);
    expect(text).toMatch(/^helm_unstuck_incident_duration_seconds_count\{outcome="unstuck-and-verified"\} 0$/m);
    expect(text).toMatch(/^helm_unstuck_decision_wait_seconds_count\{hold="ci-busy"\} 0$/m);
    expect(text).toMatch(/^helm_unstuck_stuck_to_verified_seconds_count 0$/m);
  });

  test('the times land in their histograms, in minutes-to-hours buckets', async () => {
    const m = createMetrics();
    outcomeSink(m).times!('unstuck-and-verified', { incidentSeconds: 1500, stuckToVerifiedSeconds: 1800, decisionWaits: [{ hold: 'approval', seconds: 600 }] });
    const text = await exposition(m);
    expect(text).toMatch(/^helm_unstuck_stuck_to_verified_seconds_bucket\{le="900"\} 0$/m);
    expect(text).toMatch(/^helm_unstuck_stuck_to_verified_seconds_bucket\{le="1800"\} 1$/m);
    expect(text).toMatch(/^helm_unstuck_decision_wait_seconds_bucket\{le="600",hold="approval"\} 1$/m);
    expect(text).toMatch(/^helm_unstuck_decision_wait_seconds_bucket\{le="300",hold="approval"\} 0$/m);
    expect(text).toMatch(/^helm_unstuck_incident_duration_seconds_sum\{outcome="unstuck-and-verified"\} 1500$/m);
  });

  test('label values outside their sets and durations that are not ones are dropped, nothing thrown', async () => {
    const m = createMetrics();
    const sink = outcomeSink(m);
    const before = await exposition(m);
    sink.incident('<script>');
    sink.step('not-a-step', 3);
    sink.step('verify', -1);
    sink.times!('made-up', { incidentSeconds: 5, decisionWaits: [] });
    sink.times!('failed', { incidentSeconds: NaN, stuckToVerifiedSeconds: -4, decisionWaits: [{ hold: 'sudo' as never, seconds: 5 }, { hold: 'approval', seconds: Infinity }] });
    sink.times!('failed', null as never);
    sink.times!('failed', { incidentSeconds: 'x', decisionWaits: 'no' } as never);
    expect(await exposition(m)).toBe(before);
  });
});
