// The incident report, rendered from golden histories alone.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { buildIncidentReport } from '../../report/incident';
import { renderHtml, renderMarkdown } from '../../report/render';
import { CHART_SECRETS } from '../fixtures/secrets';

const DIR = join(__dirname, '..', 'histories');
const load = (name: string) => buildIncidentReport(historyFromJSON(JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8'))));
const answer = (md: string, row: string) => md.split('\n').find((l) => l.startsWith(`| ${row} |`)) ?? '';

describe('a report from history answers what a review asks', () => {
  test('unstuck-and-verified: what was stuck, checked, who approved, what was deleted, verified, no-op', () => {
    const r = load('unstuck-and-verified');
    const md = renderMarkdown(r);
    expect(r.outcome).toBe('unstuck-and-verified');
    expect(answer(md, 'What was stuck')).toMatch(/is stuck: revision 3 has been pending-upgrade for \d+s; revision 2 is the last deployed/);
    expect(answer(md, 'Who decided')).toMatch(/alice approved at .* \(sso via page, groups sre; plan [0-9a-f]{12}\), because runbook checks are green/);
    expect(answer(md, 'What was backed up and deleted')).toMatch(/sh\.helm\.release\.v1\.web-\w+\.v3 \(revision 3, uid [0-9a-f-]{36}\): deleted; backup helm-unstuck\.backup\.web-\w+\.v3\.[0-9a-f]{8}/);
    expect(answer(md, 'Verified')).toMatch(/yes: .*revision 2 \(tiny-0\.1\.0\) is deployed/);
    expect(answer(md, 'Dry run of the re-run job')).toMatch(/no-op \(job \d+, success\)/);
    // Step 6 from the cluster: what was applied (shown at approval) and what the re-run changed.
    expect(answer(md, 'Already applied when approved')).toMatch(/the interrupted upgrade (already )?applied [01] of 1 objects/);
    expect(answer(md, 'What the re-run changed on the cluster')).toMatch(/^\| What the re-run changed on the cluster \| (nothing|completed): /);
    expect(r.shownAtApproval.join('\n')).toMatch(/the interrupted upgrade (already )?applied [01] of 1 objects/);
    // The checks, and what the approver had seen before deciding.
    expect(r.checks.map((c) => c.what).join('\n')).toMatch(/CI quiet[\s\S]*all 1 Deployments healthy[\s\S]*is stuck/);
    expect(r.shownAtApproval.join('\n')).toMatch(/✓ CI quiet[\s\S]*✓ .*all 1 Deployments healthy[\s\S]*✓ .*is stuck/);
    expect(r.shownAtApproval.join('\n')).not.toMatch(/is deployed; Helm will accept/);
  });

  test("the HTML page draws where the time went: each step a bar, alice's wait apart, the decision and the verification marked", () => {
    const page = renderHtml(load('unstuck-and-verified'));
    const svg = /<figure id="timeline">(<svg[\s\S]*?<\/svg>)<\/figure>/.exec(page)?.[1] ?? '';
    expect(svg.match(/data-step="([a-z-]+)"/g)).toEqual(['ci-quiet', 'health', 'identify', 'approval', 'unlock', 'verify', 'roll-forward'].map((s) => `data-step="${s}"`));
    expect(svg).toMatch(/<title>approval, waiting for a human: \d+[sm]<\/title>/);
    expect(svg.match(/<line class="decision"/g)).toHaveLength(1);
    expect(svg.match(/<line class="verified"/g)).toHaveLength(1);
    // The Markdown report (for the incident issue) has the same figures as a table.
    expect(renderMarkdown(load('unstuck-and-verified'))).toMatch(/## Where the time went\n\n\| step \| time \| of it, waiting for a human \|\n\|---\|---\|---\|\n\| ci-quiet \| \d+s \| {2}\|[\s\S]*\n\| approval \| \d+[sm] \| \d+[sm] \|/);
    // A running incident's report has no evidence of the workflow's own yet: no picture, no error.
    expect(renderHtml({ ...load('unstuck-and-verified'), evidence: undefined as never })).not.toContain('<svg');
  });

  test('rejected: who rejected and why; nothing deleted', () => {
    const md = renderMarkdown(load('rejected'));
    expect(answer(md, 'Who decided')).toMatch(/bob rejected at .*because not during the freeze/);
    expect(answer(md, 'What was backed up and deleted')).toBe('| What was backed up and deleted | nothing |');
    expect(md).toMatch(/alice: continue, because test cluster has no controllers/);
  });

  test('the two-person rule: both approvers, each verified how and through which path, on the same plan', () => {
    const r = load('two-person-approved');
    expect(answer(renderMarkdown(r), 'Who decided')).toMatch(
      /^\| Who decided \| alice approved at .* \(sso via page; plan ([0-9a-f]{12})\), because first look; bob approved at .* \(token via api; plan \1\), because second look \|$/,
    );
    expect(r.decisions.map((d) => [d.by, d.channel])).toEqual([['alice', 'update'], ['bob', 'update']]);
  });

  test('escalations are listed', () => {
    const r = load('escalated-then-approved');
    expect(r.escalations.length).toBeGreaterThanOrEqual(2);
    expect(renderMarkdown(r)).toMatch(/## Escalations\n\n- .* escalation 1: still waiting for approval by alice or bob/);
  });

  test('needs-review lists the objects the dry run would change', () => {
    expect(renderMarkdown(load('needs-review'))).toMatch(/## Objects the dry run would change\n\n- gitlab Deployment gitlab\/gitlab-webservice-default: changed/);
  });

  test('cancelled and nothing-to-do say so', () => {
    expect(load('cancelled')).toMatchObject({ status: 'cancelled', outcome: 'aborted' });
    const nothing = load('nothing-to-do');
    expect(nothing.outcome).toBe('nothing-to-do');
    expect(nothing.stuck).toBeUndefined();
    expect(renderMarkdown(nothing)).toMatch(/\| What was stuck \| nothing was found stuck \|/);
  });

  test('the Markdown report escapes what it quotes: no link, HTML, code span, new column or escape sequence', () => {
    const r = load('rejected');
    r.reason = '[approve](https://evil.example) <img src=x> `rm` a | b \x1b]8;;https://e\x1b\\x\x1b]8;;\x1b\\ \u202eevil';
    r.timeline[0]!.what = '| injected | row |\n# heading';
    const text = renderMarkdown(r);
    expect(answer(text, 'Outcome')).toBe('| Outcome | rejected: \\[approve\\](https\\://evil.example) \\<img src=x\\> \\`rm\\` a \\| b x evil |');
    expect(text).toContain('\\| injected \\| row \\| # heading |');
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    expect(text).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]/);
  });

  test('the HTML page escapes what it shows', () => {
    const r = load('rejected');
    r.reason = '<script>alert(1)</script>';
    const html = renderHtml(r);
    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });
});

describe('no secret material in history or reports', () => {
  const names = readdirSync(DIR).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));
  test.each(names)('%s: history, Markdown and HTML hold none of the chart\'s secret values', (name) => {
    const raw = readFileSync(join(DIR, `${name}.json`), 'utf8');
    const r = load(name);
    // Payloads in history are base64 JSON: decode every one before looking.
    const decoded = [...raw.matchAll(/"data": "([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8')).join('\n');
    for (const text of [raw, decoded, renderMarkdown(r), renderHtml(r)]) {
      for (const secret of CHART_SECRETS) expect(text).not.toContain(secret);
      expect(text).not.toMatch(/"manifest"|H4sI/); // no release payload (gzip base64 starts H4sI)
    }
    expect(decoded.length).toBeGreaterThan(1000);
  });
});
