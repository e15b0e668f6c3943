// A fake GitLab REST API v4, only as much as helm-unstuck uses, following
// ../shared/reference/gitlab-api.md field for field. GitLab cannot run on these machines; this
// is the one faked component. Tests drive its state directly (addJob, finishJob, …).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const JOB_STATUSES = ['created', 'pending', 'running', 'failed', 'success', 'canceled', 'skipped', 'manual', 'waiting_for_resource', 'scheduled', 'preparing'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const DEPLOYMENT_STATUSES = ['created', 'running', 'success', 'failed', 'canceled', 'blocked'] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

const USER = {
  id: 1,
  username: 'ops-bot',
  name: 'Ops Bot',
  state: 'active',
  avatar_url: null,
  web_url: 'https://ops.gitlab.invalid/ops-bot',
  created_at: '2020-01-01T00:00:00.000Z',
};

export interface Job {
  id: number;
  status: JobStatus;
  stage: string;
  name: string;
  ref: string;
  tag: boolean;
  coverage: number | null;
  allow_failure: boolean;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  erased_at: string | null;
  duration: number | null;
  queued_duration: number | null;
  user: typeof USER;
  commit: { id: string; short_id: string; title: string; author_name: string; author_email: string; created_at: string; message: string };
  pipeline: { id: number; project_id: number; sha: string; ref: string; status: string; source: string; created_at: string; updated_at: string; web_url: string };
  failure_reason?: string;
  web_url: string;
  artifacts: unknown[];
  runner: { id: number; description: string; active: boolean; is_shared: boolean; name: string } | null;
  artifacts_expire_at: string | null;
  archived: boolean;
  tag_list: string[];
}

export interface Deployment {
  id: number;
  iid: number;
  ref: string;
  sha: string;
  created_at: string;
  updated_at: string;
  user: typeof USER;
  environment: { id: number; name: string; slug: string; external_url: string | null; created_at: string; updated_at: string };
  deployable: Job;
  status: DeploymentStatus;
}

interface Project {
  id: number;
  path: string;
  jobs: Map<number, Job>;
  traces: Map<number, string>;
  deployments: Deployment[];
}

export interface FakeGitlabOptions {
  token: string;
}

/** What the fake was asked, for tests to assert on (e.g. exactly one retry). */
export interface Call {
  method: string;
  path: string;
  status: number;
}

const iso = (ms: number) => new Date(ms).toISOString();
const SHA = 'b83d6e391c22777fca1ed3012fce84f633d7fed0';

export class FakeGitlab {
  private server: Server | undefined;
  private readonly projects = new Map<number, Project>();
  private nextJobId = 1000;
  private nextDeploymentId = 1;
  private nextPipelineId = 500;
  readonly calls: Call[] = [];
  /** Answers to inject before normal handling, consumed in order: e.g. 429 with Retry-After. */
  readonly faults: { status: number; headers?: Record<string, string>; body?: unknown; match?: RegExp }[] = [];
  /**
   * An outage: from the first request matching `from`, every request is answered `status` for
   * `forMs` (nothing is done for it).
   */
  outage: { from: RegExp; status: number; forMs: number; since?: number } | undefined;
  /** Called when a job is retried, with the new job: tests decide how it finishes. */
  onRetry: ((project: number, newJob: Job) => void) | undefined;
  /** Per project, what a retried job runs (before onRetry): see runOnRetry. */
  private readonly retryRunners = new Map<number, (job: Job) => Promise<{ status: JobStatus; trace: string }>>();
  url = '';

  constructor(private readonly opts: FakeGitlabOptions) {}

