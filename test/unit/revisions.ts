// Helm revision records as the decision tables need them: release gitlab/gitlab, one clock.
import { recordName, type ReleaseStatus, type RevisionRecord } from '../../decisions/helm';

export const NOW = Date.parse('2026-11-24T10:00:00Z');
export const minutesAgo = (m: number) => new Date(NOW - m * 60_000).toISOString();

export function rev(revision: number, status: ReleaseStatus, writtenMinutesAgo = 60): RevisionRecord {
  return {
    release: 'gitlab',
    namespace: 'gitlab',
    revision,
    status,
    driver: 'secret',
    objectName: recordName('gitlab', revision),
    uid: `uid-${revision}`,
    resourceVersion: String(1000 + revision),
    createdAt: minutesAgo(writtenMinutesAgo),
  };
}
