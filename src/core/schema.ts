/**
 * Standard Schema (https://standardschema.dev): the common interface of zod, valibot, arktype
 * and others. tq only needs `validate`, so it depends on none of them.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<{ readonly message: string; readonly path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> }> };

export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  return (
    !!value &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as StandardSchemaV1)['~standard']?.validate === 'function'
  );
}

/** Validates; returns the (possibly transformed) value, or throws with every issue on one line. */
export async function validateWithSchema(schema: StandardSchemaV1, value: unknown, onIssues: (message: string) => Error): Promise<unknown> {
  const result = await schema['~standard'].validate(value);
  if (!result.issues) return result.value;
  const message = result.issues
    .map((issue) => {
      const path = (issue.path ?? []).map((p) => (typeof p === 'object' && p !== null ? String(p.key) : String(p))).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
  throw onIssues(message);
}
