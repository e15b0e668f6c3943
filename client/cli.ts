// The helm-unstuck command line. `main` takes argv and an io object so tests run it in-process.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { scan } from '../activities/release';
import { Kube } from '../activities/kubernetes';
import type { StorageDriver } from '../decisions/helm';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { buildIncidentReport } from '../report/incident';
import { renderHtml, renderMarkdown } from '../report/render';
import { startWorker } from '../worker/worker';
import { connectClient } from './connect';
import { scanTable } from './scan-format';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
}

export const EXIT = { ok: 0, error: 1, usage: 2, stuckFound: 3 } as const;

class UsageError extends Error {}

const USAGE = `helm-unstuck: find and safely unlock Helm releases stuck in a pending state.

Usage: helm-unstuck <command> [options]

Commands:
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
