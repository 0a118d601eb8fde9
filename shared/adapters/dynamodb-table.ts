import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** What every adapter of the single table holds: the document client and the table's name. */
export abstract class DynamoDbTable {
  protected readonly doc: DynamoDBDocumentClient;
  protected readonly tableName: string;
  constructor(doc: DynamoDBDocumentClient, tableName: string) {
    this.doc = doc;
    this.tableName = tableName;
  }
}
