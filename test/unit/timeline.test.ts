// The incident's timeline as a picture (report/timeline.ts): bars per step from the evidence, the
// waits a human answered apart from machine time, the decisions and the verification marked, and
// nothing from the evidence's words in the picture but step names, escaped.
import { buildTimeline, esc, timelineSvg } from '../../report/timeline';
import type { EvidenceEntry } from '../../workflows/definitions';

const T0 = Date.parse('2026-12-08T03:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const e = (s: number, step: string, kind: EvidenceEntry['kind'], summary = 'x', ok?: boolean) =>
  ({ at: at(s), step, kind, summary, ...(ok === undefined ? {} : { ok }) }) as EvidenceEntry;

/** An incident approved after five minutes: CI, health, identify, a wait for alice, unlock, verify, roll forward. */
const APPROVED: EvidenceEntry[] = [
  e(0, 'ci-quiet', 'check', 'started by alertmanager'),
  e(2, 'ci-quiet', 'check', 'no deploy job running', true),
  e(10, 'health', 'check', 'all healthy', true),
  e(20, 'identify', 'check', 'revision 7 pending-upgrade', true),
  e(30, 'approval', 'wait', 'waiting for approval by alice'),
  e(330, 'approval', 'decision', 'alice via page: approve, because ok'),
  e(335, 'unlock', 'action', 'deleted', true),
  e(340, 'verify', 'check', 'Helm shows revision 6 deployed', true),
  e(345, 'roll-forward', 'check', 'no failed deploy job to re-run'),
  e(360, 'done', 'decision', 'unstuck-and-verified: …'),
];

describe('buildTimeline', () => {
  test('each step a bar to the next step; the wait for alice human time; the decision and the verification marked', () => {
    const t = buildTimeline(APPROVED)!;
    expect(t.start).toBe(T0);
    expect(t.length).toBe(360_000);
    expect(t.steps.map((b) => [b.step, b.spans, b.human])).toEqual([
      ['ci-quiet', [{ from: 0, to: 10_000 }], []],
      ['health', [{ from: 10_000, to: 20_000 }], []],
      ['identify', [{ from: 20_000, to: 30_000 }], []],
      ['approval', [{ from: 30_000, to: 335_000 }], [{ from: 30_000, to: 330_000 }]],
      ['unlock', [{ from: 335_000, to: 340_000 }], []],
      ['verify', [{ from: 340_000, to: 345_000 }], []],
      ['roll-forward', [{ from: 345_000, to: 360_000 }], []],
    ]);
    expect(t.marks).toEqual([{ kind: 'decision', at: 330_000 }, { kind: 'verified', at: 340_000 }]);
  });

  test.each([
    ['a wait for a young pending revision (a timer, nobody decides) is machine time', [e(0, 'identify', 'check'), e(1, 'identify', 'wait', 'the pending revision is 2m old'), e(180, 'identify', 'check')], []],
    [
      'a two-person gate: each approver answered a wait of their own',
      [e(0, 'approval', 'wait'), e(60, 'approval', 'decision'), e(61, 'approval', 'wait', 'the gate stays open'), e(600, 'approval', 'decision'), e(601, 'unlock', 'action')],
      [{ from: 0, to: 60_000 }, { from: 61_000, to: 600_000 }],
    ],
    ['a policy approval (no wait): no human time', [e(0, 'approval', 'decision', 'approved by the policy'), e(1, 'unlock', 'action')], []],
  ])('%s', (_what, evidence, human) => {
    expect(buildTimeline(evidence)!.steps.flatMap((b) => b.human)).toEqual(human);
  });

  test('an incident still waiting: the open hold is human time up to now', () => {
    const t = buildTimeline([e(0, 'health', 'check'), e(30, 'approval', 'wait')], { end: T0 + 90_000, openSince: at(30) })!;
    expect(t.length).toBe(90_000);
    expect(t.steps.find((b) => b.step === 'approval')).toEqual({ step: 'approval', spans: [{ from: 30_000, to: 90_000 }], human: [{ from: 30_000, to: 90_000 }] });
  });

  test('bad entries are left out, nothing thrown; no entries, no timeline and no picture', () => {
    const bad = [null, { at: 'yesterday', step: 'health', kind: 'check' }, { at: at(5) }, e(0, 'health', 'check')] as unknown as EvidenceEntry[];
    expect(buildTimeline(bad)!.steps.map((b) => b.step)).toEqual(['health']);
    expect(buildTimeline([])).toBeUndefined();
    expect(buildTimeline([], { openSince: 'never' })).toBeUndefined();
    expect(timelineSvg(undefined)).toBe('');
  });
});

describe('timelineSvg', () => {
  test('a bar per step, human waits in their own colour, a line per mark, the totals in words', () => {
    const svg = timelineSvg(buildTimeline(APPROVED));
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<g class="step"/g)).toHaveLength(7);
    expect(svg.match(/fill="#e09a1f"><title>approval, waiting for a human: 5m<\/title>/g)).toHaveLength(1);
    expect(svg).toContain('<line class="decision"');
    expect(svg).toContain('<line class="verified"');
    expect(svg).toContain('>5m (5m waiting for a human)</text>');
    expect(svg).toContain('>6m</text>');
  });

  test("every text escaped; the evidence's words (names, reasons, payloads) never drawn", () => {
    const hostile = [e(0, '<script>alert(1)</script>', 'check', 'SECRET-VALUE-hunter2'), e(5, 'x" onload="alert(1)', 'decision', '<img src=x>')];
    const svg = timelineSvg(buildTimeline(hostile));
    expect(svg).not.toMatch(/<script|<img|onload="/);
    expect(svg).toContain(esc('<script>alert(1)</script>'));
    expect(svg).not.toContain('SECRET-VALUE');
    expect(esc(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
