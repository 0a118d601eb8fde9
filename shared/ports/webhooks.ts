import type { Delivery, DeliveryJob, StoredWebhook } from '../domain/webhooks.ts';

/** Registered webhooks, their delivery log and their parked jobs. */
export interface WebhookStore {
  create(webhook: StoredWebhook): Promise<void>;
  get(id: string): Promise<StoredWebhook | undefined>;
  /** Every registered webhook (a deleted one is gone at once). */
  list(): Promise<StoredWebhook[]>;
  /** Whether there was one to delete. */
  delete(id: string): Promise<boolean>;
  /** Replaces the secret; the previous one keeps signing until `previousUntilMs`. `undefined` when there is no such webhook. */
  rotateSecret(id: string, secretCiphertext: string, previousUntilMs: number): Promise<StoredWebhook | undefined>;
  recordDeliveries(deliveries: ReadonlyArray<Delivery & { webhookId: string }>): Promise<void>;
  /** Recent attempts, newest first, a page at a time (the cursor of the page before). */
  listDeliveries(id: string, limit: number, cursor?: string): Promise<{ items: Delivery[]; nextCursor: string | null }>;
  park(jobs: readonly DeliveryJob[], atMs: number): Promise<void>;
  parked(id: string, limit: number): Promise<DeliveryJob[]>;
  unpark(id: string, eventIds: readonly string[]): Promise<void>;
}

/** Encrypts webhook secrets at rest (KMS deployed; a local key on a laptop). */
export interface SecretCipher {
  encrypt(plaintext: string, context: string): Promise<string>;
  decrypt(ciphertext: string, context: string): Promise<string>;
}

/** Sends one signed POST; resolves with the HTTP status, rejects when no answer came (or the address is refused). */
export interface WebhookTransport {
  post(url: string, headers: Record<string, string>, body: string): Promise<{ status: number }>;
}

/** Where jobs wait for their next attempt (a delayed queue). */
export interface RetryQueue {
  schedule(jobs: readonly DeliveryJob[], nowMs: number): Promise<void>;
}
