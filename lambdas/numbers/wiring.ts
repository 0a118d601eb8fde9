/** The number discovery's Lambda wiring, imported on its first request (shared/lazy.ts). */
import { socialMessagingClient } from '../../shared/adapters/aws-clients.ts';
import { SocialMessagingAccounts } from '../../shared/adapters/socialmessaging-accounts.ts';
import type { LinkedAccounts } from '../../shared/ports/linked-accounts.ts';

export const linkedAccounts = (): LinkedAccounts => new SocialMessagingAccounts(socialMessagingClient());
