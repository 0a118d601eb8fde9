/**
 * The backend's own metrics, written as CloudWatch Embedded Metric Format log lines with Powertools
 * Metrics: counts gathered over a batch (or a request), then one line per total and one per
 * breakdown value. Names from shared/metric-names.ts, which the alarms read too.
 *
 * Only in Lambda (or with `POWERTOOLS_METRICS_DISABLED=false`): the local runtime and the tests
 * would otherwise print a JSON line per batch.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { BACKEND_DIMENSION, BACKEND_ID_ENV, type MetricKey, METRICS, METRICS_NAMESPACE, SERVICE_NAME } from './metric-names.ts';

function enabled(): boolean {
  const flag = process.env.POWERTOOLS_METRICS_DISABLED;
  if (flag !== undefined) return flag === 'false' || flag === '0';
  return process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined;
}

let shared: Metrics | undefined;
function metrics(): Metrics {
  const backend = process.env[BACKEND_ID_ENV];
  shared ??= new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: SERVICE_NAME,
    ...(backend && { defaultDimensions: { [BACKEND_DIMENSION]: backend } }),
  });
  return shared;
}

/** Counts of one batch or request; {@link MetricTally.publish} writes and forgets them. */
export class MetricTally {
  private readonly totals = new Map<MetricKey, number>();
  private readonly breakdown = new Map<MetricKey, Map<string, number>>();

  /** Counts one occurrence of a metric, under a value of its breakdown dimension when it has one. */
  add(key: MetricKey, value?: string | number): this {
    this.totals.set(key, (this.totals.get(key) ?? 0) + 1);
    if (value !== undefined && METRICS[key].by !== undefined) {
      const byValue = this.breakdown.get(key) ?? new Map<string, number>();
      byValue.set(String(value), (byValue.get(String(value)) ?? 0) + 1);
      this.breakdown.set(key, byValue);
    }
    return this;
  }

  /** The counts so far (for tests and logs). */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.totals].map(([k, n]) => [METRICS[k].name, n]));
  }

  /** The counts of one metric by the values of its breakdown dimension (for logs). */
  breakdownOf(key: MetricKey): Record<string, number> {
    return Object.fromEntries(this.breakdown.get(key) ?? []);
  }

  /** Writes the totals as one EMF line and each breakdown value as its own, then starts over. */
  publish(): void {
    try {
      if (this.totals.size === 0 || !enabled()) return;
      const m = metrics();
      for (const [key, byValue] of this.breakdown) {
        const { name, by } = METRICS[key];
        for (const [value, count] of byValue) {
          if (by !== undefined) m.singleMetric().addDimension(by, value).addMetric(name, MetricUnit.Count, count);
        }
      }
      for (const [key, count] of this.totals) m.addMetric(METRICS[key].name, MetricUnit.Count, count);
      m.publishStoredMetrics();
    } finally {
      this.totals.clear();
      this.breakdown.clear();
    }
  }
}
