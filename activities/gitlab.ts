// The GitLab adapter: the only file that imports @gitbeaker/rest. It returns plain data and
// throws our own Gitlab*Error types. @gitbeaker/rest retries a 429 or 502 read by itself, within
// the request's timeout; Temporal's retry policy stays the outer one. Every request ends at its
// timeout or when the activity attempt making it ends, whichever is first.
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  Gitlab,
  GitbeakerRequestError,
  GitbeakerRetryError,
  GitbeakerTimeoutError,
  type AllDeploymentsOptions,
  type BaseRequestOptions,
  type GitlabAPIResponse,
  type JobSchema,
  type JobScope,
  type PaginationRequestOptions,
  type PaginationTypes,
} from '@gitbeaker/rest';
import { z } from 'zod';
import { abortedBecause, requestSignal } from './attempt';

/** Each request's limit (pages included), well inside an activity's start-to-close timeout. */
export const GITLAB_REQUEST_TIMEOUT_MS = 20_000;

export class GitlabError extends Error {
  override name = 'GitlabError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}
/** 401/403 for the token: retrying will not help. */
export class GitlabAuthError extends GitlabError {
  override name = 'GitlabAuthError';
}
export class GitlabNotFoundError extends GitlabError {
  override name = 'GitlabNotFoundError';
}
/** 403 "Job is not retryable" (an erased or archived job). */
export class GitlabJobNotRetryableError extends GitlabError {
  override name = 'GitlabJobNotRetryableError';
}
/** 429, 5xx, timeouts, network: worth retrying. */
export class GitlabUnavailableError extends GitlabError {
  override name = 'GitlabUnavailableError';
}

/** GitLab's error answer, as our error: the status says whether retrying can help. */
async function answeredWith(res: Response | undefined, fallback: string, what: string): Promise<GitlabError> {
  const status = res?.status ?? 0;
  let detail = fallback;
  try {
    const body = (await res?.clone().json()) as { message?: unknown; error?: unknown } | undefined;
    const m = body?.message ?? body?.error;
    if (m) detail = typeof m === 'string' ? m : JSON.stringify(m);
  } catch {
    // body not JSON, or already read
  }
  return byStatus(`${what}: GitLab answered ${status}: ${detail.slice(0, 1024)}`, status, detail);
}

async function translate(err: unknown, what: string, signal?: AbortSignal): Promise<Error> {
  if (err instanceof GitbeakerRequestError) return answeredWith(err.cause?.response, err.message, what);
  if (signal?.aborted) return new GitlabUnavailableError(`${what}: ${abortedBecause(signal, GITLAB_REQUEST_TIMEOUT_MS)}`, 0);
  if (err instanceof GitbeakerTimeoutError || err instanceof GitbeakerRetryError) {
    return new GitlabUnavailableError(`${what}: ${err.message}`, 0);
  }
  return new GitlabUnavailableError(`${what}: ${(err as Error)?.message ?? String(err)}`, 0);
}

function byStatus(message: string, status: number, detail: string): GitlabError {
  if (status === 401) return new GitlabAuthError(message, status);
  if (status === 403 && /not retryable/i.test(detail)) return new GitlabJobNotRetryableError(message, status);
  if (status === 403) return new GitlabAuthError(message, status);
  if (status === 404) return new GitlabNotFoundError(message, status);
  if (status === 429 || status >= 500) return new GitlabUnavailableError(message, status);
  return new GitlabError(message, status);
}

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  // gitbeaker takes no signal per call: its requesters (see abortable) pick this one up.
  const signal = requestSignal(GITLAB_REQUEST_TIMEOUT_MS);
  try {
    return await inflight.run(signal, fn);
  } catch (err) {
    throw await translate(err, what, signal);
  }
}

/** The signal of the call under way, for the requesters gitbeaker calls. */
const inflight = new AsyncLocalStorage<AbortSignal>();

type Requester = Record<string, (endpoint: string, options?: { signal?: AbortSignal }) => Promise<unknown>>;

