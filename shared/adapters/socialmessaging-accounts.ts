/** The linked WABAs and their numbers through End User Messaging Social (`shared/ports/linked-accounts.ts`). */
import {
  GetLinkedWhatsAppBusinessAccountCommand,
  paginateListLinkedWhatsAppBusinessAccounts,
  PutWhatsAppBusinessAccountEventDestinationsCommand,
  type SocialMessagingClient,
} from '@aws-sdk/client-socialmessaging';
import type { LinkedAccounts, LinkedNumber, LinkedWaba } from '../ports/linked-accounts.ts';

export class SocialMessagingAccounts implements LinkedAccounts {
  private readonly client: SocialMessagingClient;
  constructor(client: SocialMessagingClient) {
    this.client = client;
  }

  async listWabas(): Promise<LinkedWaba[]> {
    const wabas: LinkedWaba[] = [];
    for await (const page of paginateListLinkedWhatsAppBusinessAccounts({ client: this.client }, {})) {
      for (const a of page.linkedAccounts ?? []) {
        // A WABA whose sign-up is not finished cannot send or receive yet.
        if (!a.id || !a.arn || a.registrationStatus !== 'COMPLETE') continue;
        wabas.push({ id: a.id, arn: a.arn, eventDestinationArns: (a.eventDestinations ?? []).map((d) => d.eventDestinationArn!).filter(Boolean) });
      }
    }
    return wabas;
  }

  async numbersOf(wabaId: string): Promise<LinkedNumber[]> {
    const out = await this.client.send(new GetLinkedWhatsAppBusinessAccountCommand({ id: wabaId }));
    return (out.account?.phoneNumbers ?? []).filter((p) => p.phoneNumberId && p.arn).map((p) => ({ phoneNumberId: p.phoneNumberId!, arn: p.arn! }));
  }

  async setEventDestination(wabaId: string, topicArn: string | undefined): Promise<void> {
    await this.client.send(
      new PutWhatsAppBusinessAccountEventDestinationsCommand({ id: wabaId, eventDestinations: topicArn === undefined ? [] : [{ eventDestinationArn: topicArn }] }),
    );
  }
}
