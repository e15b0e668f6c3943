// Runbook steps 1 and 6 (observe, act): is CI deploying to this environment right now, and the
// re-run of the failed deploy job whose dry-run diff should change nothing.
import { parseDryRunTrace, TRACE_LIMITS, traceNotRead, type DiffReport } from '../decisions/dry-run-diff';
import { watchProblems, type CiWatch } from '../decisions/schemas';
import { compileJobPattern } from '../decisions/schemas';
import { InvalidInputError } from './failures';
import type { CiJob, GitlabClient } from './gitlab';

// Unset jobPattern: every running or pending job of the project counts, as the runbook's "ensure
// no other pipelines are executing" asks.
export type { CiWatch };

export interface CiBusyItem {
  project: string | number;
  kind: 'job' | 'deployment';
  id: number;
  name: string;
  status: string;
  webUrl?: string;
}

export interface CiQuietResult {
  quiet: boolean;
  summary: string;
  busy: CiBusyItem[];
  observedAt: string;
}

export interface RerunInput {
  project: string | number;
  jobId: number;
}

export interface DiffResult {
  job: CiJob;
  diff: DiffReport;
  /** Size of the trace read; the trace itself stays in GitLab. */
  traceBytes: number;
}

/** A GitLab project as an id or a path (`group/sub/project`); nothing else reaches a URL. */
const PROJECT_PATH = /^[A-Za-z0-9_.][A-Za-z0-9_.-]*(\/[A-Za-z0-9_.][A-Za-z0-9_.-]*)*$/;

/** A job id is a positive whole number and a project an id or a path: checked before any request. */
export function validateRerun(input: RerunInput): void {
  const { project, jobId } = input ?? ({} as RerunInput);
  if (typeof jobId !== 'number' || !Number.isSafeInteger(jobId) || jobId < 1) throw new InvalidInputError(`job id ${JSON.stringify(jobId)?.slice(0, 64)} is not a positive whole number`);
  const okProject =
    (typeof project === 'number' && Number.isSafeInteger(project) && project > 0) ||
    (typeof project === 'string' && project.length <= 255 && PROJECT_PATH.test(project) && !project.split('/').includes('..'));
  if (!okProject) throw new InvalidInputError(`project ${JSON.stringify(project)?.slice(0, 64)} is not a GitLab project id or path`);
}

/** Whether `jobId` is the job of a failed deployment to the watched environment: a job this incident may re-run. */
export async function isFailedDeployJob(gl: GitlabClient, watch: CiWatch, jobId: number): Promise<boolean> {
  const failed = await gl.deployments(watch.project, watch.environment, 'failed');
  return failed.some((d) => d.job?.id === jobId);
}

export function validateWatches(watches: CiWatch[]): void {
  const problems = watchProblems(watches);
  if (problems.length > 0) throw new InvalidInputError(problems.join('; '));
}

/** What is deploying to one watched environment: its matching active jobs and open deployments. */
async function busyOn(gl: GitlabClient, w: CiWatch): Promise<CiBusyItem[]> {
  // RE2: the job names are untrusted, the pattern cannot backtrack on them.
  const pattern = w.jobPattern === undefined ? undefined : compileJobPattern(w.jobPattern);
  const [jobs, running, created] = await Promise.all([
    gl.activeJobs(w.project),
    gl.deployments(w.project, w.environment, 'running'),
    gl.deployments(w.project, w.environment, 'created'),
  ]);
  return [
    ...jobs
      .filter((j) => !pattern || pattern.test(`${j.stage}:${j.name}`))
      .map((j): CiBusyItem => ({ project: w.project, kind: 'job', id: j.id, name: j.name, status: j.status, webUrl: j.webUrl })),
    ...[...running, ...created].map((d): CiBusyItem => ({ project: w.project, kind: 'deployment', id: d.id, name: `deployment to ${d.environment}`, status: d.status, ...(d.job ? { webUrl: d.job.webUrl } : {}) })),
  ];
}

export function createCiActivities(gitlab: () => GitlabClient, now: () => number) {
  return {
    /** Runbook step 1: no running or pending deploy job or deployment targets the environment. */
    async checkCiQuiet(watches: CiWatch[]): Promise<CiQuietResult> {
      validateWatches(watches);
      const gl = gitlab();
      const busy: CiBusyItem[] = [];
      for (const w of watches) busy.push(...(await busyOn(gl, w)));
      const summary =
        busy.length === 0
          ? `CI quiet: no running or pending deploy job or deployment for ${watches.map((w) => w.environment).join(', ')}`
          : `CI busy: ${busy.map((b) => `${b.kind} ${b.id} ${b.name} (${b.status})`).join(', ')}`;
      return { quiet: busy.length === 0, summary, busy, observedAt: new Date(now()).toISOString() };
    },

    /** The deploy job to re-run: the job of the newest failed deployment to the environment. */
    async findJobToRerun(watch: CiWatch): Promise<CiJob | null> {
      validateWatches([watch]);
      const failed = await gitlab().deployments(watch.project, watch.environment, 'failed');
      const newest = [...failed].sort((a, b) => b.id - a.id).find((d) => d.job);
      return newest?.job ?? null;
    },

    /**
     * Runbook step 6: retry the job. GitLab creates a new job: follow its id. Idempotent: if this
     * activity already retried it (and its result was lost, say the worker died), the newer job of
     * the same name in the same pipeline is that retry, and no second one is made.
     */
    async retryCiJob(input: RerunInput): Promise<CiJob & { alreadyRetried: boolean }> {
      validateRerun(input);
      const gl = gitlab();
      const original = await gl.job(input.project, input.jobId);
      const earlier = (await gl.recentJobs(input.project)).find(
        (j) => j.id > original.id && j.name === original.name && j.pipelineId === original.pipelineId,
      );
      if (earlier) return { ...earlier, alreadyRetried: true };
      return { ...(await gl.retry(input.project, input.jobId)), alreadyRetried: false };
    },

    async getCiJob(input: RerunInput): Promise<CiJob> {
      validateRerun(input);
      return gitlab().job(input.project, input.jobId);
    },

    /**
     * Read the finished job's trace and judge its dry-run diff; only the verdict goes to history.
     * The trace is streamed and read at most up to the parser's cap: a longer one is `unknown`.
     */
    async readDryRunDiff(input: RerunInput): Promise<DiffResult> {
      validateRerun(input);
      const gl = gitlab();
      const [job, trace] = await Promise.all([gl.job(input.project, input.jobId), gl.trace(input.project, input.jobId, TRACE_LIMITS.maxChars)]);
      return { job, diff: trace.overCap ? traceNotRead(trace.bytes) : parseDryRunTrace(trace.text), traceBytes: trace.bytes };
    },
  };
}
