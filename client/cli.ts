// The helm-unstuck command line. `main` takes argv and an io object so tests run it in-process.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { scan } from '../activities/release';
import { Kube } from '../activities/kubernetes';
import type { StorageDriver } from '../decisions/helm';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { buildIncidentReport } from '../report/incident';
import { renderHtml, renderMarkdown } from '../report/render';
import { serve } from '../server/serve';
import { loadDemo } from './demo-load';
import { startWorker } from '../worker/worker';
import { connectClient } from './connect';
import { CommandError, decideCommand, listCommand, restoreCommand, startCommand, statusCommand } from './incident-commands';
import { InvalidRemediationInput } from './remediation';
import { ConfigError } from '../lib/config';
import { scanTable } from './scan-format';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
}

export const EXIT = { ok: 0, error: 1, usage: 2, stuckFound: 3, interrupted: 130 } as const;

class UsageError extends Error {}

const USAGE = `helm-unstuck: find and safely unlock Helm releases stuck in a pending state.

Usage: helm-unstuck <command> [options]

Commands:
  demo      The whole incident on this machine: a stuck release, a real alert, the workflow, you.
  serve     Receive Alertmanager webhooks and serve /metrics (with the worker, unless --no-worker).
  start     Start (or join) the incident for a release.
  approve   Approve at the gate (or continue past a busy-CI/unhealthy hold), saying why.
  reject    Reject at the gate (or abort on a hold), saying why.
  status    An incident's step, evidence and what it waits for (--watch to follow it).
  list      Running incidents (--all: finished ones too).
  restore   Put a backed-up Helm record back exactly as it was.
  worker    Run the Temporal worker. Uses TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / TEMPORAL_API_KEY /
            TEMPORAL_TLS_* / TEMPORAL_CONFIG_FILE when set; otherwise starts (or joins) a local
            Temporal dev server on 127.0.0.1:7233 with its UI on :8233.
  scan      List stuck Helm releases in a cluster (reads only pending records' metadata).
  history   Export an incident's full history as JSON (the format Temporal's own tools read).
  report    Render an incident (from Temporal or an exported history) as Markdown or HTML.

Run 'helm-unstuck <command> --help' for a command's options.
`;

const COMMANDS: Record<
  string,
  { usage: string; options: ParseArgsConfig['options']; positionals?: boolean; run: (v: Values, io: Io) => Promise<number> }
