/**
 * SDK clients, built once per process. Endpoints come from the SDK's standard configuration
 * (`AWS_ENDPOINT_URL_<SERVICE>`), so the same code talks to AWS or to the local servers.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export function documentClient(client: DynamoDBClient = new DynamoDBClient({})): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
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
