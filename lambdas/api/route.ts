/**
 * One route of the HTTP API: its OpenAPI description (zod schemas) and its handler, in one
 * place, so the router and the OpenAPI document are built from the same table.
 */
import type { z } from 'zod';

export interface RouteRequest {
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  headers: Record<string, string | undefined>;
  /** The parsed JSON body (undefined when there is none). */
  body: unknown;
}

export interface RouteResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface RouteDef {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** OpenAPI-style path, e.g. `/v1/messages/{id}`. */
  path: string;
  summary: string;
  operationId: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  body?: z.ZodType;
  /** Success responses by status code. */
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  /** Error codes this route may answer, for the document. */
  errors?: number[];
  handle(req: RouteRequest): Promise<RouteResponse>;
}
