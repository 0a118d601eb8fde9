/**
 * Powertools logger and tracer, from one module. Log lines carry ids and counts only: never a phone
 * number or a message body.
 */
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'whatsapp-backend' });