/** Make a gitbeaker resource's requests end with the call under way (its own timeout is longer). */
function abortable(resource: object): void {
  const requester = (resource as { requester: Requester }).requester;
  for (const method of Object.keys(requester)) {
    const send = requester[method]!.bind(requester);
    requester[method] = (endpoint, options) => {
      const mine = inflight.getStore();
      const signal = mine && options?.signal ? AbortSignal.any([mine, options.signal]) : (mine ?? options?.signal);
      return send(endpoint, { ...options, ...(signal ? { signal } : {}) });
    };
  }
}

/** A CI job, as evidence: what an SRE needs to find and judge it. */
export interface CiJob {
  id: number;
  name: string;
  stage: string;
  status: string;
  ref: string;
  webUrl: string;
  pipelineId?: number;
  createdAt?: string;
  startedAt?: string;
  finishedAt?: string;
  failureReason?: string;
}

export interface CiDeployment {
  id: number;
  status: string;
  environment: string;
  ref: string;
  job?: CiJob;
}

// What we read of GitLab's answers, checked at this boundary (gitbeaker's types are a promise
// about the server, not a check): a field missing or of the wrong type is a clear error here, not
// an `undefined` deep inside a decision. Unread fields are dropped. GitLab sends null for unset times.
const optionalText = z.string().nullish();
const JobWire = z.object({
  id: z.number(),
  name: z.string(),
  stage: z.string(),
  status: z.string(),
  ref: z.string(),
  web_url: z.string(),
  pipeline: z.object({ id: z.number() }).nullish(),
  created_at: optionalText,
  started_at: optionalText,
  finished_at: optionalText,
  failure_reason: optionalText,
});
const DeploymentWire = z.object({
  id: z.number(),
  status: z.string(),
  ref: z.string(),
  environment: z.object({ name: z.string() }),
  // A Job (the contract), though gitbeaker types it as its smaller DeployableSchema.
  deployable: JobWire.nullish(),
});

/** GitLab's answer as `schema` says, or a non-retryable error naming what did not fit. */
function parse<S extends z.ZodType>(schema: S, answer: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(answer);
  if (!r.success) throw new GitlabError(`${what}: GitLab answered something unexpected: ${z.prettifyError(r.error)}`, 0);
  return r.data;
}

function toJob(j: z.infer<typeof JobWire>): CiJob {
  const out: CiJob = { id: j.id, name: j.name, stage: j.stage, status: j.status, ref: j.ref, webUrl: j.web_url };
  if (j.pipeline) out.pipelineId = j.pipeline.id;
  if (j.created_at) out.createdAt = j.created_at;
  if (j.started_at) out.startedAt = j.started_at;
  if (j.finished_at) out.finishedAt = j.finished_at;
  if (j.failure_reason) out.failureReason = j.failure_reason;
  return out;
}

const jobs = (answer: unknown, what: string) => parse(z.array(JobWire), answer, what).map(toJob);
const job = (answer: unknown, what: string) => toJob(parse(JobWire, answer, what));

/** The deployment statuses GitLab filters on. */
export type DeploymentStatus = NonNullable<AllDeploymentsOptions['status']>;

// GitLab takes one scope or several (scope[]=running&scope[]=pending, the contract); gitbeaker
// sends an array as such but types only one. This overload says what the API accepts.
declare module '@gitbeaker/core' {
  interface Jobs<C extends boolean = false> {
    all<E extends boolean = false, P extends PaginationTypes = 'offset'>(
      projectId: string | number,
      options: { scope: JobScope[] } & BaseRequestOptions<E> & PaginationRequestOptions<P>,
    ): Promise<GitlabAPIResponse<JobSchema[], C, E, P>>;
  }
}

/** A job's log, read at most up to a cap: `overCap` when there was more (its text is then empty). */
export interface JobTrace {
  text: string;
  bytes: number;
  overCap: boolean;
}

export class GitlabClient {
  private readonly api: InstanceType<typeof Gitlab>;

  constructor(
    readonly host: string,
    private readonly token: string,
    opts: { queryTimeout?: number } = {},
  ) {
    this.api = new Gitlab({ host, token, queryTimeout: opts.queryTimeout ?? GITLAB_REQUEST_TIMEOUT_MS });
    abortable(this.api.Jobs);
    abortable(this.api.Deployments);
  }

