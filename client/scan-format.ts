// How `helm-unstuck scan` prints: a table for people, JSON for scripts.
import { formatDuration } from '../decisions/duration';
import type { ScanResult } from '../activities/release';
import { forTerminal, forTerminalLine } from '../lib/terminal';

export function scanTable(r: ScanResult): string {
  if (r.stuck.length === 0) {
    const where = r.namespace ? `namespace ${r.namespace}` : 'any namespace';
    const extra = r.unreadable.length ? ` (${r.unreadable.length} unreadable records, see -o json)` : '';
    return forTerminal(`No stuck Helm releases in ${where} of ${r.cluster}${extra}.\n`);
  }
  const rows = [
    ['NAMESPACE', 'RELEASE', 'REVISION', 'STATUS', 'PENDING FOR', 'DEPLOYED', 'DRIVER', 'NOTE'],
    ...r.stuck.map((s) => [
      s.namespace,
      s.release,
      String(s.revision),
      s.status,
      s.pendingForMs === undefined ? '?' : formatDuration(s.pendingForMs),
      s.lastDeployedRevision === undefined ? '-' : String(s.lastDeployedRevision),
      s.driver,
      [s.stacked ? `stacked: ${s.pendingRevisions.join(',')}` : '', s.firstInstall ? 'first install' : '']
        .filter(Boolean)
        .join('; '),
    ]),
  ];
  // Cells come from the cluster (names, labels): nothing in them may act on the terminal.
  const safe = rows.map((row) => row.map(forTerminalLine));
  const widths = safe[0]!.map((_, i) => Math.max(...safe.map((row) => row[i]!.length)));
  return safe.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}
