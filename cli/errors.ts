// What a CLI command can fail with, apart from the unexpected. Its own small module: the CLI's
// entry point tells them apart without loading the commands (and Temporal) on every start.

/** What the CLI talks to: the tests pass their own. */
export interface CommandIo {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
  /** Ask a yes/no question and wait for the answer; only when a person is at a terminal. */
  confirm?: (question: string) => Promise<boolean>;
}

/** The command could not do what was asked; the message says why (exit status 1). */
export class CommandError extends Error {}

/** The command was asked wrongly; the message says how, and its help follows (exit status 2). */
export class UsageError extends Error {}
