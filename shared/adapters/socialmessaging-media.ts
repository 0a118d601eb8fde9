/**
 * WhatsApp media through AWS End User Messaging Social: GetWhatsAppMessageMedia (inbound file →
 * the media bucket) and PostWhatsAppMessageMedia (an object of the bucket → a WhatsApp media id).
 * Failed calls are thrown as `WhatsAppServiceError` (the SDK's exception name kept): translated into
 * the domain's `WhatsAppFailure` (socialmessaging-errors.ts): a kind, an answer, a refusal.
 */
import {
  GetWhatsAppMessageMediaCommand,
  PostWhatsAppMessageMediaCommand,
  type SocialMessagingClient,
} from '@aws-sdk/client-socialmessaging';
import { WhatsAppServiceError } from './socialmessaging-errors.ts';
import type { WhatsAppMedia } from '../ports/media.ts';

async function call<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw new WhatsAppServiceError(err);
  }
}

export class SocialMessagingMedia implements WhatsAppMedia {
  private readonly client: SocialMessagingClient;
  constructor(client: SocialMessagingClient) {
    this.client = client;
  }

  async downloadToBucket(input: {
    mediaId: string;
    phoneNumberId: string;
    bucket: string;
    keyPrefix: string;
  }): Promise<{ mimeType?: string; fileSize?: number }> {
    const out = await call(() =>
      this.client.send(
        new GetWhatsAppMessageMediaCommand({
          mediaId: input.mediaId,
          originationPhoneNumberId: input.phoneNumberId,
          // A prefix: AWS appends `<mediaId>.<ext>` to it.
          destinationS3File: { bucketName: input.bucket, key: input.keyPrefix },
        }),
      ),
    );
    return {
      ...(out.mimeType !== undefined && { mimeType: out.mimeType }),
      ...(out.fileSize !== undefined && { fileSize: Number(out.fileSize) }),
    };
  }

  async uploadFromBucket(input: { phoneNumberId: string; bucket: string; key: string }): Promise<{ mediaId: string }> {
    const out = await call(() =>
      this.client.send(
        new PostWhatsAppMessageMediaCommand({
          originationPhoneNumberId: input.phoneNumberId,
          sourceS3File: { bucketName: input.bucket, key: input.key },
        }),
      ),
    );
    if (!out.mediaId) throw new Error('PostWhatsAppMessageMedia answered without a mediaId');
    return { mediaId: out.mediaId };
  }
}
