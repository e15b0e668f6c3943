// Genuinely stuck releases, made the way production gets them: helm stores the pending revision,
// blocks on --wait (no controllers here, so nothing ever becomes ready), and is SIGKILLed, as a
// killed CI runner or a lost API server connection would leave it. Helm catches SIGTERM and
// Ctrl-C (since 3.7) and marks the release failed, so only SIGKILL reproduces the incident.
import { once } from 'node:events';
import { Helm, TINY_CHART, type HistoryRow } from './helm';
import { waitFor } from '../wait-for';

export type StuckKind = 'pending-upgrade' | 'pending-install' | 'pending-rollback' | 'stacked';

export interface StuckRelease {
  kind: StuckKind;
  release: string;
  namespace: string;
  /** The newest revision, which is pending. */
  pendingRevision: number;
  pendingStatus: string;
  /** The revision that is deployed underneath, if any (none for a stuck first install). */
  deployedRevision: number | undefined;
  /** `helm history` right after the kill, oldest first. */
  history: HistoryRow[];
}

export interface StuckOptions {
  release: string;
  namespace: string;
  chart?: string;
  /** Successful upgrades to make before getting stuck, so the stuck revision is higher. */
  upgradesBefore?: number;
}

/**
 * Run `helm args` (which must block on --wait), and SIGKILL it once helm has stored revision
 * `revision` with status `status`. Fails if helm finishes on its own first.
 */
export async function hangAndKill(
  helm: Helm,
  args: string[],
  release: string,
  namespace: string,
  want: { revision: number; status: string },
  timeoutMs = 90_000,
  /** Also wait for this before the kill (e.g. until helm has applied the objects). */
  until: () => Promise<boolean> = async () => true,
): Promise<HistoryRow[]> {
  const child = helm.spawn([...args, '--timeout', '10m']);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  let exited = false;
  const exit = once(child, 'exit').then((v) => {
    exited = true;
    return v as [number | null, NodeJS.Signals | null];
  });
  const stored = async () => {
    const row = (await helm.history(release, namespace)).find((r) => r.revision === want.revision);
    return { row, until: row?.status === want.status && (await until()) };
  };
  const finished = () => (exited ? `helm ${args.join(' ')} finished instead of hanging: ${output.trim()}` : undefined);
  try {
    await waitFor(`helm to store revision ${want.revision} as ${want.status}`, stored, (s) => s.until, { timeoutMs, intervalMs: 150, failIf: finished });
  } finally {
    child.kill('SIGKILL');
  }
  const [, signal] = await exit;
  if (signal !== 'SIGKILL') throw new Error(`helm exited on its own before the kill: ${output.trim()}`);
  return helm.history(release, namespace);
}

async function install(helm: Helm, o: StuckOptions): Promise<void> {
  const chart = o.chart ?? TINY_CHART;
  await helm.ok(['install', o.release, chart, '-n', o.namespace, '--create-namespace', '--set', 'tag=1.0.0']);
  for (let i = 1; i <= (o.upgradesBefore ?? 0); i++) {
    await helm.ok(['upgrade', o.release, chart, '-n', o.namespace, '--set', `tag=1.${i}.0`]);
  }
}

function stuck(kind: StuckKind, o: StuckOptions, history: HistoryRow[]): StuckRelease {
  const newest = history[history.length - 1];
  if (!newest) throw new Error(`${o.release}: no history after the kill`);
  const deployed = history.filter((r) => r.status === 'deployed').pop();
  return {
    kind,
    release: o.release,
    namespace: o.namespace,
    pendingRevision: newest.revision,
    pendingStatus: newest.status,
    deployedRevision: deployed?.revision,
    history,
  };
}

/** Revision N deployed, N+1 pending-upgrade: the incident in the runbook. */
export async function makeStuckUpgrade(helm: Helm, o: StuckOptions): Promise<StuckRelease> {
  await install(helm, o);
  const next = 2 + (o.upgradesBefore ?? 0);
  const args = ['upgrade', o.release, o.chart ?? TINY_CHART, '-n', o.namespace, helm.waitFlag, '--set', 'tag=2.0.0'];
  const history = await hangAndKill(helm, args, o.release, o.namespace, { revision: next, status: 'pending-upgrade' });
  return stuck('pending-upgrade', o, history);
}

