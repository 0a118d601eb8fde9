/**
 * The WABAs linked to the AWS account and their numbers, as End User Messaging Social lists them
 * (`shared/adapters/socialmessaging-accounts.ts`): what `discoverNumbers` reads at deploy time.
 */
export interface LinkedWaba {
  /** AWS WABA id, `waba-<hex>`. */
  id: string;
  arn: string;
  /** Where the WABA publishes its events (at most one). */
  eventDestinationArns: string[];
}

export interface LinkedNumber {
  /** AWS phone number id, `phone-number-id-<hex>`. */
  phoneNumberId: string;
  arn: string;
}

export interface LinkedAccounts {
  /** Every linked WABA (every page). */
  listWabas(): Promise<LinkedWaba[]>;
  /** The numbers of one WABA. */
  numbersOf(wabaId: string): Promise<LinkedNumber[]>;
  /** Points the WABA's events at `topicArn`, or nowhere with `undefined`. */
  setEventDestination(wabaId: string, topicArn: string | undefined): Promise<void>;
}
