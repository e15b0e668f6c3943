// The README's first command, end to end: `helm-unstuck demo`.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { EXIT, main } from '../../cli/main';
import { listening } from '../../worker/dev-server';
import { LEASH } from './process';
import { startTemporal } from './temporal';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTemporal();
}, 120_000);
afterAll(async () => {
  await env?.teardown();
});

const listeningAt = (url: string) => {
  const { hostname, port } = new URL(url);
  return listening(hostname, Number(port));
};

test('Ctrl-C at the approval prompt (in a terminal) cancels the incident, stops everything, exits 130', async () => {
  // A real pseudo-terminal (script(1)), so readline is in raw mode and sees Ctrl-C as a byte. The
  // leash goes inside: script(1) waits for all its children, the leash's watcher among them.
  const cli = `'${LEASH}' ${process.pid} -- '${process.execPath}' --import tsx cli/main.ts demo`;
  const child = spawn('script', ['-qfec', cli, '/dev/null'], {
    cwd: resolve(__dirname, '..', '..'),
    env: { ...process.env, TEMPORAL_ADDRESS: env.address },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  const prompt = new Promise<void>((ok) =>
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Approve? [y/N]')) ok();
    }),
  );
  const exited = once(child, 'close') as Promise<[number | null]>;
  await Promise.race([prompt, exited.then(() => Promise.reject(new Error(`the demo ended before its prompt:\n${out}`)))]);
  const id = /5\. Incident (\S+):/.exec(out)![1]!;
  const apiserver = /^ {3}(https:\/\/127\.0\.0\.1:\d+), Kubernetes/m.exec(out)![1]!;
  const webhook = /serving the Alertmanager webhook at (http:\/\/\S+)\/webhook/.exec(out)![1]!;
  expect(await listeningAt(apiserver)).toBe(true);

  child.stdin!.write('\x03');
  const late = setTimeout(() => child.kill('SIGKILL'), 60_000); // fail with the output, not a jest timeout
  const [code] = await exited;
  clearTimeout(late);
  expect(out).toContain('SIGINT: stopping the demo');
  expect(code).toBe(EXIT.interrupted);
  expect(out).toContain(`Interrupted: incident ${id} cancelled; stopping everything the demo started.`);
  const described = await env.client.workflow.getHandle(id).describe();
  expect(described.status.name).toBe('CANCELLED');
  expect(await listeningAt(apiserver)).toBe(false);
  expect(await listeningAt(webhook)).toBe(false);
}, 180_000);

test('no terminal and no --yes: at the end of input the demo approves nothing, cancels its incident, exits 1', async () => {
  const child = spawn(LEASH, [String(process.pid), '--', process.execPath, '--import', 'tsx', 'cli/main.ts', 'demo'], {
    cwd: resolve(__dirname, '..', '..'),
    env: { ...process.env, TEMPORAL_ADDRESS: env.address },
    stdio: ['ignore', 'pipe', 'pipe'], // stdin is /dev/null
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const late = setTimeout(() => child.kill('SIGKILL'), 120_000); // fail with the output, not a jest timeout
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(late);
  const id = /5\. Incident (\S+):/.exec(out)?.[1];
  expect({ code, id: Boolean(id) }).toEqual({ code: EXIT.error, id: true });
  expect(out).toContain(`Stopping: incident ${id} cancelled; stopping everything the demo started.`);
  expect(out).toContain('helm-unstuck demo: standard input ended before you answered; nothing was approved (--yes approves in advance)');
  const history = await env.client.workflow.getHandle(id!).fetchHistory();
  expect(JSON.stringify(history)).toMatch(/"checkCiQuiet"/); // activity types are in the history…
  expect(JSON.stringify(history)).not.toMatch(/"unlockRelease"/); // …and unlock never ran
  expect((await env.client.workflow.getHandle(id!).describe()).status.name).toBe('CANCELLED');
}, 180_000);

test('helm-unstuck demo --yes: a stuck release, a real alert, the runbook, a report; helm upgrades again', async () => {
  let out = '';
  const code = await main(['demo', '--yes'], { out: (s) => (out += s), err: (s) => (out += s), env: { ...process.env, TEMPORAL_ADDRESS: env.address } });
  expect(code).toBe(EXIT.ok);
  expect(out).toMatch(/the next deploy now fails: Error: UPGRADE FAILED: another operation \(install\/upgrade\/rollback\) is in progress/);
  // The alert comes from the chain: the detector's series, Prometheus' rule, Alertmanager.
  expect(out).toMatch(/helm_unstuck_release_pending_since_seconds\{cluster="demo",namespace="demo-[0-9a-f]{6}",release="shop",revision="3",status="pending-upgrade"\} \d{10}/);
  expect(out).toMatch(/firing: HelmReleaseStuck\{cluster="demo",label_name="shop",label_version="3",namespace="demo-[0-9a-f]{6}",severity="warning",status="pending-upgrade"\}/);
  expect(out).toMatch(/✓ \[trigger\] started by alertmanager|started by alertmanager \(alert [0-9a-f]+\): Helm release demo-[0-9a-f]{6}\/shop is stuck pending-upgrade/);
  expect(out).toMatch(/✓ \[unlock\] demo-[0-9a-f]{6}\/shop unlocked \(delete\): revision 3: deleted/);
  expect(out).toMatch(/\| Outcome \| unstuck-and-verified: /);
  expect(out).toMatch(/helm status: revision 2 deployed\nhelm upgrade: succeeds again/);
}, 180_000);
