// `npm run chaos`: the whole chaos matrix (test/stack/chaos-matrix.ts) on the real stack, each
// incident's actions counted from the API server's audit log and the fake GitLab. Writes
// bench/results/chaos.json. Faults that take a component away run on stacks of their own, at
// the same time as the rest; the others share one stack.
//   npm run chaos -- --only api-server     scenarios whose name matches
//   npm run chaos -- --short               without the 5- and 10-minute outages
//   npm run chaos -- --out <file>          write the results there (a partial run, --only or
//                                          --short, never replaces bench/results/chaos.json:
//                                          it goes to chaos-partial.json in the temp folder)
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import {
  chaosOperator,
  deleteRecordByHand,
  newProject,
  runIncident,
  startChaosStack,
  WorkerProcess,
  type ChaosStack,
  type RunRow,
  type RunSpec,
  type StackParts,
} from '../test/stack/chaos';
import {
  ACTIVITY_TYPES,
  apiOutage,
  API_POINTS,
  gitlabBursts,
  gitlabDown,
  handDoubleDelete,
  onFleet,
  temporalKill,
  workerKill,
  workerKillInWaits,
} from '../test/stack/chaos-matrix';
import { unique } from '../test/stack/fixtures';
import { runBench, writeResult } from './lib/result';

const args = process.argv.slice(2);
const only = args.includes('--only') ? new RegExp(args[args.indexOf('--only') + 1] ?? '.') : undefined;
const short = args.includes('--short');
const out = args.includes('--out') ? args[args.indexOf('--out') + 1] : only || short ? join(tmpdir(), 'chaos-partial.json') : undefined;
const POOL = Number(process.env.CHAOS_CONCURRENCY ?? 6);
const FLEET = 20;
const LONG_MS = 10 * 60_000;
const GITLAB_DOWN_MS = 5 * 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const log = (text: string) => console.error(`chaos ${Math.round((Date.now() - t0) / 1000)}s: ${text}`);
const wanted = (scenario: string) => !only || only.test(scenario);

const rows: RunRow[] = [];
const helmSlots = pLimit(3);
const record = (r: RunRow) => {
  rows.push(r);
  const mark = r.scenario === 'self-check-double-delete' ? (r.double_actions === 1 ? 'counted' : 'MISSED') : r.correct ? 'ok  ' : 'FAIL';
  log(`${mark} ${r.scenario}: ${r.name}: ${r.outcome}, deletes ${JSON.stringify(r.deletes)}, backups ${JSON.stringify(r.backup_creates)}, CI retries ${r.ci_retries}, ${r.wall_s}s${r.error ? `, ${r.error}` : ''}`);
  return r;
};
const run = (stack: ChaosStack, spec: RunSpec) => runIncident(stack, spec, { helmSlots: (fn) => helmSlots(fn) }).then(record);

/** Runs one after another on a stack of their own (their fault takes part of it away). */
async function onOwnStack(shared: StackParts, specs: RunSpec[]): Promise<void> {
  specs = specs.filter((s) => wanted(s.scenario));
  if (specs.length === 0) return;
  const stack = await startChaosStack(shared);
  try {
    for (const spec of specs) await run(stack, spec);
  } finally {
    await stack.stop();
  }
}

/** FLEET incidents on one task queue served by two workers, one SIGKILLed and restarted every few seconds. */
async function fleet(stack: ChaosStack): Promise<void> {
  if (!wanted('two-workers-one-killed-repeatedly')) return;
  const taskQueue = unique('fleet');
  // One configured cluster per incident (all on the one control plane), each with its GitLab project.
  const clusters = Array.from({ length: FLEET }, (_, i) => ({ cluster: `${taskQueue}-${i + 1}`, project: newProject() }));
  const operator = chaosOperator(clusters);
  const steady = new WorkerProcess(stack, taskQueue, operator);
  let victim = new WorkerProcess(stack, taskQueue, operator);
  let kills = 0;
  let done = false;
  const killer = (async () => {
    while (!done) {
      await sleep(4000 + Math.random() * 4000);
      if (done) break;
      await victim.kill();
      kills++;
      victim = new WorkerProcess(stack, taskQueue, operator);
    }
  })();
  try {
    await Promise.all(Array.from({ length: FLEET }, (_, i) => run(stack, onFleet(taskQueue, i, clusters[i]!))));
  } finally {
    done = true;
    await killer;
    await Promise.all([steady.kill(), victim.kill()]);
    log(`fleet: one of two workers killed ${kills} times`);
    fleetKills = kills;
  }
}
let fleetKills = 0;

