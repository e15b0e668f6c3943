// The types of the failures our activities raise, as Temporal carries them: activities/failures.ts
// raises them, the workflow matches on them. Defined once, here, where both can import it.
export const FAILURE_TYPES = {
  InvalidInput: 'InvalidInput',
  ApprovalRefused: 'ApprovalRefused',
  ReleaseChanged: 'ReleaseChanged',
  Backup: 'BackupProblem',
  BackupDigest: 'BackupDigestMismatch',
  AdmissionPolicyMissing: 'AdmissionPolicyMissing',
  NotAHelmRelease: 'NotAHelmRelease',
  KubeForbidden: 'KubeForbidden',
  KubeNotFound: 'KubeNotFound',
  KubeRejected: 'KubeRejected',
  GitlabForbidden: 'GitlabForbidden',
  GitlabNotFound: 'GitlabNotFound',
  CiJobNotRetryable: 'CiJobNotRetryable',
  GitlabRejected: 'GitlabRejected',
} as const;

export type FailureType = (typeof FAILURE_TYPES)[keyof typeof FAILURE_TYPES];
