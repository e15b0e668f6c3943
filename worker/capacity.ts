// How much one worker holds and does at once: fixed numbers, so that its memory has a ceiling that
// does not depend on how many incidents are open. An incident the worker is not running right now
// lives in Temporal (its history on the server, its next task in the task queue), not here: work
// beyond these slots waits its turn on the server, and none is lost. To handle more at once, run
// more workers (replicas), each with this same ceiling (docs/operating.md, "Sizing").
//
// Measured with bench/scale.ts (worker_peak_rss_mb_100 and _1000, the chart's NODE_OPTIONS). The
// SDK's defaults sized all of this from V8's heap limit, which Node derives from the machine's
// memory: on a 24 GB machine a cache of 2,300 workflows, 100 activities and 40 workflow tasks at
// once, so the worker grew with every open incident (656 MB at 100).
import type { WorkerOptions } from '@temporalio/worker';

export const WORKER_CAPACITY = {
  // Workflows kept in memory between their tasks (the sticky cache). One that is not cached is
  // replayed from its history at its next task: CPU, not memory. The least-recently used goes first.
  // Each costs about 1.2 MB of the workflow thread's heap (the SDK evaluates the bundle's modules,
  // our zod schemas among them, once per workflow): 100 is about 130 MB, inside the chart's
  // --max-old-space-size. Fewer was measured worse: 30 made 100 incidents replay at nearly every
  // task, 7x slower, and the churn peaked higher (860 MB).
  maxCachedWorkflows: 100,
  // Workflow tasks run at once (each holds its history while it runs); at most the cache.
  maxConcurrentWorkflowTaskExecutions: 10,
  // Activities run at once: each reads a release record (decompressed, it can be megabytes) and
  // holds its client requests; more wait in the task queue (their schedule-to-start counts
  // against the 15-minute budget, so a worker must keep up: see docs/operating.md, "Sizing").
  maxConcurrentActivityTaskExecutions: 16,
  // No workflow uses local activities; the SDK's minimum.
  maxConcurrentLocalActivityExecutions: 1,
} as const satisfies Partial<WorkerOptions>;
