/**
 * TypeBox schemas of the API: they validate requests and make the OpenAPI document. Response
 * bodies are the CLI's `--json` documents (see runtime/views.ts); their schemas name the
 * top-level fields and leave the rest to the README's shapes.
 */
import { Type, type TSchema } from '@fastify/type-provider-typebox';

export const ErrorSchema = Type.Object(
  {
    error: Type.Object({ code: Type.String(), message: Type.String(), hint: Type.Union([Type.String(), Type.Null()]) }),
  },
  { $id: undefined, description: 'An error: the same document the CLI prints with --json' },
);

/** A document with these top-level fields (more may follow). */
export const doc = (fields: Record<string, TSchema>, description: string) =>
  Type.Object(fields, { additionalProperties: true, description });

export const AnyObject = Type.Object({}, { additionalProperties: true });

/** Responses of a read route: 200 with `ok`, and the errors every route may answer. */
export function responses(ok: TSchema, ...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = { 200: ok, 401: ErrorSchema, 403: ErrorSchema };
  for (const s of statuses) out[s] = ErrorSchema;
  return out;
}

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) });
export const QueueParams = Type.Object({ queue: Type.String({ minLength: 1, maxLength: 256 }) });
