export { remediateStuckRelease, type RemediationResult } from './remediate';
export { scanAfterTruncation } from './truncation-scan';
