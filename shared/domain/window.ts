/**
 * The 24-hour customer-service window: an inbound message opens or refreshes it; outside it
 * only templates may be sent (Meta error 131047 otherwise).
 */
export const WINDOW_MS = 24 * 60 * 60 * 1000;

/** When the window opened by the last inbound message closes. */
export function windowExpiresAt(lastInboundMs: number): number {
  return lastInboundMs + WINDOW_MS;
}

/** Whether a non-template message may be sent at `nowMs`. The window is open strictly before expiry. */
export function isWindowOpen(lastInboundMs: number | undefined, nowMs: number): boolean {
  return lastInboundMs !== undefined && nowMs < windowExpiresAt(lastInboundMs);
}
