/**
 * A fast client: it reads each inbound message as soon as the API shows it and replies at once,
 * in parallel lanes, and sends in bursts. Whatever it can read, the window that message opened is
 * open (no `window_closed`), and no local connection reset makes a send in doubt (no
 * `send_in_doubt`). Counts are small here; `npm run bench` runs the large ones.
 */
import { describe, expect, it } from 'vitest';
import { useTarget } from './support/target.ts';
import { burstSends, readThenReply } from '../../bench/fast-client.ts';

const t = useTarget({ localOnly: true });

describe.runIf(t.enabled)('a fast client', () => {
  it('never finds the window of a message it just read closed, in parallel lanes', async () => {
    const result = await readThenReply(t.current, { lanes: 4, cyclesPerLane: 6, phonePrefix: '1737' });
    expect(result.cycles).toBe(24);
    expect(result.byStatus).toEqual({ 202: 24 });
  }, 120_000);

  it('gets a clear answer for every send of bursts spaced around the server keep-alive time', async () => {
    // Pauses of Node's default keep-alive (5 s) idle the client's sockets just as long.
    const result = await burstSends(t.current, { bursts: 3, perBurst: 30, pauseMs: 5_000, phonePrefix: '1738' });
    expect(result.sends).toBe(90);
    expect(result.byStatus).toEqual({ 202: 90 });
  }, 120_000);
});