async function main() {
  const base = await startChaosStack();
  const shared: StackParts = { temporal: base.temporal, gitlab: base.gitlab };
  try {
    const pool = pLimit(POOL);
    const onMain = (specs: RunSpec[]) => specs.filter((s) => wanted(s.scenario)).map((s) => pool(() => run(base, s)));

    const long = short
      ? []
      : [
          // 10 minutes away: each on a control plane of its own, all at once.
          ...(['sigstop', 'kill'] as const).flatMap((mode) =>
            (Object.keys(API_POINTS) as (keyof typeof API_POINTS)[]).map((point) => onOwnStack(shared, [apiOutage(mode, point, LONG_MS)])),
          ),
          ...onMain([gitlabDown('checkCiQuiet:before:1', GITLAB_DOWN_MS), gitlabDown('retryCiJob:before:1', GITLAB_DOWN_MS)]),
        ];
    const work = [
      ...long,
      // Temporal killed: a Temporal of its own (the main control plane and GitLab are untouched).
      onOwnStack({ cp: base.cp, gitlab: base.gitlab }, temporalKill()),
      // 60 s away: one control plane per mode, its three points one after another.
      ...(['sigstop', 'kill'] as const).map((mode) => onOwnStack(shared, (Object.keys(API_POINTS) as (keyof typeof API_POINTS)[]).map((p) => apiOutage(mode, p, 60_000)))),
      fleet(base),
      ...onMain(workerKillInWaits()),
      ...onMain(ACTIVITY_TYPES.flatMap((a) => (['before', 'after', 'completed'] as const).map((w) => workerKill(a, w)))),
      ...onMain([gitlabBursts(503), gitlabBursts(429)]),
    ];
    const selfCheck = wanted('self-check') ? pool(() => run(base, handDoubleDelete((s, ns, name) => deleteRecordByHand(s.cp, ns, name)))) : undefined;
    await Promise.all([...work, selfCheck]);
  } catch (err) {
    await base.stop();
    throw err;
  }

  // The self-check is not a chaos run: it must show the second DELETE as a double action.
  const check = rows.find((r) => r.scenario === 'self-check-double-delete');
  const matrix = rows.filter((r) => r !== check);
  const byScenario = new Map<string, RunRow[]>();
  for (const r of matrix) byScenario.set(r.scenario, [...(byScenario.get(r.scenario) ?? []), r]);
  const sum = (rs: RunRow[], f: (r: RunRow) => number) => rs.reduce((n, r) => n + f(r), 0);
  const result = {
    benchmark: 'chaos',
    what: 'one incident per run on a genuinely stuck release, on the real stack, under one injected fault; actions counted from the kube-apiserver audit log and the fake GitLab',
    scenarios: byScenario.size,
    runs: matrix.length,
    completed_correctly: matrix.filter((r) => r.correct).length,
    double_actions: sum(matrix, (r) => r.double_actions),
    lost_incidents: matrix.filter((r) => r.lost).length,
    wall_s: Math.round((Date.now() - t0) / 1000),
    ...(only ? { only: only.source } : {}),
    ...(short ? { short: true } : {}),
    self_check: check ? { deletes: check.deletes, double_actions_counted: check.double_actions, detected: check.double_actions === 1 } : undefined,
    fleet_worker_kills: fleetKills,
    per_scenario: [...byScenario].map(([scenario, rs]) => ({
      scenario,
      runs: rs.length,
      completed_correctly: rs.filter((r) => r.correct).length,
      double_actions: sum(rs, (r) => r.double_actions),
      lost_incidents: rs.filter((r) => r.lost).length,
      max_wall_s: Math.max(...rs.map((r) => r.wall_s)),
    })),
    runs_detail: matrix,
    at: new Date().toISOString(),
  };
  const { scenarios, runs, completed_correctly, double_actions, lost_incidents, wall_s } = result;
  writeResult('chaos', result, { scenarios, runs, completed_correctly, double_actions, lost_incidents, wall_s, self_check_detected: result.self_check?.detected }, out);
  if (completed_correctly !== runs || double_actions > 0 || lost_incidents > 0 || (check && !result.self_check?.detected)) process.exitCode = 1;

  // The stack stops only once the results are written: a status query the harness gave up on
  // (withTimeout) may still be retrying inside the Temporal client and throws "Channel has been
  // shut down" from a timer once the connection closes (a partial run died of that after 24/24).
  process.on('uncaughtException', (err) => {
    if (/Channel has been shut down/.test(String(err))) return;
    console.error(err);
    process.exit(1);
  });
  await base.stop();
  // Such an abandoned query's retries may also keep the event loop alive once the stack is gone.
  process.exit();
}

runBench(main);
