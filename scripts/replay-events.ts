/**
 * `npm run events:replay`: publishes the events parked because the topic refused them (see
 * publish-events.ts) to the events topic again, and forgets those that went out. Deployed: set
 * TABLE_NAME and EVENTS_TOPIC_ARN (stack outputs) and AWS credentials; locally it reads
 * `.local/runtime.json`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { documentClient } from '../shared/adapters/aws-clients.ts';
import { DynamoDbUnpublishedEvents } from '../shared/adapters/dynamodb-unpublished.ts';
import { SnsEventPublisher } from '../shared/adapters/sns-events.ts';
import { replayUnpublished } from '../shared/domain/publish-events.ts';

const local = existsSync('.local/runtime.json') && !process.env.TABLE_NAME ? JSON.parse(readFileSync('.local/runtime.json', 'utf8')) : undefined;
const localConfig = (endpoint: string) =>
  local ? { endpoint, region: local.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {};
const tableName = process.env.TABLE_NAME ?? local?.tableName;
const topicArn = process.env.EVENTS_TOPIC_ARN ?? local?.eventsTopicArn;
if (!tableName || !topicArn) {
  console.error('Set TABLE_NAME and EVENTS_TOPIC_ARN, or run it beside a started `npm start`.');
  process.exit(1);
}
const deps = {
  unpublished: new DynamoDbUnpublishedEvents(documentClient(new DynamoDBClient(localConfig(local?.dynamodbEndpointUrl))), tableName),
  publisher: new SnsEventPublisher(new SNSClient(localConfig(local?.awsEndpointUrl)), topicArn),
};
let total = 0;
for (let n; (n = await replayUnpublished(deps)) > 0; ) total += n;
console.log(`${total} parked event(s) published`);
