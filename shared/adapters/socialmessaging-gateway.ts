/**
 * WhatsAppGateway over the socialmessaging SDK client: SendWhatsAppMessage and
 * GetLinkedWhatsAppBusinessAccountPhoneNumber. Failed calls are thrown as `WhatsAppServiceError`
 * (the SDK's exception name kept), translated there into the domain's `WhatsAppFailure` (socialmessaging-errors.ts).
 *
 * SendWhatsAppMessage has no client token: a call that reached AWS and lost its answer (timeout,
 * reset connection, 5xx) may have sent the message, and sending it again could deliver it twice.
 * So sends go through a client without SDK retries, and the gateway itself retries only a throttle
 * (`ThrottledRequestException`, or any HTTP 429 the SDK does not model: AWS accepted nothing).
 * Reads keep the SDK's retries.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  GetLinkedWhatsAppBusinessAccountPhoneNumberCommand,
  SendWhatsAppMessageCommand,
  SocialMessagingClient,
} from '@aws-sdk/client-socialmessaging';
import { isAwsThrottle, WhatsAppServiceError } from './socialmessaging-errors.ts';
import { phoneDigits } from '../domain/ids.ts';
import type { LinkedPhoneNumber, WhatsAppGateway } from '../ports/whatsapp-gateway.ts';

/**
 * Attempts of one SendWhatsAppMessage while AWS throttles it (ThrottledRequestException or HTTP
 * 429); a send still throttled after them becomes a 429 with Retry-After for the caller.
 */
export const SEND_ATTEMPTS_WHEN_THROTTLED = 3;

/** Wait before the n-th retry (1-based) of a throttled send: 100 ms, then 400 ms, with jitter. */
export function throttledSendDelayMs(retry: number, random: () => number = Math.random): number {
  const ceiling = 100 * 4 ** (Math.max(1, retry) - 1);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export { SEND_TIMEOUT_MS, socialMessagingClient, socialMessagingSendClient, SOCIALMESSAGING_MAX_ATTEMPTS } from './aws-clients.ts';

export interface SocialMessagingGatewayOptions {
  /**
   * The client SendWhatsAppMessage goes through; it must not retry (`socialMessagingSendClient`).
   * @default the client given for reads: only for a client whose calls never reach AWS (tests)
   */
  sendClient?: SocialMessagingClient;
  /** @default SEND_ATTEMPTS_WHEN_THROTTLED */
  attemptsWhenThrottled?: number;
  /** @default throttledSendDelayMs */
  delayMs?: (retry: number) => number;
  /** @default a timer */
  sleep?: (ms: number) => Promise<unknown>;
}

export class SocialMessagingGateway implements WhatsAppGateway {
  private readonly client: SocialMessagingClient;
  private readonly sendClient: SocialMessagingClient;
  private readonly attemptsWhenThrottled: number;
  private readonly delayMs: (retry: number) => number;
  private readonly sleep: (ms: number) => Promise<unknown>;

  /** `client` for reads (with the SDK's retries); `options.sendClient` for sends (without). */
  constructor(client: SocialMessagingClient, options: SocialMessagingGatewayOptions = {}) {
    this.client = client;
    this.sendClient = options.sendClient ?? client;
    this.attemptsWhenThrottled = Math.max(1, options.attemptsWhenThrottled ?? SEND_ATTEMPTS_WHEN_THROTTLED);
    this.delayMs = options.delayMs ?? ((retry) => throttledSendDelayMs(retry));
    this.sleep = options.sleep ?? sleep;
  }

  async sendMessage(input: {
    phoneNumberId: string;
    message: Record<string, unknown>;
    metaApiVersion: string;
  }): Promise<{ awsMessageId?: string }> {
    const command = () =>
      new SendWhatsAppMessageCommand({
        originationPhoneNumberId: input.phoneNumberId,
        // Raw JSON bytes: the SDK base64-encodes blobs itself.
        message: new TextEncoder().encode(JSON.stringify(input.message)),
        metaApiVersion: input.metaApiVersion,
      });
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await this.sendClient.send(command());
        return out.messageId ? { awsMessageId: out.messageId } : {};
      } catch (err) {
        // Only a throttle (ThrottledRequestException, or any HTTP 429) is known to have sent nothing
        // and to pass soon; any other failure is the caller's to classify.
        if (!isAwsThrottle(err) || attempt >= this.attemptsWhenThrottled) throw new WhatsAppServiceError(err);
      }
      await this.sleep(this.delayMs(attempt));
    }
  }

  async getPhoneNumber(phoneNumberId: string): Promise<LinkedPhoneNumber> {
    let out;
    try {
      out = await this.client.send(new GetLinkedWhatsAppBusinessAccountPhoneNumberCommand({ id: phoneNumberId }));
    } catch (err) {
      throw new WhatsAppServiceError(err);
    }
    const p = out.phoneNumber;
    const display = p?.displayPhoneNumber ?? p?.phoneNumber;
    return {
      phoneNumberId: p?.phoneNumberId ?? phoneNumberId,
      ...(p?.arn && { arn: p.arn }),
      ...(display && phoneDigits(display) !== '' && { displayPhoneNumber: phoneDigits(display) }),
      ...(p?.metaPhoneNumberId && { metaPhoneNumberId: p.metaPhoneNumberId }),
      ...(out.linkedWhatsAppBusinessAccountId && { wabaId: out.linkedWhatsAppBusinessAccountId }),
    };
  }
}
