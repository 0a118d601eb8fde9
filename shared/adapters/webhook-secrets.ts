/**
 * Webhook secrets at rest. Deployed: KMS Encrypt/Decrypt under the webhooks key, with the webhook
 * id as encryption context (a ciphertext moved to another webhook does not decrypt). Locally (the
 * emulator has no KMS): AES-256-GCM under a key kept in the local data directory.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { SecretCipher } from '../ports/webhooks.ts';

export class KmsSecretCipher implements SecretCipher {
  private readonly kms: KMSClient;
  private readonly keyId: string;
  constructor(kms: KMSClient, keyId: string) {
    this.kms = kms;
    this.keyId = keyId;
  }
  async encrypt(plaintext: string, context: string): Promise<string> {
    const out = await this.kms.send(
      new EncryptCommand({ KeyId: this.keyId, Plaintext: Buffer.from(plaintext), EncryptionContext: { webhook: context } }),
    );
    return `kms:${Buffer.from(out.CiphertextBlob!).toString('base64')}`;
  }
  async decrypt(ciphertext: string, context: string): Promise<string> {
    const blob = Buffer.from(ciphertext.replace(/^kms:/, ''), 'base64');
    const out = await this.kms.send(new DecryptCommand({ KeyId: this.keyId, CiphertextBlob: blob, EncryptionContext: { webhook: context } }));
    return Buffer.from(out.Plaintext!).toString('utf8');
  }
}

export class LocalSecretCipher implements SecretCipher {
  private readonly key: Buffer;
  /** `keyBase64`: 32 random bytes, base64. */
  constructor(keyBase64: string) {
    this.key = Buffer.from(keyBase64, 'base64');
    if (this.key.length !== 32) throw new Error('The local webhook secret key must be 32 bytes (base64)');
  }
  async encrypt(plaintext: string, context: string): Promise<string> {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(context));
    const body = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
    return `local:${Buffer.concat([iv, c.getAuthTag(), body]).toString('base64')}`;
  }
  async decrypt(ciphertext: string, context: string): Promise<string> {
    const raw = Buffer.from(ciphertext.replace(/^local:/, ''), 'base64');
    const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    d.setAAD(Buffer.from(context));
    d.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
  }
}
