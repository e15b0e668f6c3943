// An incident steered entirely through the CLI, as an SRE would at 3 a.m.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodePayload, encodePayload } from '../../activities/helm-storage';
import { BACKUP_ANNOTATIONS } from '../../activities/unlock';
import { EXIT, main } from '../../cli/main';
import { markHealthy } from './deployments';
import { CLUSTER, digestOfHeld, helmFor, stackKubeFor, unique } from './fixtures';
import { GITLAB_TOKEN, gitlabProject, newWorker, startRig, trace, type Rig } from './incident-rig';
import { removeDir, tempDir } from './process';
import { sharedStack } from './shared';
import { makeStuck } from './stuck';
import { waitFor } from '../wait-for';

let rig: Rig;
let dir: string;
beforeAll(async () => {
  rig = await startRig();
  dir = tempDir('cli');
}, 120_000);
afterAll(async () => {
  await rig?.stop();
  await removeDir(dir);
});

test('start, status, a refused and an accepted approval, list, report, restore', async () => {
  const helm = helmFor(3);
  const o = { release: unique('web'), namespace: unique('cli') };
  await makeStuck['pending-upgrade'](helm, o);
  await markHealthy(o.namespace);
  const before = await helm.history(o.release, o.namespace);
  const { project } = gitlabProject(rig.gitlab);
  rig.gitlab.onRetry = (p, job) => rig.gitlab.setJob(p, job.id, 'success', trace('helm-diff-silent.txt'));
  const tq = unique('cli');
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      'clusters:',
      '  local:',
      '    context: admin',
      '    admissionPolicy: not-required',
      '    gitlab:',
      `      - {project: ${project}, environment: gprd}`,
      'policy:',
      '  approvers: [alice, bob]',
      `kubeconfig: ${sharedStack().kubeconfig}`,
    ].join('\n'),
  );
  const env = { ...process.env, KUBECONFIG: sharedStack().kubeconfig, HELM_UNSTUCK_CONFIG: config, TEMPORAL_ADDRESS: rig.env.address, HELM_UNSTUCK_TASK_QUEUE: tq, HELM_UNSTUCK_GITLAB_URL: rig.gitlab.url, HELM_UNSTUCK_GITLAB_TOKEN: GITLAB_TOKEN };
  const run = async (...argv: string[]) => {
    let out = '';
    let err = '';
    const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s), env });
    return { code, out, err };
  };

  // The worker's operator: one approval; the CLI goes straight to Temporal, unverified, which this
  // operator allows (serve's signed path is tested with the approval page; a two-person rule
  // needs verified people, so it is tested there and in remediate.test.ts).
  const worker = await newWorker(rig, tq, { project });
  await worker.runUntil(async () => {
    const started = await run('start', '--cluster', 'local', '-n', o.namespace, '--release', o.release, '--by', 'alice', '-o', 'json');
    expect(started).toMatchObject({ code: EXIT.ok });
    const { workflowId } = JSON.parse(started.out) as { workflowId: string };
    expect((await run('start', '--cluster', 'local', '-n', o.namespace, '--release', o.release, '--by', 'alice')).out).toBe(`joined the running incident ${workflowId}\n`);

    const s = await waitFor('`status` to say the incident waits for approval', () => run('status', workflowId), (r) => /waiting for approval/.test(r.out));
    expect(s.out).toMatch(/✓ \[identify\] .* is stuck: revision 2 has been pending-upgrade/);
    expect(s.out).toMatch(/… waiting for approval by alice or bob to back up and delete sh\.helm\.release\.v1\..*; plan [0-9a-f]{12}\n/);
    const plan = /; plan ([0-9a-f]{12})\n/.exec(s.out)![1]!;
    // What the interrupted upgrade already applied, in words, object by object.
    expect(s.out).toMatch(/^applied: the interrupted upgrade (already )?applied [01] of 1 objects/m);
    expect(s.out).toMatch(new RegExp(`^  Deployment ${o.namespace}/${o.release}-web: (already as the stuck revision wants it|still as the last deployed revision left it \\(the next deploy changes it\\))$`, 'm'));
    expect(s.out).toMatch(new RegExp(`^  Secret ${o.namespace}/${o.release}-token: the same in both revisions, and so live$`, 'm'));

    expect(await run('approve', workflowId, '--by', 'alice')).toMatchObject({ code: EXIT.error, err: expect.stringMatching(/say why with --reason/) });
    expect(await run('approve', workflowId, '--by', 'mallory', '--reason', 'x', '--yes')).toMatchObject({ code: EXIT.error, err: expect.stringMatching(/refused: mallory is not an allowed approver/) });
    // A plan that is not the one shown now is refused by the CLI itself, before anything is sent.
    const stale = await run('approve', workflowId, '--by', 'alice', '--reason', 'x', '--plan', '000000000000');
    expect(stale).toMatchObject({ code: EXIT.error, err: expect.stringContaining(`--plan 000000000000 is not the plan the incident shows now (${plan}): nothing was sent`) });
    expect(stale.err).toContain(`waits at the approval gate; this sends approve on plan ${plan}: back up and delete`);
    expect((await run('list')).out).toMatch(new RegExp(`^${CLUSTER} +${o.namespace} +${o.release} +approval +yes +- +\\d{4}-`, 'm'));
    expect(await run('approve', workflowId, '--by', 'alice', '--reason', 'CI quiet, all healthy', '--plan', plan)).toMatchObject({ code: EXIT.ok, out: `approve accepted by incident ${workflowId} (at step approval, plan ${plan})\n` });

    const watched = await run('status', workflowId, '--watch');
    expect(watched.out).toMatch(/\[done\] unstuck-and-verified/);
    const report = await run('report', workflowId);
    // Read as soon as status shows the end, perhaps before the workflow's result is in history: the
    // decisions as sent, or as recorded (verified how) once it is.
    expect(report.out).toMatch(/\| Who decided \| alice approved at .* \((update|unverified-but-allowed via temporal); plan [0-9a-f]{12}\), because CI quiet, all healthy \|/);
  });

  // Undo it: restore the backup; helm history is as it was before the unlock.
  const backup = (await run('report', `helm-unstuck/local/${o.namespace}/${o.release}`, '--format', 'json')).out;
  const backupName = (JSON.parse(backup) as { unlock: { actions: { backupName: string }[] } }).unlock.actions[0]!.backupName;
  const restore = () => run('restore', '--cluster', 'local', '-n', o.namespace, '--backup', backupName, '--kubeconfig', sharedStack().kubeconfig, '--context', 'admin');

  // The backup rewritten by someone who can write it: another manifest, and its digest annotation
  // made to match. The incident's history, which they cannot rewrite, still says what was backed up.
  const kube = stackKubeFor()(CLUSTER);
  const genuine = (await kube.getRecord('Secret', o.namespace, backupName))!;
  const ann = genuine.annotations!;
  const payload = decodePayload(genuine);
  const data = { ...genuine.data, release: encodePayload('Secret', { ...payload, manifest: `${String(payload.manifest)}\n# rewritten\n` }) };
  const digest = digestOfHeld({ ...genuine, data });
  await kube.replaceRecord({ ...genuine, annotations: { ...ann, [BACKUP_ANNOTATIONS.digest]: digest }, data }, genuine.resourceVersion);
  const unlockedHistory = await helm.history(o.release, o.namespace);
  expect(await restore()).toMatchObject({ code: EXIT.error, err: expect.stringMatching(/it is not the backup the incident took: its contents hash to sha256:[0-9a-f]{64}, the incident's history recorded sha256:[0-9a-f]{64}/) });
  expect(await helm.history(o.release, o.namespace)).toEqual(unlockedHistory);
  const forged = (await kube.getRecord('Secret', o.namespace, backupName))!;
  await kube.replaceRecord({ ...genuine, data: genuine.data! }, forged.resourceVersion);

  const restored = await restore();
  expect(restored).toMatchObject({ code: EXIT.ok, out: expect.stringMatching(/^restored sh\.helm\.release\.v1\..*\.v2/) });
  expect(await helm.history(o.release, o.namespace)).toEqual(before);

  expect(await run('start', '--cluster', 'nowhere', '-n', 'x', '--release', 'y')).toMatchObject({ code: EXIT.error, err: expect.stringMatching(/cluster "nowhere" is not configured \(known: local/) });
  expect(await run('status', 'helm-unstuck/local/none/none')).toMatchObject({ code: EXIT.error, err: expect.stringMatching(/no incident helm-unstuck\/local\/none\/none/) });
});
