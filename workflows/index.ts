export { remediateStuckRelease, type RemediationResult } from './remediate';
