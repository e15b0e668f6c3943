// The approval page's incident list (server/incident-list.ts, server/views.ts): open holds first,
// the longest waiting at the top, each with whom it waits for and since when, the cluster as
// prominent as the release; and the incident page's picture of where the time went.
import type { RemediationStatus } from '../../workflows/definitions';
import { incidentRow, orderIncidents } from '../../server/incident-list';
import { incidentsView, incidentView } from '../../server/views';

const T0 = Date.parse('2026-12-08T03:00:00Z');
const min = 60_000;
const viewer = { user: 'alice', verifiedBy: 'token' as const, groups: [], csrf: 'c' };
const status = (o: Partial<RemediationStatus> = {}): RemediationStatus => ({ incident: 'x', step: 'ci-quiet', evidence: [], escalations: 0, view: {}, ...o });
const waiting = (sinceMin: number, waitingFor = 'approval by alice') => status({ step: 'approval', hold: 'approval', waitingFor, holdSince: new Date(T0 + sinceMin * min).toISOString() });

describe('incident rows', () => {
  test('the release and cluster from the id; the hold, for whom and since when from the status; unreadable says so', () => {
    expect(incidentRow('helm-unstuck/gprd/web/shop', T0, waiting(5))).toEqual({
      workflowId: 'helm-unstuck/gprd/web/shop',
      started: T0,
      target: { cluster: 'gprd', namespace: 'web', release: 'shop' },
      step: 'approval',
      hold: { hold: 'approval', waitingFor: 'approval by alice', since: T0 + 5 * min },
    });
    expect(incidentRow('someone-else', T0, undefined)).toEqual({ workflowId: 'someone-else', started: T0, unknown: true });
    expect(incidentRow('helm-unstuck/a/b/c', T0, { ...waiting(0), holdSince: 'soon' }).hold).toEqual({ hold: 'approval', waitingFor: 'approval by alice' });
  });

  test('open holds first, the longest waiting first; then the others, the oldest first', () => {
    const rows = [
      incidentRow('helm-unstuck/gstg/a/working-new', T0 + 9 * min, status()),
      incidentRow('helm-unstuck/gprd/a/waiting-since-8', T0, waiting(8)),
      incidentRow('helm-unstuck/gstg/a/working-old', T0 + min, status()),
      incidentRow('helm-unstuck/gprd/a/waiting-since-2', T0 + 2 * min, waiting(2)),
    ];
    expect(orderIncidents(rows).map((r) => r.target?.release)).toEqual(['waiting-since-2', 'waiting-since-8', 'working-old', 'working-new']);
  });
});

describe('the list page', () => {
  const now = T0 + 30 * min;
  const page = () =>
    String(
      incidentsView(
        viewer,
        orderIncidents([incidentRow('helm-unstuck/gstg/web/shop', T0, status({ step: 'verify' })), incidentRow('helm-unstuck/gprd/web/shop', T0, waiting(10, 'approval by alice or bob'))]),
        now,
      ),
    );

  test('the holds table comes first, naming cluster and release alike, whom it waits for and since when', () => {
    const html = page();
    const holds = /<table id="holds">([\s\S]*?)<\/table>/.exec(html)?.[1] ?? '';
    expect(html.indexOf('id="holds"')).toBeLessThan(html.indexOf('id="working"'));
    expect(holds).toContain('<td class="cluster">cluster <strong>gprd</strong></td>');
    expect(holds).toContain('<td class="release"><strong><a href="/incidents/helm-unstuck/gprd/web/shop">web/shop</a></strong></td>');
    expect(holds).toContain('<strong>approval</strong>: waiting for approval by alice or bob');
    expect(holds).toContain('since 03:10 UTC (20m ago)');
    expect(holds).not.toContain('gstg');
    expect(/<table id="working">[\s\S]*?<\/table>/.exec(html)?.[0]).toMatch(/cluster <strong>gstg<\/strong>[\s\S]*working: verify/);
  });

  test('names from Temporal are escaped', () => {
    const html = String(incidentsView(viewer, [incidentRow('helm-unstuck/<script>x</script>/ns/"><img>', T0, waiting(0, '<b>bob</b>'))], now));
    expect(html).not.toMatch(/<script>|<img>|<b>bob/);
    expect(html).toContain('&lt;script&gt;');
  });
});

describe('the incident page', () => {
  test('names the cluster as prominently as the release and draws where the time went, the open hold as a human wait', () => {
    const st = {
      ...waiting(5),
      evidence: [
        { at: new Date(T0).toISOString(), step: 'ci-quiet' as const, kind: 'check' as const, summary: 'started' },
        { at: new Date(T0 + 5 * min).toISOString(), step: 'approval' as const, kind: 'wait' as const, summary: 'waiting for approval by alice' },
      ],
    };
    const html = String(incidentView('helm-unstuck/gprd/web/shop', st, viewer, T0 + 25 * min));
    expect(html).toContain('<p class="where" id="where"><span class="cluster">cluster gprd</span> <span class="release">web/shop</span></p>');
    const svg = /<figure id="timeline">(<svg[\s\S]*?<\/svg>)<\/figure>/.exec(html)?.[1] ?? '';
    expect(svg).toContain('<title>approval, waiting for a human: 20m</title>');
    expect(html).not.toMatch(/<script/i);
  });
});
