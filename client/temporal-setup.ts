// Registering the incidents' search attributes on a Temporal server, idempotently: those already
// there are left alone, the missing ones are added. `helm-unstuck temporal setup` runs it, and so
// does the worker at its start (an incident that sets an unregistered attribute could not run).
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_KEYS } from '../decisions/incident-search';

const { IndexedValueType } = temporal.api.enums.v1;
type Operator = Pick<temporal.api.operatorservice.v1.OperatorService, 'listSearchAttributes' | 'addSearchAttributes'>;

const INDEXED: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
};

export interface SetupResult {
  added: string[];
  present: string[];
}

/** What a server's gRPC status says, for an already-registered race (another worker added them first). */
const alreadyExists = (err: unknown): boolean => (err as { code?: number }).code === 6;

/** Add the attributes `namespace` lacks; one registered with another type is an error, said in words. */
export async function registerSearchAttributes(operator: Operator, namespace: string): Promise<SetupResult> {
  const listed = await operator.listSearchAttributes({ namespace });
  const have = { ...listed.systemAttributes, ...listed.customAttributes } as Record<string, temporal.api.enums.v1.IndexedValueType>;
  const wrong = SEARCH_ATTRIBUTE_KEYS.filter((k) => k.name in have && have[k.name] !== INDEXED[k.type]);
  if (wrong.length > 0) {
    throw new Error(`search attribute ${wrong.map((k) => `${k.name} is registered as ${IndexedValueType[have[k.name]!]}, not ${k.type}`).join('; ')} in namespace ${namespace}`);
  }
  const missing = SEARCH_ATTRIBUTE_KEYS.filter((k) => !(k.name in have));
  if (missing.length > 0) {
    try {
      await operator.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map((k) => [k.name, INDEXED[k.type]!])) });
    } catch (err) {
      if (!alreadyExists(err)) throw err;
    }
  }
  return { added: missing.map((k) => k.name), present: SEARCH_ATTRIBUTE_KEYS.filter((k) => k.name in have).map((k) => k.name) };
}

/** `temporal server start-dev` flags that register them at the server's start. */
export const devServerSearchAttributeArgs = (): string[] => SEARCH_ATTRIBUTE_KEYS.flatMap((k) => ['--search-attribute', `${k.name}=${k.type === 'BOOL' ? 'Bool' : 'Keyword'}`]);
