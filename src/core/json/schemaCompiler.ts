import Ajv, { type ValidateFunction } from 'ajv';

// One Ajv per process, built on the first schema: constructing it costs start-up time nobody without a schema pays.
let ajv: Ajv | undefined;

/** Compiles a JSON Schema object; throws when it is not a valid schema. */
export function compileSchema(schema: object): ValidateFunction {
  ajv ??= new Ajv({ allErrors: true, strict: false });
  return ajv.compile(schema);
}
