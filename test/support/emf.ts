/** The Embedded Metric Format lines the handlers write, read back in tests. */
import { vi } from 'vitest';
import { BACKEND_DIMENSION } from '../../shared/metric-names.ts';

export type Emf = { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] } } & Record<string, unknown>;

/** The EMF lines written to stdout while `act` runs. */
export async function emfLines(act: () => Promise<unknown>): Promise<Emf[]> {
  const lines: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    await act();
  } finally {
    write.mockRestore();
  }
  return lines.flatMap((l) => l.split('\n')).filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l) as Emf);
}

/** The value of a metric in the line whose dimensions are exactly the given ones (beside service and Backend). */
export function valueOf(lines: Emf[], name: string, extra: Record<string, string> = {}): unknown {
  const line = lines.find(
    (l) =>
      l._aws.CloudWatchMetrics[0]!.Metrics.some((m) => m.Name === name) &&
      JSON.stringify(l._aws.CloudWatchMetrics[0]!.Dimensions[0]!.filter((d) => d !== 'service' && d !== BACKEND_DIMENSION).sort()) ===
        JSON.stringify(Object.keys(extra).sort()) &&
      Object.entries(extra).every(([k, v]) => l[k] === v),
  );
  return line?.[name];
}
