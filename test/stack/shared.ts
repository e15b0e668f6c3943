// What a stack test file can use: the shared control plane and the stack's binaries.
import { readFileSync } from 'node:fs';
import type { Binaries } from './process';

export const STACK_ENV = 'HELM_UNSTUCK_TEST_STACK';

export interface SharedStack {
  kubeconfig: string;
  server: string;
  caFile: string;
  adminToken: string;
  kubeVersion: string;
  /** This run's temp folder. */
  dir: string;
  binaries: Binaries;
}

export function sharedStack(): SharedStack {
  const file = process.env[STACK_ENV];
  if (!file) throw new Error(`${STACK_ENV} is not set: stack tests run under jest's "stack" project`);
  return JSON.parse(readFileSync(file, 'utf8')) as SharedStack;
}
