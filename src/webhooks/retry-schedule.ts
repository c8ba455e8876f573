/**
 * The wait before the retry that follows attempt `attempt` (1-based), or undefined when the schedule
 * is spent and the delivery is given up. Each wait is drawn between 80 % and 120 % of its value, so
 * that deliveries that failed together (an endpoint down) do not all come back at the same instant.
 */
export function retryDelayMs(schedule: readonly number[], attempt: number, random: () => number = Math.random): number | undefined {
  const base = schedule[attempt - 1];
  if (base === undefined) return undefined;
  return Math.round(base * (0.8 + 0.4 * random()));
}