> = {
  worker: {
    usage: `Usage: helm-unstuck worker [--kubeconfig FILE]

Runs until SIGINT or SIGTERM. Cluster names map to kubeconfig contexts of the same name.
Environment: the Temporal SDK's (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
TEMPORAL_TLS_*, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE); HELM_UNSTUCK_TASK_QUEUE (default
helm-unstuck); KUBECONFIG.
`,
    options: { kubeconfig: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    run: runWorker,
  },
  scan: {
    usage: `Usage: helm-unstuck scan [-n NAMESPACE] [--context NAME] [--kubeconfig FILE]
                         [--driver secret|configmap|all] [-o table|json] [--fail-if-stuck]

Lists Helm releases whose newest revision is pending (pending-install, pending-upgrade,
pending-rollback): Helm refuses every operation on them. All namespaces unless -n is given.
Exit status: 0, or 3 with --fail-if-stuck when a stuck release was found; 1 on errors; 2 on bad usage.
`,
    options: {
      namespace: { type: 'string', short: 'n' },
      context: { type: 'string' },
      kubeconfig: { type: 'string' },
      driver: { type: 'string', default: 'all' },
      output: { type: 'string', short: 'o', default: 'table' },
      'fail-if-stuck': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    run: runScan,
  },
  demo: {
    usage: `Usage: helm-unstuck demo [--yes] [--helm 3|4]

Starts a local Kubernetes API server, makes a genuinely stuck Helm release, raises the alert
through a real Alertmanager, and runs the incident: you approve at the prompt (or in advance with
--yes). Prints the workflow's progress and the incident report. Everything it starts stops when
it ends. Temporal: TEMPORAL_ADDRESS, or a local dev server started on demand.
`,
    options: { yes: { type: 'boolean', short: 'y' }, helm: { type: 'string', default: '3' }, help: { type: 'boolean', short: 'h' } },
    run: async (v, io) => {
      if (v.helm !== '3' && v.helm !== '4') throw new UsageError('--helm must be 3 or 4');
      const { DemoInterrupted, runDemo } = loadDemo();
      // Ctrl-C (or SIGTERM) cancels the demo's incident and stops what it started; a second one quits at once.
      const interrupt = new AbortController();
      const onSignal = (sig: NodeJS.Signals) => {
        if (interrupt.signal.aborted) process.exit(EXIT.interrupted);
        io.err(`\n${sig}: stopping the demo (again to quit at once)…\n`);
        interrupt.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const report = await runDemo({ yes: Boolean(v.yes), helmMajor: v.helm === '4' ? 4 : 3, env: io.env, out: io.out, signal: interrupt.signal });
        return /\| Outcome \| unstuck-and-verified/.test(report) ? EXIT.ok : EXIT.error;
      } catch (err) {
        if (err instanceof DemoInterrupted) return EXIT.interrupted;
        throw err;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    },
  },
  serve: {
    usage: `Usage: helm-unstuck serve [--no-worker]

Serves POST /webhook/alertmanager (bearer token), GET /metrics and GET /healthz on the configured
listen address. Configuration: HELM_UNSTUCK_CONFIG (YAML/JSON: clusters, policy, alerts, server),
HELM_UNSTUCK_WEBHOOK_TOKEN[_FILE], HELM_UNSTUCK_GITLAB_URL, HELM_UNSTUCK_GITLAB_TOKEN[_FILE],
HELM_UNSTUCK_LISTEN, and Temporal's TEMPORAL_* variables. Runs until SIGINT or SIGTERM.
`,
    options: { 'no-worker': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    run: async (v, io) => {
      const s = await serve({ env: io.env, withWorker: !v['no-worker'], log: (l) => io.err(`helm-unstuck: ${l}\n`) });
      await new Promise<void>((ok) => {
        process.once('SIGINT', ok);
        process.once('SIGTERM', ok);
      });
      await s.close();
      return EXIT.ok;
    },
  },
  start: {
    usage: `Usage: helm-unstuck start --cluster NAME -n NAMESPACE --release NAME [--by YOU] [-o json]

Starts the remediation incident for the release, or joins the one already running. The cluster's
GitLab projects and the policy come from HELM_UNSTUCK_CONFIG.
`,
    options: { cluster: { type: 'string' }, namespace: { type: 'string', short: 'n' }, release: { type: 'string' }, by: { type: 'string' }, output: { type: 'string', short: 'o', default: 'text' }, help: { type: 'boolean', short: 'h' } },
    run: (v, io) => {
      for (const k of ['cluster', 'namespace', 'release']) if (!v[k]) throw new UsageError(`--${k} is required`);
      return startCommand({ cluster: String(v.cluster), namespace: String(v.namespace), release: String(v.release), ...(v.by ? { by: String(v.by) } : {}), output: String(v.output) }, io);
    },
  },
  approve: {
    usage: `Usage: helm-unstuck approve <workflow-id> --reason TEXT [--by YOU]

At the approval gate: approve. On a busy-CI or unhealthy hold: continue anyway. The incident
answers at once; a decision from someone not among the approvers is refused.
`,
    options: { by: { type: 'string' }, reason: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    positionals: true,
    run: (v, io) => decideCommand('approve', { id: one(v, 'workflow id'), ...(v.by ? { by: String(v.by) } : {}), ...(v.reason ? { reason: String(v.reason) } : {}) }, io),
  },
  reject: {
    usage: `Usage: helm-unstuck reject <workflow-id> --reason TEXT [--by YOU]

At the approval gate: reject. On a busy-CI or unhealthy hold: abort.
`,
    options: { by: { type: 'string' }, reason: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    positionals: true,
    run: (v, io) => decideCommand('reject', { id: one(v, 'workflow id'), ...(v.by ? { by: String(v.by) } : {}), ...(v.reason ? { reason: String(v.reason) } : {}) }, io),
  },
  status: {
    usage: `Usage: helm-unstuck status <workflow-id> [--watch] [-o json]
`,
    options: { watch: { type: 'boolean', short: 'w' }, output: { type: 'string', short: 'o', default: 'text' }, help: { type: 'boolean', short: 'h' } },
    positionals: true,
    run: (v, io) => statusCommand({ id: one(v, 'workflow id'), watch: Boolean(v.watch), output: String(v.output) }, io),
  },
  list: {
    usage: `Usage: helm-unstuck list [--all] [-o json]
`,
    options: { all: { type: 'boolean' }, output: { type: 'string', short: 'o', default: 'text' }, help: { type: 'boolean', short: 'h' } },
    run: (v, io) => listCommand({ all: Boolean(v.all), output: String(v.output) }, io),
  },
  restore: {
    usage: `Usage: helm-unstuck restore --cluster NAME -n NAMESPACE --backup NAME [--driver secret|configmap]
                            [--kubeconfig FILE] [--context NAME]

Puts a record that helm-unstuck backed up (helm-unstuck.backup.<release>.v<revision>.<uid>) back
exactly as it was; 'helm history' is then what it was before the unlock.
`,
    options: { cluster: { type: 'string' }, namespace: { type: 'string', short: 'n' }, backup: { type: 'string' }, driver: { type: 'string', default: 'secret' }, kubeconfig: { type: 'string' }, context: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    run: (v, io) => {
      for (const k of ['cluster', 'namespace', 'backup']) if (!v[k]) throw new UsageError(`--${k} is required`);
      return restoreCommand({ cluster: String(v.cluster), namespace: String(v.namespace), backup: String(v.backup), driver: String(v.driver), ...(v.kubeconfig ? { kubeconfig: String(v.kubeconfig) } : {}), ...(v.context ? { context: String(v.context) } : {}) }, io);
    },
  },
  history: {
    usage: `Usage: helm-unstuck history <workflow-id> [-o FILE]

Exports the incident's full Temporal history as JSON (the format 'temporal workflow show
--output json' and the replay tests read). Temporal from TEMPORAL_ADDRESS etc., else 127.0.0.1:7233.
`,
    options: { output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
    positionals: true,
    run: runHistory,
  },
  report: {
    usage: `Usage: helm-unstuck report <workflow-id | history.json> [--format md|html|json] [-o FILE]

Renders the incident from its history alone: what was stuck, each check and its result, the
evidence shown at approval, who approved or rejected and why, what was backed up and deleted,
verification, and the re-run CI job's dry-run verdict. No cluster needed.
`,
    options: { format: { type: 'string', default: 'md' }, output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
    positionals: true,
    run: runReport,
  },
};

type Values = { [option: string]: string | boolean | string[] | undefined; positionals?: string[] };

function one(v: Values, what: string): string {
  const p = v.positionals ?? [];
  if (p.length !== 1) throw new UsageError(`expected exactly one ${what}`);
  return p[0]!;
}

function write(v: Values, io: Io, text: string): void {
  if (v.output && v.output !== '-') writeFileSync(String(v.output), text);
  else io.out(text);
}

async function fetchHistoryJson(workflowId: string, io: Io): Promise<string> {
  const { client, close } = await connectClient(io.env);
  try {
    return historyToJSON(await client.workflow.getHandle(workflowId).fetchHistory());
  } catch (err) {
    if (/not found/i.test((err as Error).message)) throw new Error(`no incident ${workflowId}`);
    throw err;
  } finally {
    await close();
  }
}

async function runHistory(v: Values, io: Io): Promise<number> {
  const id = one(v, 'workflow id (helm-unstuck/<cluster>/<namespace>/<release>)');
  const json = await fetchHistoryJson(id, io);
  write(v, io, JSON.stringify(JSON.parse(json), null, 2) + '\n');
  return EXIT.ok;
}

async function runReport(v: Values, io: Io): Promise<number> {
  const source = one(v, 'workflow id or history.json file');
  const format = String(v.format);
  if (format !== 'md' && format !== 'html' && format !== 'json') throw new UsageError(`--format must be md, html or json, not "${format}"`);
  let raw: string;
  if (existsSync(source)) raw = readFileSync(source, 'utf8');
  else if (source.startsWith('helm-unstuck/')) raw = await fetchHistoryJson(source, io);
  else throw new UsageError(`"${source}" is neither a file nor a workflow id (helm-unstuck/<cluster>/<namespace>/<release>)`);
  let report;
  try {
    report = buildIncidentReport(historyFromJSON(JSON.parse(raw)));
  } catch (err) {
    throw new Error(`${source} is not a workflow history: ${(err as Error).message}`);
  }
  write(v, io, format === 'md' ? renderMarkdown(report) : format === 'html' ? renderHtml(report) : JSON.stringify(report, null, 2) + '\n');
  return EXIT.ok;
}

async function runScan(v: Values, io: Io): Promise<number> {
  const output = String(v.output);
  if (output !== 'table' && output !== 'json') throw new UsageError(`-o must be table or json, not "${output}"`);
  const driver = String(v.driver);
  const drivers: StorageDriver[] | undefined =
    driver === 'all' ? undefined : driver === 'secret' || driver === 'configmap' ? [driver] : undefined;
  if (driver !== 'all' && !drivers) throw new UsageError(`--driver must be secret, configmap or all, not "${driver}"`);
  const kube = Kube.fromKubeconfig({
    ...(v.kubeconfig ? { file: String(v.kubeconfig) } : {}),
    ...(v.context ? { context: String(v.context) } : {}),
  });
  const cluster = String(v.context ?? kube.kc.getCurrentContext());
  const result = await scan(
    kube,
    { cluster, ...(v.namespace !== undefined ? { namespace: String(v.namespace) } : {}), ...(drivers ? { drivers } : {}) },
    Date.now(),
  );
  io.out(output === 'json' ? JSON.stringify(result, null, 2) + '\n' : scanTable(result));
  return v['fail-if-stuck'] && result.stuck.length > 0 ? EXIT.stuckFound : EXIT.ok;
}

async function runWorker(v: Values, io: Io): Promise<number> {
  const w = await startWorker({
    env: io.env,
    clusters: v.kubeconfig ? { kubeconfig: String(v.kubeconfig) } : {},
    log: (l) => io.err(`helm-unstuck: ${l}\n`),
  });
  await w.done;
  return EXIT.ok;
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    io.out(USAGE);
    return command ? EXIT.ok : EXIT.usage;
  }
  const cmd = COMMANDS[command];
  if (!cmd) {
    io.err(`helm-unstuck: unknown command "${command}"\n\n${USAGE}`);
    return EXIT.usage;
  }
  try {
    let values: Values;
    try {
      const parsed = parseArgs({ args: rest, options: cmd.options, strict: true, allowPositionals: cmd.positionals ?? false });
      values = { ...parsed.values, positionals: parsed.positionals };
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (values.help) {
      io.out(cmd.usage);
      return EXIT.ok;
    }
    return await cmd.run(values, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`helm-unstuck ${command}: ${err.message}\n\n${cmd.usage}`);
      return EXIT.usage;
    }
    if (err instanceof CommandError || err instanceof ConfigError || err instanceof InvalidRemediationInput) {
      io.err(`helm-unstuck ${command}: ${err.message}\n`);
      return EXIT.error;
    }
    io.err(`helm-unstuck ${command}: ${(err as Error).message}\n`);
    return EXIT.error;
  }
}

if (require.main === module) {
  main(process.argv.slice(2), {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    env: process.env,
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`helm-unstuck: ${String(err)}\n`);
      process.exitCode = EXIT.error;
    },
  );
}
