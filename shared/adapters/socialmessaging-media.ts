/**
 * WhatsApp media through AWS End User Messaging Social: GetWhatsAppMessageMedia (inbound file →
 * the media bucket) and PostWhatsAppMessageMedia (an object of the bucket → a WhatsApp media id).
 * SDK exceptions pass through unchanged: the use cases classify them by name.
 */
import {
  GetWhatsAppMessageMediaCommand,
  PostWhatsAppMessageMediaCommand,
  type SocialMessagingClient,
} from '@aws-sdk/client-socialmessaging';
import type { WhatsAppMedia } from '../ports/media.ts';

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
    const out = await this.client.send(
      new GetWhatsAppMessageMediaCommand({
        mediaId: input.mediaId,
        originationPhoneNumberId: input.phoneNumberId,
        // A prefix: AWS appends `<mediaId>.<ext>` to it.
        destinationS3File: { bucketName: input.bucket, key: input.keyPrefix },
      }),
    );
    return {
      ...(out.mimeType !== undefined && { mimeType: out.mimeType }),
      ...(out.fileSize !== undefined && { fileSize: Number(out.fileSize) }),
    };
  }

  async uploadFromBucket(input: { phoneNumberId: string; bucket: string; key: string }): Promise<{ mediaId: string }> {
    const out = await this.client.send(
      new PostWhatsAppMessageMediaCommand({
        originationPhoneNumberId: input.phoneNumberId,
        sourceS3File: { bucketName: input.bucket, key: input.key },
      }),
    );
    if (!out.mediaId) throw new Error('PostWhatsAppMessageMedia answered without a mediaId');
    return { mediaId: out.mediaId };
  }
}
