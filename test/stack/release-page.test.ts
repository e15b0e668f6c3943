// A release's page against the real Temporal dev server: what HelmReleaseStuck's incident_url
// opens. The runs are real (started on a task queue no worker polls, then terminated), so the
// page reads Temporal's own describe and visibility list, not a fake.
import { createHash } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WORKFLOW_TYPE } from '../../client/incidents';
import { newSecretKey } from '../../decisions/decision-proof';
import { workflowIdFor } from '../../decisions/vocabulary';
import { approvalPage } from '../../server/approval-page';
import { decisionSender } from '../../server/decide';
import { LoginLimiter } from '../../server/rate-limit';
import { unique } from './fixtures';
import { startTemporal } from './temporal';
import { waitFor } from '../wait-for';

const ALICE = 'alice-release-page-token';
const QUOTED = "o'brien";
let env: TestWorkflowEnvironment;
let page: ReturnType<typeof approvalPage>;
let cookie: string;

beforeAll(async () => {
  env = await startTemporal();
  page = approvalPage({
    client: env.client,
    send: decisionSender(env.client, newSecretKey()),
    users: { alice: createHash('sha256').update(ALICE).digest('hex') },
    limiter: new LoginLimiter({ perClient: 100, overall: 100, windowMs: 60_000 }),
    clusters: { local: {}, [QUOTED]: {} },
  });
  const login = await page.request('/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${ALICE}` });
  cookie = login.headers.get('set-cookie')!.split(';')[0]!;
}, 120_000);
afterAll(async () => {
  await env?.teardown();
});

const get = (path: string) => page.request(path, { headers: { cookie } });
/** A run of the release's workflow id that nothing works on: it stays running until terminated. */
const startRun = (id: string) => env.client.workflow.start(WORKFLOW_TYPE, { workflowId: id, taskQueue: unique('nobody'), args: [] });
const rowsOf = (html: string) => [...html.matchAll(/<tr>(.*?)<\/tr>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim());

/** Visibility catches up after a start or close: ask again until it does (bounded), then assert. */
function pageOnceListed(path: string, runs: number): Promise<string> {
  return waitFor(`${runs} incidents listed on ${path}`, async () => (await get(path)).text(), (html) => rowsOf(html).length >= runs, { intervalMs: 200 });
}

test('running: 303 to the incident; ended: its incidents newest first, the newest linked', async () => {
  const release = unique('rel');
  const id = workflowIdFor('local', 'apps', release);
  const path = `/releases/local/apps/${release}`;
  expect((await (await get(path)).text())).toContain('No incident for this release yet');

  const first = await startRun(id);
  const running = await get(path);
  expect([running.status, running.headers.get('location')]).toEqual([303, `/incidents/${id}`]);
  await first.terminate('test: the first incident ends');
  const second = await startRun(id);
  expect((await get(path)).headers.get('location')).toBe(`/incidents/${id}`);
  await second.terminate('test: the second incident ends');

  const html = await pageOnceListed(path, 2);
  expect(rowsOf(html)).toEqual([
    expect.stringMatching(/^latest incident terminated started \S+ ago, ended \S+ ago$/),
    expect.stringMatching(new RegExp(`^earlier incident ${first.firstExecutionRunId} terminated started`)),
  ]);
  expect(html).toContain(`<a href="/incidents/${id}">latest incident</a>`);
});

test('a configured cluster whose name a visibility query cannot quote: the newest run still shows, nothing breaks', async () => {
  const release = unique('rel');
  const run = await startRun(workflowIdFor(QUOTED, 'apps', release));
  const path = `/releases/${encodeURIComponent(QUOTED)}/apps/${release}`;
  expect((await get(path)).headers.get('location')).toBe(`/incidents/helm-unstuck/o'brien/apps/${release}`);
  await run.terminate('test: ends');
  const r = await get(path);
  expect(r.status).toBe(200);
  expect(rowsOf(await r.text())).toEqual([expect.stringMatching(/^latest incident terminated started/)]);
});

test("a finished incident's page is read from its history: it answers with its outcome though no worker ever polled", async () => {
  const id = workflowIdFor('local', 'apps', unique('rel'));
  const run = await startRun(id);
  await run.terminate('test: ends');
  const r = await get(`/incidents/${id}`);
  expect(r.status).toBe(200);
  const html = await r.text();
  expect(html).toMatch(/<th>Outcome<\/th><td class="[^"]*">aborted: the workflow is terminated<\/td>/);
  expect(html).not.toContain('http-equiv="refresh"');
});
