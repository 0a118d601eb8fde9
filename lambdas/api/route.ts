/**
 * One route of the HTTP API: its OpenAPI description (zod schemas) and its handler, in one
 * place, so the router and the OpenAPI document are built from the same table. A route is typed by
 * its schemas: its handler receives what they output (`defineRoute` infers it).
 */
import type { z } from 'zod';

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteRequest<P = Record<string, string>, Q = Record<string, string | undefined>, H = Record<string, string | undefined>, B = unknown> {
  params: P;
  query: Q;
  headers: H;
  /** The validated body (undefined when the route takes none). */
  body: B;
}

export interface RouteResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface RouteDef<
  P extends z.ZodObject | undefined = z.ZodObject | undefined,
  Q extends z.ZodObject | undefined = z.ZodObject | undefined,
  H extends z.ZodObject | undefined = z.ZodObject | undefined,
  B extends z.ZodType | undefined = z.ZodType | undefined,
> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** OpenAPI-style path, e.g. `/v1/messages/{id}`. */
  path: string;
  summary: string;
  operationId: string;
  params?: P;
  query?: Q;
  headers?: H;
  /** The body's schema: what the router validates and the document shows. */
  body?: B;
  /**
   * For a body whose errors are worded by its own parser (the send request): parses the JSON body
   * in place of `body`, throwing a `ValidationError` that names the field.
   */
  parseBody?: (raw: unknown) => Out<B>;
  /** The description the document gives the body, when `body`'s own would not do. */
  bodyDescription?: string;
  /** Success responses by status code. */
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  /** Error codes this route may answer, for the document. */
  errors?: number[];
  handle(req: RouteRequest<P extends z.ZodObject ? z.output<P> : Record<string, string>, Q extends z.ZodObject ? z.output<Q> : Record<string, string | undefined>, H extends z.ZodObject ? z.output<H> : Record<string, string | undefined>, Out<B>>): Promise<RouteResponse>;
}

/** Any route of the table, its types erased (the router validates its input before calling it). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRoute = RouteDef<any, any, any, any>;

/** A route, typed by its own schemas. */
export const defineRoute = <
  P extends z.ZodObject | undefined = undefined,
  Q extends z.ZodObject | undefined = undefined,
  H extends z.ZodObject | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(
  route: RouteDef<P, Q, H, B>,
): AnyRoute => route;