  /** Listen on `port` (any free one by default; the same one again after `stop`, for an outage). */
  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.send(req, res, 500, { message: `500 Internal Server Error: ${String(err)}` });
      });
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  addProject(id: number, path: string): void {
    this.projects.set(id, { id, path, jobs: new Map(), traces: new Map(), deployments: [] });
  }

  private project(id: number): Project {
    const p = this.projects.get(id);
    if (!p) throw new Error(`fake GitLab: no project ${id}`);
    return p;
  }

  addJob(projectId: number, o: { name: string; stage?: string; status: JobStatus; ref?: string; trace?: string; erased?: boolean; archived?: boolean; failureReason?: string }): Job {
    const p = this.project(projectId);
    const id = this.nextJobId++;
    const now = Date.now();
    const pipelineId = this.nextPipelineId++;
    const finished = ['failed', 'success', 'canceled', 'skipped'].includes(o.status);
    const started = finished || o.status === 'running';
    const job: Job = {
      id,
      status: o.status,
      stage: o.stage ?? 'deploy',
      name: o.name,
      ref: o.ref ?? 'master',
      tag: false,
      coverage: null,
      allow_failure: false,
      created_at: iso(now - 60_000),
      started_at: started ? iso(now - 50_000) : null,
      finished_at: finished ? iso(now) : null,
      erased_at: o.erased ? iso(now) : null,
      duration: finished ? 50 : null,
      queued_duration: started ? 10 : null,
      user: USER,
      commit: { id: SHA, short_id: SHA.slice(0, 8), title: 'Deploy', author_name: 'Ops Bot', author_email: 'ops@example.invalid', created_at: iso(now - 3_600_000), message: 'Deploy\n' },
      pipeline: { id: pipelineId, project_id: projectId, sha: SHA, ref: o.ref ?? 'master', status: o.status, source: 'push', created_at: iso(now - 60_000), updated_at: iso(now), web_url: `https://ops.gitlab.invalid/${p.path}/-/pipelines/${pipelineId}` },
      web_url: `https://ops.gitlab.invalid/${p.path}/-/jobs/${id}`,
      artifacts: [],
      runner: started ? { id: 7, description: 'ops-runner-7', active: true, is_shared: false, name: 'gitlab-runner' } : null,
      artifacts_expire_at: null,
      archived: o.archived ?? false,
      tag_list: ['ops'],
      ...(o.status === 'failed' ? { failure_reason: o.failureReason ?? 'script_failure' } : {}),
    };
    p.jobs.set(id, job);
    p.traces.set(id, o.trace ?? '');
    return job;
  }

  /** Move a job to a final (or any) status, with its trace. */
  setJob(projectId: number, jobId: number, status: JobStatus, trace?: string): Job {
    const p = this.project(projectId);
    const job = p.jobs.get(jobId);
    if (!job) throw new Error(`fake GitLab: no job ${jobId}`);
    const now = Date.now();
    job.status = status;
    job.pipeline.status = status;
    job.pipeline.updated_at = iso(now);
    if (status === 'running' && !job.started_at) job.started_at = iso(now);
    if (['failed', 'success', 'canceled'].includes(status)) {
      job.finished_at = iso(now);
      job.duration = 1;
    }
    if (status === 'failed') job.failure_reason ??= 'script_failure';
    else delete job.failure_reason;
    if (trace !== undefined) p.traces.set(jobId, trace);
    return job;
  }

  /**
   * A retried job of this project runs `run` (a real deploy, say): the job is `running` while it
   * runs, then ends with the status and trace it returns (`failed` with the error if it throws).
   */
  runOnRetry(projectId: number, run: (job: Job) => Promise<{ status: JobStatus; trace: string }>): void {
    this.project(projectId);
    this.retryRunners.set(projectId, run);
  }

  private runJob(projectId: number, job: Job, run: (job: Job) => Promise<{ status: JobStatus; trace: string }>): void {
    this.setJob(projectId, job.id, 'running');
    run(job).then(
      (r) => this.setJob(projectId, job.id, r.status, r.trace),
      (err: unknown) => this.setJob(projectId, job.id, 'failed', `ERROR: ${err instanceof Error ? err.message : String(err)}\n`),
    );
  }

  addDeployment(projectId: number, o: { environment: string; status: DeploymentStatus; job: Job }): Deployment {
    const p = this.project(projectId);
    const id = this.nextDeploymentId++;
    const now = iso(Date.now());
    const d: Deployment = {
      id,
      iid: id,
      ref: o.job.ref,
      sha: SHA,
      created_at: now,
      updated_at: now,
      user: USER,
      environment: { id: 10 + id, name: o.environment, slug: o.environment.replace(/[^a-z0-9]+/g, '-'), external_url: null, created_at: now, updated_at: now },
      deployable: o.job,
      status: o.status,
    };
    p.deployments.push(d);
    return d;
  }

  setDeployment(projectId: number, deploymentId: number, status: DeploymentStatus): void {
    const d = this.project(projectId).deployments.find((x) => x.id === deploymentId);
    if (!d) throw new Error(`fake GitLab: no deployment ${deploymentId}`);
    d.status = status;
  }

  /** Retries GitLab made (201), of every project or of one. */
  retries(project?: number): Call[] {
    const path = project === undefined ? /\/retry$/ : new RegExp(`^/api/v4/projects/${project}/jobs/\\d+/retry$`);
    return this.calls.filter((c) => c.method === 'POST' && path.test(c.path) && c.status === 201);
  }

  private send(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.calls.push({ method: req.method ?? '', path: (req.url ?? '').split('?')[0]!, status });
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
      ...headers,
    });
    res.end(text);
  }

  /** GitLab's offset pagination: page/per_page, Link and X-*-Page headers, no totals. */
  private paginate<T>(req: IncomingMessage, url: URL, items: T[]): { page: T[]; headers: Record<string, string> } {
    const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 20)));
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1));
    const slice = items.slice((page - 1) * perPage, page * perPage);
    const hasNext = page * perPage < items.length;
    const link = (p: number) => {
      const u = new URL(url.toString());
      u.searchParams.set('page', String(p));
      u.searchParams.set('per_page', String(perPage));
      return `<${this.url}${u.pathname}${u.search}>`;
    };
    const links = [`${link(1)}; rel="first"`];
    if (hasNext) links.unshift(`${link(page + 1)}; rel="next"`);
    if (page > 1) links.unshift(`${link(page - 1)}; rel="prev"`);
    return {
      page: slice,
      headers: {
        link: links.join(', '),
        'x-page': String(page),
        'x-per-page': String(perPage),
        'x-next-page': hasNext ? String(page + 1) : '',
        'x-prev-page': page > 1 ? String(page - 1) : '',
      },
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for await (const _ of req) {
      // drain the body; no endpoint here reads one
    }
    const url = new URL(req.url ?? '/', 'http://fake');
    const token = req.headers['private-token'] ?? (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (token !== this.opts.token) return this.send(req, res, 401, { message: '401 Unauthorized' });
    const o = this.outage;
    if (o && o.since === undefined && o.from.test(`${req.method} ${url.pathname}`)) o.since = Date.now();
    if (o?.since !== undefined && Date.now() < o.since + o.forMs) return this.send(req, res, o.status, { message: `${o.status} (outage)` });
    const fault = this.faults.findIndex((f) => !f.match || f.match.test(url.pathname));
    if (fault >= 0) {
      const f = this.faults.splice(fault, 1)[0]!;
      return this.send(req, res, f.status, f.body ?? { message: `${f.status}` }, f.headers);
    }

    const m = /^\/api\/v4\/projects\/([^/]+)\/(jobs|deployments)(?:\/(\d+))?(?:\/(retry|trace))?$/.exec(url.pathname);
    if (!m) return this.send(req, res, 404, { error: '404 Not Found' });
    const ref = decodeURIComponent(m[1]!);
    const p = [...this.projects.values()].find((x) => String(x.id) === ref || x.path === ref);
    if (!p) return this.send(req, res, 404, { message: '404 Project Not Found' });
    const [, , collection, idText, action] = m;
    const method = req.method ?? 'GET';

    if (collection === 'jobs' && !idText && method === 'GET') {
      const scopes = [...url.searchParams.getAll('scope'), ...url.searchParams.getAll('scope[]')];
      if (scopes.some((s) => !(JOB_STATUSES as readonly string[]).includes(s))) {
        return this.send(req, res, 400, { message: 'scope contains invalid value(s)' });
      }
      const jobs = [...p.jobs.values()].filter((j) => scopes.length === 0 || scopes.includes(j.status)).sort((a, b) => b.id - a.id);
      const { page, headers } = this.paginate(req, url, jobs);
      return this.send(req, res, 200, page, headers);
    }
    if (collection === 'jobs' && idText) {
      const job = p.jobs.get(Number(idText));
      if (!job) return this.send(req, res, 404, { message: '404 Not found' });
      if (!action && method === 'GET') return this.send(req, res, 200, job);
      if (action === 'trace' && method === 'GET') return this.send(req, res, 200, p.traces.get(job.id) ?? '');
      if (action === 'retry' && method === 'POST') {
        const finished = ['failed', 'success', 'canceled'].includes(job.status);
        if (job.erased_at || job.archived || !finished) return this.send(req, res, 403, { message: '403 Forbidden - Job is not retryable' });
        const fresh = this.addJob(p.id, { name: job.name, stage: job.stage, status: 'pending', ref: job.ref });
        fresh.pipeline = { ...job.pipeline, status: 'pending' };
        this.send(req, res, 201, fresh);
        const run = this.retryRunners.get(p.id);
        if (run) this.runJob(p.id, fresh, run);
        else this.onRetry?.(p.id, fresh);
        return;
      }
    }
    if (collection === 'deployments' && !idText && method === 'GET') {
      const env = url.searchParams.get('environment');
      const status = url.searchParams.get('status');
      if (status && !(DEPLOYMENT_STATUSES as readonly string[]).includes(status)) {
        return this.send(req, res, 400, { message: 'status does not have a valid value' });
      }
      const deps = p.deployments
        .filter((d) => (!env || d.environment.name === env) && (!status || d.status === status))
        .sort((a, b) => a.id - b.id);
      const { page, headers } = this.paginate(req, url, deps);
      return this.send(req, res, 200, page, headers);
    }
    return this.send(req, res, 404, { error: '404 Not Found' });
  }
}
