/**
 * The names of the backend's own CloudWatch metrics, from one place: the handlers write them as
 * Embedded Metric Format log lines (shared/metrics.ts) and the alarms and dashboard of the CDK
 * construct read them (lib/constructs/monitoring.ts). Plain data only: no SDK or CDK imports.
 *
 * Every metric is a count, written twice per batch: once as a total (dimensions `service` and
 * `Backend`), once per value of its breakdown dimension (the same two, plus that one). CloudWatch
 * cannot sum over a dimension in an alarm, so the alarms read the totals. Counts are of events
 * received: an event SNS or SQS delivers twice is counted twice.
 */

/** The CloudWatch namespace of every metric. */
export const METRICS_NAMESPACE = 'WhatsAppBackend';

/** The service name every function logs, traces and measures under (Powertools' `service` dimension). */
export const SERVICE_NAME = 'whatsapp-backend';

/** Dimension naming one deployed backend, so two backends in one account and region keep apart. */
export const BACKEND_DIMENSION = 'Backend';

/** The environment variable that carries the {@link BACKEND_DIMENSION} value into the functions. */
export const BACKEND_ID_ENV = 'METRICS_BACKEND_ID';

/** Metric names and the dimension each is broken down by. */
export const METRICS = {
  /** Inbound messages stored, by WhatsApp message type (`text`, `image`, …). */
  inboundMessages: { name: 'InboundMessages', by: 'MessageType' },
  /** Statuses received, by status (`sent`, `delivered`, `read`, `failed`, …). */
  statuses: { name: 'Statuses', by: 'Status' },
  /** Failed statuses, by Meta error code (`none` when the status names no error). */
  failedStatuses: { name: 'FailedStatuses', by: 'MetaErrorCode' },
  /** Events kept in quarantine (not understood, or refused by the store), by nothing further. */
  quarantinedEvents: { name: 'QuarantinedEvents', by: undefined },
  /** Answers of `POST /v1/messages`, by outcome (`accepted` 2xx, `rejected` 4xx, `error` 5xx). */
  sends: { name: 'Sends', by: 'Outcome' },
  /** Inbound media copy attempts, by outcome (`stored`, `failed`, `skipped`, `retry`). */
  mediaCopies: { name: 'MediaCopies', by: 'Outcome' },
  /** Webhook delivery attempts, by outcome (`delivered`; `failed`: tried again later; `parked`: given up). */
  webhookDeliveries: { name: 'WebhookDeliveries', by: 'Outcome' },
} as const;

export type MetricKey = keyof typeof METRICS;

/** The webhook delivery outcomes that failed: `failed` is tried again later, `parked` was given up. */
export const WEBHOOK_FAILED_OUTCOMES = ['failed', 'parked'] as const;

/** The media copy outcome that is a final failure (the job is done, the file is not stored). */
export const MEDIA_FAILED_OUTCOME = 'failed';
