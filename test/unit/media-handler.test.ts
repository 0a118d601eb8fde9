import type { Context } from 'aws-lambda';
import { expect, it } from 'vitest';
import { makeHandler, type MediaHandlerDeps } from '../../lambdas/media/handler.ts';
import { sqsEvent } from '../support/events.ts';

it('keeps a malformed media job by failing it, so the queue moves it to its DLQ instead of dropping it', async () => {
  // A malformed job never reaches a dependency.
  const handler = makeHandler({} as MediaHandlerDeps);
  const event = sqsEvent(['{"messageId": 42}', 'not json']);

  const response = await handler(event, {} as Context);

  expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(event.Records.map((r) => r.messageId).sort());
});
