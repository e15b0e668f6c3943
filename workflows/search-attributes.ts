// The incident's search attributes, set as it goes: which release on which cluster, its step,
// whether a human is awaited, and how it ended, so `helm-unstuck list`, the approval page and the
// Temporal UI find incidents by them. Each set is a workflow command: incidents started before
// them (patch `search-attributes`) replay without setting any.
import { patched, upsertSearchAttributes } from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { SEARCH_ATTRIBUTES as K } from '../decisions/incident-search';
import type { Outcome, Step } from '../decisions/vocabulary';

export const SEARCH_ATTRIBUTES_PATCH = 'search-attributes';

/** Whether this incident sets its search attributes: decided once, at its start. */
export interface Indexed {
  indexed: boolean;
}

function set(s: Indexed, pairs: SearchAttributeUpdatePair[]): void {
  if (s.indexed) upsertSearchAttributes(pairs);
}

/** At the start: what the incident is about, its first step, nobody awaited yet. */
export function startIndexing(s: Indexed, input: { cluster: string; namespace: string; release: string }, step: Step): void {
  s.indexed = patched(SEARCH_ATTRIBUTES_PATCH);
  set(s, [
    { key: K.cluster, value: input.cluster },
    { key: K.namespace, value: input.namespace },
    { key: K.release, value: input.release },
    { key: K.step, value: step },
    { key: K.awaitingHuman, value: false },
  ]);
}

export const indexStep = (s: Indexed, step: Step): void => set(s, [{ key: K.step, value: step }]);

export const indexWaiting = (s: Indexed, waiting: boolean): void => set(s, [{ key: K.awaitingHuman, value: waiting }]);

export const indexOutcome = (s: Indexed, outcome: Outcome): void =>
  set(s, [
    { key: K.outcome, value: outcome },
    { key: K.awaitingHuman, value: false },
  ]);
