// `helm-unstuck history` and `report`: an incident's Temporal history, exported or rendered.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { WorkflowNotFoundError } from '@temporalio/client';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { buildIncidentReport } from '../report/incident';
import { renderHtml, renderMarkdown } from '../report/render';
import { forTerminal } from '../lib/terminal';
import { connectClient } from '../client/connect';
import { CommandError, UsageError, type CommandIo } from './errors';

/** To the file given with -o, or to standard output for none or `-`. */
function write(output: string | undefined, io: CommandIo, text: string): void {
  if (output && output !== '-') writeFileSync(output, text);
  else io.out(text);
}

async function fetchHistoryJson(workflowId: string, io: CommandIo): Promise<string> {
  const { client, close } = await connectClient(io.env);
  try {
    const handle = client.workflow.getHandle(workflowId);
    // fetchHistory reports an unknown workflow as a bare gRPC error; describe has the typed one.
    await handle.describe();
    return historyToJSON(await handle.fetchHistory());
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new CommandError(`no incident ${workflowId}`);
    throw err;
  } finally {
    await close();
  }
}

export async function historyCommand(o: { id: string; output?: string }, io: CommandIo): Promise<number> {
  const json = await fetchHistoryJson(o.id, io);
  write(o.output, io, JSON.stringify(JSON.parse(json), null, 2) + '\n');
  return 0;
}

export async function reportCommand(o: { source: string; format: 'md' | 'html' | 'json'; output?: string }, io: CommandIo): Promise<number> {
  let raw: string;
  if (existsSync(o.source)) raw = readFileSync(o.source, 'utf8');
  else if (o.source.startsWith('helm-unstuck/')) raw = await fetchHistoryJson(o.source, io);
  else throw new UsageError(`"${o.source}" is neither a file nor a workflow id (helm-unstuck/<cluster>/<namespace>/<release>)`);
  let report;
  try {
    report = buildIncidentReport(historyFromJSON(JSON.parse(raw)));
  } catch (err) {
    throw new CommandError(`${o.source} is not a workflow history: ${(err as Error).message}`);
  }
  // Markdown escapes what it quotes; the HTML page is for a browser, but may be printed too.
  write(o.output, io, o.format === 'md' ? renderMarkdown(report) : o.format === 'html' ? forTerminal(renderHtml(report)) : JSON.stringify(report, null, 2) + '\n');
  return 0;
}
