/**
 * The goals `npm run bench` checks, in one table, and the results file it writes:
 * `bench/results/<timestamp>.json` as `{"goals": [{name, value, goal, pass}], ...figures}`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';

export interface Goal {
  name: string;
  value: number;
  /** The bound, as text: `≤ 4`. */
  goal: string;
  pass: boolean;
}

export const atMost = (name: string, value: number, bound: number): Goal => ({ name, value: Number(value.toFixed(3)), goal: `≤ ${bound}`, pass: value <= bound });

export function printGoals(goals: Goal[]): void {
  console.log('\n== Goals ==');
  console.table(Object.fromEntries(goals.map((g) => [g.name, { value: g.value, goal: g.goal, pass: g.pass ? 'yes' : 'NO' }])));
  const failed = goals.filter((g) => !g.pass).length;
  console.log(failed ? `${failed} of ${goals.length} goals not met.` : `All ${goals.length} goals met.`);
}

/** Writes the results file; answers its path. */
export function writeResults(goals: Goal[], figures: Record<string, unknown>): string {
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL(`${new Date().toISOString().replace(/[:.]/g, '-')}.json`, dir);
  writeFileSync(file, `${JSON.stringify({ goals, ...figures }, null, 2)}\n`);
  return file.pathname;
}
