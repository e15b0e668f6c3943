// The helm-unstuck command line. `main` takes argv and an io object so tests run it in-process.
// Each command imports what it runs when it runs: `--help` and `--version` load commander only,
// never Temporal, the Kubernetes client or the worker.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { PACKAGE_ROOT } from '../lib/repo';
import { forTerminal } from '../lib/terminal';
import { loadDemo } from './demo-load';
import { UsageError, type CommandIo } from './errors';
import type { ListOptions } from './list-command';
import type { RestoreOptions } from './restore-command';

export type Io = CommandIo;

export const EXIT = { ok: 0, error: 1, usage: 2, stuckFound: 3, interrupted: 130 } as const;


const version = (): string => (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const outputOption = (formats: string[], fallback: string) => new Option('-o, --output <format>', 'output format').choices(formats).default(fallback);
const byOption = () => new Option('--by <name>', 'who you are (default: $HELM_UNSTUCK_USER, then $USER)');

/** Commander's own output (help, version, usage errors), gathered to be written at once. */
interface Said {
  out: string;
  err: string;
}

/** The whole command line; `exit` receives the exit status of the command that ran. */
function program(io: Io, said: Said, exit: (code: number) => void): Command {
  const cli = new Command('helm-unstuck')
    .description('Find and safely unlock Helm releases stuck in a pending state.')
    .version(version(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', "show a command's help")
    .addHelpText('after', "\nRun 'helm-unstuck <command> --help' for a command's options.");

  cli
    .command('demo')
    .description('The whole incident on this machine: a stuck release, a real alert, the workflow, you.')
    .option('-y, --yes', 'approve in advance instead of at the prompt')
    .addOption(new Option('--helm <major>', 'the Helm major version that makes the stuck release').choices(['3', '4']).default('3'))
    .addHelpText('after', `
Starts a local Kubernetes API server, makes a genuinely stuck Helm release, raises the alert
through a real Alertmanager, and runs the incident: you approve at the prompt (or in advance with
--yes). Prints the workflow's progress and the incident report. Everything it starts stops when
it ends. Temporal: TEMPORAL_ADDRESS, or a local dev server started on demand.
Exit status: 0 when the release was unstuck and verified; 1 otherwise; 130 when interrupted.`)
    .action(async (o: { yes?: boolean; helm: '3' | '4' }) => exit(await demo(o, io)));

  cli
    .command('serve')
    .description('Receive Alertmanager webhooks and serve /metrics (with the worker, unless --no-worker).')
    .option('--no-worker', 'no worker, detector or admission probe in this process, and no cluster client at all (run `helm-unstuck worker --listen` for them)')
    .option('--no-detector', 'do not watch the clusters for stuck releases (run `helm-unstuck exporter` instead)')
    .addHelpText('after', `
Serves POST /webhook/alertmanager (bearer token), GET /metrics and GET /healthz on the configured
listen address. Configuration: HELM_UNSTUCK_CONFIG (YAML/JSON: clusters, policy, alerts, server),
HELM_UNSTUCK_WEBHOOK_TOKEN[_FILE], HELM_UNSTUCK_GITLAB_URL, HELM_UNSTUCK_GITLAB_TOKEN[_FILE],
HELM_UNSTUCK_LISTEN, and Temporal's TEMPORAL_* variables. Runs until SIGINT or SIGTERM.
It also watches each configured cluster for stuck releases and exports them in /metrics for
deploy/prometheus/helm-unstuck.rules.yml.`)
    .action(async (o: { worker: boolean; detector: boolean }) => {
      const { serve } = await import('../server/serve.js');
      const s = await serve({ env: io.env, withWorker: o.worker, withDetector: o.detector, log: (l) => io.err(`helm-unstuck: ${l}\n`) });
      exit(await runUntilSignalled(s));
    });

  cli
    .command('exporter')
    .description('Only the detector: stuck Helm releases as Prometheus metrics, for the shipped rules.')
    .option('--listen <host:port>', 'listen address (default: the configuration\'s server.listen)')
    .addHelpText('after', `
Watches each configured cluster's pending Helm records (metadata only) and serves GET /metrics
(helm_unstuck_release_pending_since_seconds, one series per stuck release) and GET /healthz.
\`serve\` runs the same detector itself. Configuration: HELM_UNSTUCK_CONFIG (clusters, kubeconfig).`)
    .action(async (o: { listen?: string }) => {
      const { startExporter } = await import('../detector/exporter.js');
      const e = await startExporter({ env: io.env, ...(o.listen ? { listen: o.listen } : {}), log: (l) => io.err(`helm-unstuck: ${l}\n`) });
      exit(await runUntilSignalled(e));
    });

  cli
    .command('start')
    .description('Start (or join) the incident for a release.')
    .requiredOption('--cluster <name>', 'the cluster, as named in HELM_UNSTUCK_CONFIG')
    .requiredOption('-n, --namespace <namespace>', "the release's namespace")
    .requiredOption('--release <name>', 'the Helm release')
    .addOption(byOption())
    .addOption(outputOption(['text', 'json'], 'text'))
    .addHelpText('after', `
Starts the remediation incident for the release, or joins the one already running. The cluster's
GitLab projects and the policy come from HELM_UNSTUCK_CONFIG.`)
    .action(async (o: { cluster: string; namespace: string; release: string; by?: string; output: string }) => {
      const { startCommand } = await import('./incident-commands.js');
      exit(await startCommand(o, io));
    });

  for (const [kind, description, more] of [
    ['approve', 'Approve at the gate (or continue past a busy-CI/unhealthy hold), saying why.', `
At the approval gate: approve the plan. On a busy-CI or unhealthy hold: continue anyway. approve
reads the incident first and says which hold and which plan (digest, and in words) it would answer;
at a terminal it then asks you to confirm. --plan <digest> names the plan you reviewed (as status
showed it): one that is not the plan shown now is refused before anything is sent. Not at a
terminal (a script), --plan or --yes is required. The incident answers at once; a decision from
someone not among the approvers is refused, and so is one whose identity nobody verified unless
the operator's policy allows it.`],
    ['reject', 'Reject at the gate (or abort on a hold), saying why.', `
At the approval gate: reject. On a busy-CI or unhealthy hold: abort.`],
  ] as const) {
    const command = cli
      .command(kind)
      .description(description)
      .argument('<workflow-id>', 'the incident (helm-unstuck/<cluster>/<namespace>/<release>)')
      .option('--reason <text>', 'why: recorded with your decision (required)')
      .option('--plan <digest>', 'the plan digest you reviewed: refused if the incident shows another (default: the one it shows now, printed)')
      .addOption(byOption())
      .addHelpText('after', `${more}

With HELM_UNSTUCK_SERVER_URL and HELM_UNSTUCK_USER_TOKEN[_FILE] set, the decision goes through
helm-unstuck serve, which knows you by your token and signs it (--by is ignored). Without them it
goes straight to Temporal as an unverified --by, which the operator's policy refuses unless it
allows unverified decisions.`);
    if (kind === 'approve') command.option('-y, --yes', 'approve what the incident shows now without being asked (it is printed first)');
    command.action(async (id: string, o: { by?: string; reason?: string; plan?: string; yes?: boolean }) => {
      const { decideCommand } = await import('./incident-commands.js');
      exit(await decideCommand(kind, { id, ...o }, io));
    });
  }

  cli
    .command('keygen')
    .description("Make serve's decision key: a new Ed25519 seed, and its public key for decisionKeys.")
    .option('-o, --output <file>', 'write the seed to this new file (mode 600) instead of standard output')
    .addHelpText('after', `
serve signs every decision it verified with this key (HELM_UNSTUCK_DECISION_KEY or
HELM_UNSTUCK_DECISION_KEY_FILE); the workflow trusts the public keys in the configuration's
decisionKeys. With -o, the public key is printed on standard output; without, the seed is, and the
public key goes to standard error.`)
    .action(async (o: { output?: string }) => {
      const { keygenCommand } = await import('./keygen.js');
      exit(keygenCommand(o, io));
    });

  cli
    .command('status')
    .description('An incident\'s step, evidence and what it waits for (--watch to follow it).')
    .argument('<workflow-id>', 'the incident (helm-unstuck/<cluster>/<namespace>/<release>)')
    .option('-w, --watch', 'follow it until it ends')
    .addOption(outputOption(['text', 'json'], 'text'))
    .action(async (id: string, o: { watch?: boolean; output: string }) => {
      const { statusCommand } = await import('./incident-commands.js');
      exit(await statusCommand({ id, watch: Boolean(o.watch), output: o.output }, io));
    });

  cli
    .command('list')
    .description('Incidents, found by cluster, namespace, release, outcome or a human awaited (running ones unless --all or --outcome).')
    .option('--all', 'ended incidents too')
    .option('--cluster <name>', 'only this cluster')
    .option('-n, --namespace <namespace>', 'only this namespace')
    .option('--release <name>', 'only this release')
    .option('--outcome <outcome>', 'only incidents that ended so (e.g. needs-review, needs-investigation)')
    .option('--waiting', 'only incidents waiting for a human')
    .addOption(outputOption(['text', 'json'], 'text'))
    .addHelpText('after', `
One row per incident: cluster, namespace, release, step, whether a human is awaited, outcome, start.
The filters are Temporal visibility queries on the incidents' search attributes (registered by
'helm-unstuck temporal setup'); the same query works in the Temporal UI.`)
    .action(async (o: ListOptions) => {
      const { listCommand } = await import('./list-command.js');
      exit(await listCommand(o, io));
    });

  cli
    .command('temporal')
    .description("Set up the Temporal namespace: 'temporal setup' registers the incidents' search attributes.")
    .argument('<action>', 'setup')
    .action(async (action: string) => {
      if (action !== 'setup') throw new UsageError(`unknown action "${action}" (setup)`);
      const { temporalSetupCommand } = await import('./list-command.js');
      exit(await temporalSetupCommand(io));
    });

  cli
    .command('restore')
    .description('Put a backed-up Helm record back exactly as it was, if it is what the incident backed up.')
    .requiredOption('--cluster <name>', 'the cluster (its kubeconfig context, unless --context)')
    .requiredOption('-n, --namespace <namespace>', "the release's namespace")
    .requiredOption('--backup <name>', 'the backup (helm-unstuck.backup.<release>.v<revision>.<uid>)')
    .addOption(new Option('--driver <driver>', "Helm's storage driver").choices(['secret', 'configmap']).default('secret'))
    .option('--kubeconfig <file>', 'the kubeconfig (default: $KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'the kubeconfig context')
    .option('--without-history', "check the backup against its own digest only, not the incident's history (which is gone)")
    .option('--allow-undigested', 'restore a backup made before backups carried a digest, as it is')
    .addHelpText('after', `
Puts a record that helm-unstuck backed up (helm-unstuck.backup.<release>.v<revision>.<uid>) back
exactly as it was; 'helm history' is then what it was before the unlock. The backup must hash to
the digest its incident recorded in Temporal (TEMPORAL_* as for the other commands) and to its own
digest annotation; anything else is refused and nothing is written.`)
    .action(async (o: RestoreOptions) => {
      const { restoreCommand } = await import('./restore-command.js');
      exit(await restoreCommand(o, io));
    });

  cli
    .command('worker')
    .summary('Run the Temporal worker (and a local Temporal dev server, unless TEMPORAL_* say where).')
    .description('Run the Temporal worker. Uses TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / TEMPORAL_API_KEY / TEMPORAL_TLS_* / TEMPORAL_CONFIG_FILE when set; otherwise starts (or joins) a local Temporal dev server on 127.0.0.1:7233 with its UI on :8233.')
    .option('--kubeconfig <file>', 'the kubeconfig (default: $KUBECONFIG, then ~/.kube/config)')
    .addHelpText('after', `
Runs until SIGINT or SIGTERM. Clusters, their kubeconfig contexts and the policy come from
HELM_UNSTUCK_CONFIG; an incident for a cluster not configured there is refused.
Environment: the Temporal SDK's (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
TEMPORAL_TLS_*, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE); HELM_UNSTUCK_TASK_QUEUE (default
helm-unstuck); KUBECONFIG; HELM_UNSTUCK_GITLAB_URL, HELM_UNSTUCK_GITLAB_TOKEN[_FILE].`)
    .option('--listen <host:port>', 'also run the detector and the admission probe, and serve their /metrics and /healthz here (the chart\'s worker Deployment)')
    .action(async (o: { kubeconfig?: string; listen?: string }) => {
      if (o.listen) return exit(await workerService({ ...o, listen: o.listen }, io));
      const { startWorker } = await import('../worker/worker.js');
      const w = await startWorker({ env: io.env, ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}), log: (l) => io.err(`helm-unstuck: ${l}\n`) });
      await w.done;
      exit(EXIT.ok);
    });

  cli
    .command('scan')
    .description("List stuck Helm releases in a cluster, or in every cluster (reads only pending records' metadata).")
    .option('-n, --namespace <namespace>', 'one namespace (default: all)')
    .addOption(new Option('--context <name>', 'the kubeconfig context (default: the current one)').conflicts(['allContexts', 'allClusters']))
    .addOption(new Option('--all-contexts', 'every context of the kubeconfig: one table, a CLUSTER column').conflicts('allClusters'))
    .option('--all-clusters', 'every cluster configured in HELM_UNSTUCK_CONFIG (its kubeconfig and contexts)')
    .option('--cluster-timeout <duration>', 'with --all-*: how long one cluster may take before its row says so', '30s')
    .option('--kubeconfig <file>', 'the kubeconfig (default: $KUBECONFIG, then ~/.kube/config)')
    .addOption(new Option('--driver <driver>', "Helm's storage driver").choices(['secret', 'configmap', 'all']).default('all'))
    .addOption(outputOption(['table', 'json'], 'table'))
    .option('--fail-if-stuck', 'exit with status 3 when a stuck release is found')
    .addHelpText('after', `
Lists Helm releases whose newest revision is pending (pending-install, pending-upgrade,
pending-rollback): Helm refuses every operation on them. All namespaces unless -n is given.
With --all-contexts or --all-clusters, every cluster is scanned at once: a cluster that cannot be
scanned gets a row saying why, and the rest of the table is still printed.
Exit status: 0, or 3 with --fail-if-stuck when a stuck release was found; 1 on errors, including
a cluster of the fleet that could not be scanned (when nothing stuck was found); 2 on bad usage.`)
    .action(async (o: { namespace?: string; context?: string; allContexts?: boolean; allClusters?: boolean; clusterTimeout: string; kubeconfig?: string; driver: 'secret' | 'configmap' | 'all'; output: 'table' | 'json'; failIfStuck?: boolean }) => {
      const { parseDuration } = await import('../decisions/duration.js');
      const clusterTimeoutMs = parseDuration(o.clusterTimeout);
      if (!clusterTimeoutMs) throw new UsageError(`--cluster-timeout "${o.clusterTimeout}" is not a duration (e.g. 10s, 1m)`);
      const { scanCommand } = await import('./scan-command.js');
      const { stuckFound, failedClusters } = await scanCommand({ ...o, clusterTimeoutMs }, io);
      exit(o.failIfStuck && stuckFound ? EXIT.stuckFound : failedClusters > 0 ? EXIT.error : EXIT.ok);
    });

  cli
    .command('history')
    .description("Export an incident's full history as JSON (the format Temporal's own tools read).")
    .argument('<workflow-id>', 'the incident (helm-unstuck/<cluster>/<namespace>/<release>)')
    .option('-o, --output <file>', 'write it to a file (default: standard output)')
    .addHelpText('after', `
Exports the incident's full Temporal history as JSON (the format 'temporal workflow show
--output json' and the replay tests read). Temporal from TEMPORAL_ADDRESS etc., else 127.0.0.1:7233.`)
    .action(async (id: string, o: { output?: string }) => {
      const { historyCommand } = await import('./history-commands.js');
      exit(await historyCommand({ id, ...o }, io));
    });

  cli
    .command('report')
    .description('Render an incident (from Temporal or an exported history) as Markdown or HTML.')
    .argument('<source>', 'a workflow id (helm-unstuck/<cluster>/<namespace>/<release>) or a history.json file')
    .addOption(new Option('--format <format>', 'md, html or json').choices(['md', 'html', 'json']).default('md'))
    .option('-o, --output <file>', 'write it to a file (default: standard output)')
    .addHelpText('after', `
Renders the incident from its history alone: what was stuck, each check and its result, the
evidence shown at approval, who approved or rejected and why, what was backed up and deleted,
verification, and the re-run CI job's dry-run verdict. No cluster needed.`)
    .action(async (source: string, o: { format: 'md' | 'html' | 'json'; output?: string }) => {
      const { reportCommand } = await import('./history-commands.js');
      exit(await reportCommand({ source, ...o }, io));
    });

  // Every command: output gathered in `said`, errors as `helm-unstuck <command>: …` followed by its
  // help, and no process.exit (main returns the exit status instead).
  for (const cmd of [cli, ...cli.commands]) {
    const who = cmd === cli ? 'helm-unstuck' : `helm-unstuck ${cmd.name()}`;
    cmd
      .exitOverride()
      .showHelpAfterError()
      .configureOutput({
        writeOut: (s) => (said.out += s),
        writeErr: (s) => (said.err += s),
        outputError: (msg, write) => write(`${who}: ${msg.replace(/^error: /, '')}`),
      });
  }
  return cli;
}

/** `worker --listen`: the worker, the detector and the admission probe, with their /metrics. */
async function workerService(o: { kubeconfig?: string; listen: string }, io: Io): Promise<number> {
  const { startWorkerService } = await import('../worker/service.js');
  const w = await startWorkerService({ env: io.env, ...o, log: (l) => io.err(`helm-unstuck: ${l}\n`) });
  // The worker stops by itself on SIGINT/SIGTERM (the SDK's shutdown signals): then close the rest.
  await w.worker.done;
  await w.close();
  return EXIT.ok;
}

/** A long-running service (serve, exporter) runs until SIGINT or SIGTERM, then closes cleanly. */
async function runUntilSignalled(service: { close(): Promise<void> }): Promise<number> {
  await new Promise<void>((ok) => {
    process.once('SIGINT', ok);
    process.once('SIGTERM', ok);
  });
  await service.close();
  return EXIT.ok;
}

/** The demo, with Ctrl-C (or SIGTERM) cancelling its incident; a second one quits at once. */
async function demo(o: { yes?: boolean; helm: '3' | '4' }, io: Io): Promise<number> {
  const { DemoInterrupted, runDemo } = loadDemo();
  const interrupt = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupt.signal.aborted) process.exit(EXIT.interrupted);
    io.err(`\n${sig}: stopping the demo (again to quit at once)…\n`);
    interrupt.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const { outcome } = await runDemo({ yes: Boolean(o.yes), helmMajor: o.helm === '4' ? 4 : 3, env: io.env, out: io.out, signal: interrupt.signal });
    return outcome === 'unstuck-and-verified' ? EXIT.ok : EXIT.error;
  } catch (err) {
    if (err instanceof DemoInterrupted) return EXIT.interrupted;
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** A yes/no question on the terminal (standard error, so standard output stays the command's). */
async function askAtTerminal(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export async function main(argv: string[], io: Io): Promise<number> {
  let code: number = EXIT.ok;
  const said: Said = { out: '', err: '' };
  const cli = program(io, said, (c) => (code = c));
  try {
    await cli.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has said the help, the version or what was wrong already. Help asked for
      // (--help, `help [command]`) and --version exit 0; help shown for no command at all, 2.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const command = cli.commands.find((c) => c.name() === argv[0]) ?? cli;
    // Messages quote what came from outside (a refusal naming a job, a cluster's answer).
    said.err += `${command === cli ? 'helm-unstuck' : `helm-unstuck ${command.name()}`}: ${forTerminal((err as Error).message)}\n`;
    if (err instanceof UsageError) {
      said.err += '\n';
      command.outputHelp({ error: true });
      return EXIT.usage;
    }
    return EXIT.error;
  } finally {
    // One write each: `helm-unstuck --help | head -1` must not find the pipe closed mid-help (EPIPE).
    if (said.out) io.out(said.out);
    if (said.err) io.err(said.err);
  }
}

if (require.main === module) {
  main(process.argv.slice(2), {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    env: process.env,
    ...(process.stdin.isTTY && process.stderr.isTTY ? { confirm: askAtTerminal } : {}),
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
