/**
 * WhatsAppGateway over the socialmessaging SDK client: SendWhatsAppMessage and
 * GetLinkedWhatsAppBusinessAccountPhoneNumber. Exceptions pass through unchanged (the domain maps
 * them by name with `fromAwsError`).
 */
import {
  GetLinkedWhatsAppBusinessAccountPhoneNumberCommand,
  SendWhatsAppMessageCommand,
  SocialMessagingClient,
  type SocialMessagingClientConfig,
} from '@aws-sdk/client-socialmessaging';
import { phoneDigits } from '../domain/ids.ts';
import type { LinkedPhoneNumber, WhatsAppGateway } from '../ports/whatsapp-gateway.ts';

/**
 * Attempts per call, retries included. The SDK's standard strategy retries throttling and 5xx with
 * backoff; three attempts stay well inside API Gateway's 29-second limit, and a throttled call
 * that still fails becomes a 429 with Retry-After for the caller.
 */
export const SOCIALMESSAGING_MAX_ATTEMPTS = 3;

/** The client, with the endpoint from the SDK's standard configuration (`AWS_ENDPOINT_URL_SOCIALMESSAGING`). */
export function socialMessagingClient(config: SocialMessagingClientConfig = {}): SocialMessagingClient {
  return new SocialMessagingClient({ maxAttempts: SOCIALMESSAGING_MAX_ATTEMPTS, retryMode: 'standard', ...config });
}

export class SocialMessagingGateway implements WhatsAppGateway {
  private readonly client: SocialMessagingClient;
  constructor(client: SocialMessagingClient) {
    this.client = client;
  }

  async sendMessage(input: {
    phoneNumberId: string;
    message: Record<string, unknown>;
    metaApiVersion: string;
  }): Promise<{ awsMessageId?: string }> {
    const out = await this.client.send(
      new SendWhatsAppMessageCommand({
        originationPhoneNumberId: input.phoneNumberId,
        // Raw JSON bytes: the SDK base64-encodes blobs itself.
        message: new TextEncoder().encode(JSON.stringify(input.message)),
        metaApiVersion: input.metaApiVersion,
      }),
    );
    return out.messageId ? { awsMessageId: out.messageId } : {};
  }

  async getPhoneNumber(phoneNumberId: string): Promise<LinkedPhoneNumber> {
    const out = await this.client.send(new GetLinkedWhatsAppBusinessAccountPhoneNumberCommand({ id: phoneNumberId }));
    const p = out.phoneNumber;
    const display = p?.displayPhoneNumber ?? p?.phoneNumber;
    return {
      phoneNumberId: p?.phoneNumberId ?? phoneNumberId,
      ...(p?.arn && { arn: p.arn }),
      ...(display && phoneDigits(display) !== '' && { displayPhoneNumber: phoneDigits(display) }),
      ...(p?.metaPhoneNumberId && { metaPhoneNumberId: p.metaPhoneNumberId }),
    };
  }
}
