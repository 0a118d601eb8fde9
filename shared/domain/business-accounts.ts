/**
 * Discovering the business's WABAs and numbers (`discoverNumbers=true`): at deploy time the stack
 * serves every linked WABA whose registration is complete and every number of it, and points each
 * WABA's events at the stack's topic.
 *
 * `discover`: lists every WABA (all pages), then each WABA's numbers; sorted, so the same account
 * gives the same answer (CloudFormation sees no change when nothing changed).
 * `connect`: sets the event destination of each WABA to the topic (a Put is idempotent).
 * `disconnect`: clears the destination of each WABA that still points at the topic, and of no
 * other: a WABA moved to another topic since is left alone.
 */
import type { LinkedAccounts, LinkedNumber, LinkedWaba } from '../ports/linked-accounts.ts';

export interface BusinessAccounts {
  wabas: LinkedWaba[];
  phoneNumbers: (LinkedNumber & { wabaId: string })[];
}

export async function discover(accounts: LinkedAccounts): Promise<BusinessAccounts> {
  const wabas = (await accounts.listWabas()).sort((a, b) => a.id.localeCompare(b.id));
  const phoneNumbers: BusinessAccounts['phoneNumbers'] = [];
  for (const waba of wabas) {
    for (const n of await accounts.numbersOf(waba.id)) phoneNumbers.push({ ...n, wabaId: waba.id });
  }
  phoneNumbers.sort((a, b) => a.phoneNumberId.localeCompare(b.phoneNumberId));
  return { wabas, phoneNumbers };
}

export async function connect(accounts: LinkedAccounts, wabaIds: readonly string[], topicArn: string): Promise<void> {
  for (const id of wabaIds) await accounts.setEventDestination(id, topicArn);
}

/** The WABAs cleared. */
export async function disconnect(accounts: LinkedAccounts, topicArn: string): Promise<string[]> {
  const cleared: string[] = [];
  for (const waba of await accounts.listWabas()) {
    if (!waba.eventDestinationArns.includes(topicArn)) continue;
    await accounts.setEventDestination(waba.id, undefined);
    cleared.push(waba.id);
  }
  return cleared;
}