/**
 * Revision N deployed, N+1 pending-upgrade with all of it applied: helm was killed while it waited
 * (`--wait`), after the live Deployment had taken the new image.
 */
export async function makeStuckAfterApply(helm: Helm, o: StuckOptions, applied: () => Promise<boolean>): Promise<StuckRelease> {
  await install(helm, o);
  const next = 2 + (o.upgradesBefore ?? 0);
  const args = ['upgrade', o.release, o.chart ?? TINY_CHART, '-n', o.namespace, helm.waitFlag, '--set', 'tag=2.0.0'];
  const history = await hangAndKill(helm, args, o.release, o.namespace, { revision: next, status: 'pending-upgrade' }, 90_000, applied);
  return stuck('pending-upgrade', o, history);
}

/**
 * Revision N deployed, N+1 pending-upgrade with nothing applied: helm was killed while a
 * pre-upgrade hook that never finishes held it, before it applied any object.
 */
export async function makeStuckBeforeApply(helm: Helm, o: StuckOptions, hookStarted: () => Promise<boolean>): Promise<StuckRelease> {
  await install(helm, o);
  const next = 2 + (o.upgradesBefore ?? 0);
  const args = ['upgrade', o.release, o.chart ?? TINY_CHART, '-n', o.namespace, '--set', 'tag=2.0.0', '--set', 'hangPreUpgradeHook=true'];
  const history = await hangAndKill(helm, args, o.release, o.namespace, { revision: next, status: 'pending-upgrade' }, 90_000, hookStarted);
  return stuck('pending-upgrade', o, history);
}

/** A first install stuck at revision 1: there is nothing deployed underneath. */
export async function makeStuckInstall(helm: Helm, o: StuckOptions): Promise<StuckRelease> {
  const args = ['install', o.release, o.chart ?? TINY_CHART, '-n', o.namespace, '--create-namespace', helm.waitFlag];
  const history = await hangAndKill(helm, args, o.release, o.namespace, { revision: 1, status: 'pending-install' });
  return stuck('pending-install', o, history);
}

// Tests use `helm rollback` to *make* a pending-rollback release, as an operator might have.
// helm-unstuck itself never rolls back.
function rollbackArgs(helm: Helm, o: StuckOptions, to: number): string[] {
  return ['rollback', o.release, String(to), '-n', o.namespace, helm.waitFlag];
}

/** Revisions 1 and 2 deployed, then a rollback to 1 stuck as revision 3 pending-rollback. */
export async function makeStuckRollback(helm: Helm, o: StuckOptions): Promise<StuckRelease> {
  await install(helm, { ...o, upgradesBefore: (o.upgradesBefore ?? 0) + 1 });
  const top = 2 + (o.upgradesBefore ?? 0);
  const history = await hangAndKill(helm, rollbackArgs(helm, o, top - 1), o.release, o.namespace, {
    revision: top + 1,
    status: 'pending-rollback',
  });
  return stuck('pending-rollback', o, history);
}

/** A pending-rollback stacked on a pending-upgrade: two pending revisions in one history. */
export async function makeStackedPending(helm: Helm, o: StuckOptions): Promise<StuckRelease> {
  const first = await makeStuckUpgrade(helm, o);
  const history = await hangAndKill(
    helm,
    rollbackArgs(helm, o, first.pendingRevision - 1),
    o.release,
    o.namespace,
    { revision: first.pendingRevision + 1, status: 'pending-rollback' },
  );
  return stuck('stacked', o, history);
}

export const makeStuck: Record<StuckKind, (helm: Helm, o: StuckOptions) => Promise<StuckRelease>> = {
  'pending-upgrade': makeStuckUpgrade,
  'pending-install': makeStuckInstall,
  'pending-rollback': makeStuckRollback,
  stacked: makeStackedPending,
};