  /** Running and pending jobs of a project, newest first. */
  async activeJobs(project: string | number): Promise<CiJob[]> {
    const what = `list running and pending jobs of project ${project}`;
    const scope: JobScope[] = ['running', 'pending'];
    return jobs(await call(what, () => this.api.Jobs.all(project, { scope, perPage: 100, maxPages: 10 })), what);
  }

  /** Deployments to an environment with a given status, oldest first (GitLab's default order). */
  async deployments(project: string | number, environment: string, status: DeploymentStatus): Promise<CiDeployment[]> {
    const what = `list ${status} deployments of ${environment} in project ${project}`;
    const answer = await call(what, () => this.api.Deployments.all(project, { environment, status, perPage: 100, maxPages: 10 }));
    return parse(z.array(DeploymentWire), answer, what).map((d) => ({
      id: d.id,
      status: d.status,
      environment: d.environment.name,
      ref: d.ref,
      ...(d.deployable ? { job: toJob(d.deployable) } : {}),
    }));
  }

  /** The newest jobs of a project (one page, newest first). */
  async recentJobs(project: string | number, perPage = 100): Promise<CiJob[]> {
    const what = `list recent jobs of project ${project}`;
    return jobs(await call(what, () => this.api.Jobs.all(project, { perPage, maxPages: 1 })), what);
  }

  async job(project: string | number, jobId: number): Promise<CiJob> {
    const what = `read job ${jobId} of project ${project}`;
    return job(await call(what, () => this.api.Jobs.show(project, jobId)), what);
  }

  /**
   * Retry a job; GitLab answers with a NEW job, whose id is the one to follow. Sent once, not
   * through gitbeaker, which would send it again on a 502 (a gateway's 502 may come after GitLab
   * retried the job): a failed retry is Temporal's to repeat, and retryCiJob looks for the earlier
   * retry first.
   */
  async retry(project: string | number, jobId: number): Promise<CiJob> {
    const what = `retry job ${jobId} of project ${project}`;
    const signal = requestSignal(GITLAB_REQUEST_TIMEOUT_MS);
    let res: Response;
    let body: unknown;
    try {
      res = await fetch(this.jobUrl(project, jobId, 'retry'), { method: 'POST', headers: { 'private-token': this.token }, signal });
      if (!res.ok) throw await answeredWith(res, res.statusText, what);
      body = await res.json().catch(() => undefined);
    } catch (err) {
      throw err instanceof GitlabError ? err : await translate(err, what, signal);
    }
    return job(body, what);
  }

  /** A job's REST path (for the two calls made without gitbeaker). */
  private jobUrl(project: string | number, jobId: number, tail: 'retry' | 'trace'): string {
    return `${this.host.replace(/\/+$/, '')}/api/v4/projects/${encodeURIComponent(String(project))}/jobs/${encodeURIComponent(String(jobId))}/${tail}`;
  }

  /**
   * The job's log, streamed: whoever can push to the project writes it, so reading stops at
   * `maxBytes` and the rest is never held (gitbeaker's showLog would buffer it all).
   */
  async trace(project: string | number, jobId: number, maxBytes: number): Promise<JobTrace> {
    const what = `read the trace of job ${jobId} of project ${project}`;
    // The timeout and the attempt's end cover the whole stream, not only the answer's headers.
    const signal = requestSignal(GITLAB_REQUEST_TIMEOUT_MS);
    let res: Response;
    try {
      res = await fetch(this.jobUrl(project, jobId, 'trace'), { headers: { 'private-token': this.token }, signal });
    } catch (err) {
      throw await translate(err, what, signal);
    }
    if (!res.ok) throw await answeredWith(res, res.statusText, what);
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    const reader = res.body!.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.length;
        if (bytes > maxBytes) {
          await reader.cancel();
          return { text: '', bytes, overCap: true };
        }
        chunks.push(value);
      }
    } catch (err) {
      throw await translate(err, what, signal);
    }
    return { text: Buffer.concat(chunks).toString('utf8'), bytes, overCap: false };
  }
}
