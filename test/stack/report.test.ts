// `helm-unstuck history` and `report` against a live incident, and the HTML report in Chromium.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { chromium } from 'playwright-core';
import { EXIT, main } from '../../cli/main';
import { startRemediation } from '../../client/incidents';
import { buildIncidentReport } from '../../report/incident';
import { renderHtml } from '../../report/render';
import { CHROMIUM, CHROMIUM_ARGS } from './browser';
import { markHealthy } from './deployments';
import { helmFor, unique } from './fixtures';
import { TINY_CHART } from './helm';
import { gitlabProject, newWorker, remediationInput, startRig, taskQueue, type Rig } from './incident-rig';
import { removeDir, tempDir } from './process';

const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts');

let rig: Rig;
let dir: string;
beforeAll(async () => {
  rig = await startRig();
  dir = tempDir('report');
}, 120_000);
afterAll(async () => {
  await rig?.stop();
  await removeDir(dir);
});

test('history exports Temporal JSON that report renders, for a live incident', async () => {
  const helm = helmFor(3);
  const o = { release: unique('web'), namespace: unique('rep') };
  await helm.ok(['install', o.release, TINY_CHART, '-n', o.namespace, '--create-namespace']);
  await markHealthy(o.namespace);
  const { project } = gitlabProject(rig.gitlab);
  const tq = taskQueue();
  const worker = await newWorker(rig, tq, { project });
  const id = await worker.runUntil(async () => {
    const { handle } = await startRemediation(rig.env.client, remediationInput(o), tq);
    await handle.result();
    return handle.workflowId;
  });
  const env = { ...process.env, TEMPORAL_ADDRESS: rig.env.address };
  const io = { out: () => undefined, err: (s: string) => void process.stderr.write(s), env };
  const file = join(dir, 'history.json');
  expect(await main(['history', id, '-o', file], io)).toBe(EXIT.ok);
  const history = historyFromJSON(JSON.parse(readFileSync(file, 'utf8')));
  expect(history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name).toBe('remediateStuckRelease');

  let md = '';
  expect(await main(['report', file], { ...io, out: (s) => (md += s) })).toBe(EXIT.ok);
  expect(md).toContain(`# Incident ${id}`);
  expect(md).toMatch(/\| Outcome \| nothing-to-do: .*not stuck/);
  let live = '';
  expect(await main(['report', id], { ...io, out: (s) => (live += s) })).toBe(EXIT.ok);
  expect(live).toBe(md);

  let err = '';
  expect(await main(['history', 'helm-unstuck/local/none/none'], { ...io, err: (s) => (err += s) })).toBe(EXIT.error);
  expect(err).toMatch(/no incident helm-unstuck\/local\/none\/none/);
});

test('the HTML report reads well in Chromium (screenshot in test-artifacts/)', async () => {
  const golden = join(__dirname, '..', 'histories', 'unstuck-and-verified.json');
  const report = buildIncidentReport(historyFromJSON(JSON.parse(readFileSync(golden, 'utf8'))));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.setContent(renderHtml(report));
    expect(await page.textContent('#outcome')).toBe('unstuck-and-verified');
    const rows = await page.$$eval('#answers tr', (trs) => trs.map((tr) => [tr.querySelector('th')?.textContent, tr.querySelector('td')?.textContent]));
    expect(Object.fromEntries(rows)).toMatchObject({
      'Who decided': expect.stringMatching(/^alice approved at/),
      Verified: expect.stringMatching(/^yes: /),
      'Dry run of the re-run job': expect.stringMatching(/^no-op/),
    });
    expect(await page.locator('h2').allTextContents()).toEqual(['What was checked', 'Evidence shown at approval', 'Where the time went', 'Timeline']);
    expect(errors).toEqual([]);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'incident-report.png'), fullPage: true });
  } finally {
    await browser.close();
  }
});
