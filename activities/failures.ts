// Our typed errors, turned into Temporal failures in one place: unsafe or hopeless states fail
// non-retryably with a stable type an operator (and the workflow) can match on; an API server
// outage stays retryable, so Temporal's retry policy is the one that decides.
import { ApplicationFailure } from '@temporalio/common';
import { FAILURE_TYPES } from '../decisions/failure-types';
import { AdmissionPolicyMissingError } from '../decisions/admission-policy';
import { KubeConflictError, KubeError, KubeForbiddenError, KubeNotFoundError, KubeUnavailableError } from './kubernetes';
import { NotAHelmReleaseError } from './helm-storage';
import { GitlabAuthError, GitlabError, GitlabJobNotRetryableError, GitlabNotFoundError, GitlabUnavailableError } from './gitlab';

/** Bad input (unknown cluster, invalid name): nothing was changed. */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
}

/** Helm's state is not what the human approved: we act on nothing. */
export class ReleaseChangedError extends Error {
  override name = 'ReleaseChangedError';
}

/** An act (unlock, CI re-run) whose approval does not hold now: nothing was changed. */
export class ApprovalRefusedError extends Error {
  override name = 'ApprovalRefusedError';
}

/** A backup we need is missing or is not ours. */
export class BackupError extends Error {
  override name = 'BackupError';
}

export { FAILURE_TYPES };

/** A backup's contents do not match the digest recorded for it, or nothing records one: restored nothing. */
export class BackupDigestError extends Error {
  override name = 'BackupDigestError';
}

export function toFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  const nonRetryable = (type: string, e: Error) => ApplicationFailure.create({ message: e.message, type, nonRetryable: true, cause: e });
  if (err instanceof InvalidInputError) return nonRetryable(FAILURE_TYPES.InvalidInput, err);
  if (err instanceof ApprovalRefusedError) return nonRetryable(FAILURE_TYPES.ApprovalRefused, err);
  if (err instanceof ReleaseChangedError) return nonRetryable(FAILURE_TYPES.ReleaseChanged, err);
  if (err instanceof BackupError) return nonRetryable(FAILURE_TYPES.Backup, err);
  if (err instanceof BackupDigestError) return nonRetryable(FAILURE_TYPES.BackupDigest, err);
  if (err instanceof AdmissionPolicyMissingError) return nonRetryable(FAILURE_TYPES.AdmissionPolicyMissing, err);
  if (err instanceof NotAHelmReleaseError) return nonRetryable(FAILURE_TYPES.NotAHelmRelease, err);
  if (err instanceof KubeUnavailableError) return err; // retryable
  if (err instanceof KubeForbiddenError) return nonRetryable(FAILURE_TYPES.KubeForbidden, err);
  if (err instanceof KubeNotFoundError) return nonRetryable(FAILURE_TYPES.KubeNotFound, err);
  if (err instanceof KubeConflictError) return nonRetryable(FAILURE_TYPES.ReleaseChanged, err);
  if (err instanceof KubeError) return nonRetryable(FAILURE_TYPES.KubeRejected, err);
  if (err instanceof GitlabUnavailableError) return err; // retryable
  if (err instanceof GitlabJobNotRetryableError) return nonRetryable(FAILURE_TYPES.CiJobNotRetryable, err);
  if (err instanceof GitlabAuthError) return nonRetryable(FAILURE_TYPES.GitlabForbidden, err);
  if (err instanceof GitlabNotFoundError) return nonRetryable(FAILURE_TYPES.GitlabNotFound, err);
  if (err instanceof GitlabError) return nonRetryable(FAILURE_TYPES.GitlabRejected, err);
  return err;
}

/** Wrap an activity so that what it throws is translated by toFailure. */
export function withFailures<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  const wrapped = async (...args: A) => {
    try {
      return await fn(...args);
    } catch (err) {
      throw toFailure(err);
    }
  };
  Object.defineProperty(wrapped, 'name', { value: fn.name });
  return wrapped;
}
