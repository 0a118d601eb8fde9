/**
 * Every SDK client of the backend, in one place: the handlers wire their adapters with these. Each
 * call builds a client; a handler builds its own once per container, on first use. Endpoints come
 * from the SDK's standard configuration (`AWS_ENDPOINT_URL_<SERVICE>`), so the same code talks to
 * AWS or to the local servers. Where traces are sent (in Lambda), every client's calls are traced
 * (a client built elsewhere, to keep a handler's imports light, is wrapped with `traced` too).
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { SocialMessagingClient, type SocialMessagingClientConfig } from '@aws-sdk/client-socialmessaging';
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { traced } from '../tracing.ts';

export function documentClient(client: DynamoDBClient = new DynamoDBClient({})): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(traced(client), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    unmarshallOptions: { wrapNumbers: false },
  });
}

/**
 * How long an SDK client keeps an idle keep-alive socket before closing it itself. A server closes
 * idle connections after its own timeout; a request written on a socket the server is closing at
 * that instant fails with `ECONNRESET` although the server never read it. For a call that must not
 * be repeated (SendWhatsAppMessage) such a reset is an unclear answer, reported in doubt: so the
 * client lets go of idle sockets first, below the shortest server timeout it may meet (Node's
 * default is 5 s; AWS endpoints keep idle connections longer).
 */
export const IDLE_SOCKET_TIMEOUT_MS = 4_000;

/**
 * Keep-alive agents whose idle sockets close after `IDLE_SOCKET_TIMEOUT_MS`, for the
 * `requestHandler` of an SDK client: `{ requestHandler: { ...keepAliveAgents(), requestTimeout } }`.
 */
export function keepAliveAgents(maxSockets = 50): { httpAgent: HttpAgent; httpsAgent: HttpsAgent } {
  const options = { keepAlive: true, maxSockets, timeout: IDLE_SOCKET_TIMEOUT_MS };
  return { httpAgent: new HttpAgent(options), httpsAgent: new HttpsAgent(options) };
}

/**
 * Attempts per call, retries included, for calls that are safe to repeat (reads, media). The
 * SDK's standard strategy retries throttling, 5xx and network errors with backoff; three
 * attempts stay well inside API Gateway's 29-second limit.
 */
export const SOCIALMESSAGING_MAX_ATTEMPTS = 3;

/**
 * The client for calls that are safe to repeat, with the endpoint from the SDK's standard
 * configuration (`AWS_ENDPOINT_URL_SOCIALMESSAGING`).
 */
export function socialMessagingClient(config: SocialMessagingClientConfig = {}): SocialMessagingClient {
  return traced(new SocialMessagingClient({ maxAttempts: SOCIALMESSAGING_MAX_ATTEMPTS, retryMode: 'standard', requestHandler: keepAliveAgents(), ...config }));
}

/**
 * How long a send waits for AWS's answer before giving up on it (the message is then in doubt):
 * long enough for a slow answer, short enough to record the outcome before the API function's
 * 28-second timeout.
 */
export const SEND_TIMEOUT_MS = 20_000;

/**
 * The client for SendWhatsAppMessage: one attempt per call, never a retry by the SDK, and an
 * answer awaited at most `SEND_TIMEOUT_MS` (a `TimeoutError` after that).
 */
export function socialMessagingSendClient(config: SocialMessagingClientConfig = {}): SocialMessagingClient {
  return traced(new SocialMessagingClient({
    // Idle sockets are let go before a server closes them, so a reset never makes a send in doubt.
    requestHandler: { ...keepAliveAgents(), requestTimeout: SEND_TIMEOUT_MS, throwOnRequestTimeout: true },
    ...config,
    maxAttempts: 1,
  }));
}

/**
 * An S3 client for media. Checksums only when S3 requires them: by default the SDK puts a CRC32
 * of the (empty) request body into a presigned PUT URL, which S3 then holds against the real
 * upload and refuses it. The file's integrity is checked here with SHA-256 instead.
 */
export function mediaS3Client(config: S3ClientConfig = {}): S3Client {
  return traced(new S3Client({ requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', ...config }));
}

/** The client of the media job queue and the webhook retry queue. */
export function sqsClient(config: SQSClientConfig = {}): SQSClient {
  return traced(new SQSClient(config));
}
