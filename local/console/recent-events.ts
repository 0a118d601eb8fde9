/**
 * The domain events the console lists: the local runtime reads the events topic like any
 * subscriber (a queue of its own, see runtime.ts) and keeps the latest ones here, each once by its
 * id (the topic delivers at least once). `GET /console/events?after=<seq>` answers those after a
 * sequence number the page already has.
 */
export interface RecentEvent {
  /** Order of arrival here, from 1. */
  readonly seq: number;
  readonly id: string;
  readonly type: string;
  readonly subject: string;
  readonly time: string;
  /** The whole CloudEvent, as a subscriber receives it. */
  readonly event: Record<string, unknown>;
}

/** How many events the console keeps. */
export const RECENT_EVENTS_KEPT = 200;

export class RecentEvents {
  private readonly items: RecentEvent[] = [];
  private readonly ids = new Set<string>();
  private seq = 0;
  private readonly keep: number;

  constructor(keep = RECENT_EVENTS_KEPT) {
    this.keep = keep;
  }

  /**
   * One SQS body from the events topic: an SNS notification whose `Message` is a CloudEvent (or the
   * CloudEvent itself, delivered raw). Anything else is not listed; answers whether it was.
   */
  add(body: string): boolean {
    let event: Record<string, unknown>;
    try {
      const outer = JSON.parse(body) as Record<string, unknown>;
      event = outer.Type === 'Notification' && typeof outer.Message === 'string' ? (JSON.parse(outer.Message) as Record<string, unknown>) : outer;
    } catch {
      return false;
    }
    const { id, type, subject, time } = event;
    if (typeof id !== 'string' || typeof type !== 'string' || this.ids.has(id)) return false;
    this.ids.add(id);
    this.items.push({ seq: ++this.seq, id, type, subject: typeof subject === 'string' ? subject : '', time: typeof time === 'string' ? time : '', event });
    while (this.items.length > this.keep) this.ids.delete(this.items.shift()!.id);
    return true;
  }

  /** The events kept that came after `seq`, oldest first. */
  after(seq: number): RecentEvent[] {
    return this.items.filter((e) => e.seq > seq);
  }
}
