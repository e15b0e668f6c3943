/** What the workflow is waiting for a human to decide, if anything. */
export const HOLDS = ['approval', 'ci-busy', 'unhealthy', 'repeated'] as const;
export type Hold = (typeof HOLDS)[number];
