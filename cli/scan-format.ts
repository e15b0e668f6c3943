// How `helm-unstuck scan` prints: a table for people, JSON for scripts.
import { formatDuration } from '../decisions/duration';
import type { ScanResult, StuckReleaseSummary } from '../activities/release';
import { forTerminal, forTerminalLine } from '../lib/terminal';

const HEADER = ['NAMESPACE', 'RELEASE', 'REVISION', 'STATUS', 'PENDING FOR', 'DEPLOYED', 'DRIVER', 'NOTE'];

function stuckRow(s: StuckReleaseSummary): string[] {
  return [
    s.namespace,
    s.release,
    String(s.revision),
    s.status,
    s.pendingForMs === undefined ? '?' : formatDuration(s.pendingForMs),
    s.lastDeployedRevision === undefined ? '-' : String(s.lastDeployedRevision),
    s.driver,
    [s.stacked ? `stacked: ${s.pendingRevisions.join(',')}` : '', s.firstInstall ? 'first install' : ''].filter(Boolean).join('; '),
  ];
}

/** Columns padded to their widest cell, two spaces apart. */
export function columns(cells: string[][]): string {
  // Cells come from the cluster (names, labels): nothing in them may act on the terminal.
  const rows = cells.map((row) => row.map(forTerminalLine));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

export function scanTable(r: ScanResult): string {
  if (r.stuck.length === 0) {
    const where = r.namespace ? `namespace ${r.namespace}` : 'any namespace';
    const extra = r.unreadable.length ? ` (${r.unreadable.length} unreadable records, see -o json)` : '';
    return forTerminal(`No stuck Helm releases in ${where} of ${r.cluster}${extra}.\n`);
  }
  return columns([HEADER, ...r.stuck.map(stuckRow)]);
}

/** One cluster of a fleet scan: what it found, or why it could not be scanned. */
export type FleetEntry = { cluster: string; result: ScanResult } | { cluster: string; error: string; detail?: string };

/** The longest error text a fleet table shows; -o json has it whole. */
const ERROR_CHARS = 160;

/** One line of an error, short enough for a table cell. */
export function errorCell(message: string): string {
  const line = message.split('\n').find((l) => l.trim() !== '')?.trim() ?? 'unknown error';
  return line.length > ERROR_CHARS ? `${line.slice(0, ERROR_CHARS - 1)}…` : line;
}

/**
 * The fleet in one table, clusters in the order given: a row per stuck release, one row for a
 * cluster with none, and one row saying why for a cluster that could not be scanned. A summary
 * line follows, so an error row is never the only sign something was missed.
 */
export function fleetTable(entries: FleetEntry[]): string {
  const blank = HEADER.map(() => '-');
  const rows = entries.flatMap((e): string[][] => {
    if ('error' in e) return [[e.cluster, ...blank.slice(0, -1), `ERROR: ${errorCell(e.error)}`]];
    const unreadable = e.result.unreadable.length ? `${e.result.unreadable.length} unreadable records, see -o json` : '';
    if (e.result.stuck.length === 0) return [[e.cluster, ...blank.slice(0, -1), ['no stuck releases', unreadable].filter(Boolean).join('; ')]];
    return e.result.stuck.map((s, i) => {
      const row = stuckRow(s);
      if (i === 0 && unreadable) row[row.length - 1] = [row[row.length - 1], unreadable].filter(Boolean).join('; ');
      return [e.cluster, ...row];
    });
  });
  const failed = entries.filter((e) => 'error' in e).length;
  const stuck = entries.reduce((n, e) => n + ('result' in e ? e.result.stuck.length : 0), 0);
  const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
  const summary = [
    `${plural(entries.length, 'cluster')}: ${plural(stuck, 'stuck release')}`,
    failed ? `${plural(failed, 'cluster')} could not be scanned` : '',
  ].filter(Boolean).join(', ');
  return columns([['CLUSTER', ...HEADER], ...rows]) + `${summary}.\n`;
}
