/**
 * What a value must be, by its JSON Schema (pydantic's `model_json_schema()`): the checker
 * the argument input boxes run on every keystroke, and the descriptions of what to type
 * that their prompts and error messages share. It applies the keywords pydantic enforces
 * on the server (type, enum/const, bounds, lengths, pattern, required and unknown keys),
 * so a value is refused here with the same reason before it is sent. Pure: no vscode import.
 */
import type { JsonSchema } from "./api";

/** The schema keywords this module reads beyond the shared `JsonSchema` type. */
export type Schema = JsonSchema & { oneOf?: JsonSchema[]; minItems?: number; maxItems?: number };

/** `{"$ref": "#/$defs/X"}` (or pydantic v1's `allOf: [{$ref}]`) -> the definition, merged
 * with the referring schema's own keywords (description, default). */
export function deref(schema: JsonSchema, root: JsonSchema): Schema {
  const single = schema.allOf?.length === 1 ? schema.allOf[0] : undefined;
  const ref = schema.$ref ?? single?.$ref;
  if (ref === undefined) {
    return schema;
  }
  const name = ref.startsWith("#/$defs/") ? ref.slice("#/$defs/".length) : undefined;
  const target = name === undefined ? undefined : root.$defs?.[name];
  const own: Schema = { ...schema };
  delete own.$ref;
  delete own.allOf;
  return target === undefined ? own : { ...deref(target, root), ...own };
}

export function typeOf(schema: Schema): string | undefined {
  return Array.isArray(schema.type) ? schema.type[0] : schema.type;
}

/** How to type a value of this schema, for the prompt and the error messages. */
export function expects(schema: Schema): string {
  switch (typeOf(schema)) {
    case "integer":
      return "a whole number" + range(schema);
    case "number":
      return "a number" + range(schema);
    case "string":
      return "text" + lengths(schema.minLength, schema.maxLength, "character");
    case "array":
      return `values separated by commas${schema.items && typeOf(schema.items) && typeOf(schema.items) !== "string" ? ` (each ${expects(schema.items)})` : ""}, or a JSON array`;
    case "object":
      return objectHint(schema);
    case "boolean":
      return "true or false";
    default:
      return "JSON, or text";
  }
}

export function objectHint(schema: Schema): string {
  const keys = Object.keys(schema.properties ?? {});
  return keys.length > 0
    ? `a JSON object such as {${keys.map((key) => `"${key}": ...`).join(", ")}}`
    : "a JSON object";
}

function range(schema: Schema): string {
  const low = schema.minimum ?? schema.exclusiveMinimum;
  const high = schema.maximum ?? schema.exclusiveMaximum;
  const above = schema.exclusiveMinimum !== undefined ? `above ${low}` : `at least ${low}`;
  const below = schema.exclusiveMaximum !== undefined ? `below ${high}` : `at most ${high}`;
  if (low !== undefined && high !== undefined) {
    return schema.exclusiveMinimum === undefined && schema.exclusiveMaximum === undefined
      ? ` from ${low} to ${high}`
      : ` ${above} and ${below}`;
  }
  return low !== undefined ? ` ${above}` : high !== undefined ? ` ${below}` : "";
}

function lengths(min: number | undefined, max: number | undefined, unit: string): string {
  if (min !== undefined && max !== undefined) {
    return `, ${min} to ${max} ${unit}s`;
  }
  if (min !== undefined && min > 0) {
    return `, at least ${min} ${unit}${min === 1 ? "" : "s"}`;
  }
  return max !== undefined ? `, at most ${max} ${unit}s` : "";
}

/** Why `value` fails `schema` ("count must be at most 500; ..."), or undefined. The same
 * keywords pydantic enforces: type, enum/const, bounds, lengths, pattern, required keys. */
export function check(
  given: Schema,
  value: unknown,
  path: string,
  root: JsonSchema = given,
): string | undefined {
  const schema = deref(given, root);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives !== undefined) {
    const problems = alternatives.map((option) => check(option, value, path, root));
    if (problems.includes(undefined)) {
      return undefined;
    }
    // Say what the real alternative wants, not that null would also do.
    const real = alternatives.findIndex((option) => deref(option, root).type !== "null");
    return problems[Math.max(real, 0)];
  }
  if (value === null) {
    return acceptsNull(schema)
      ? undefined
      : `${path} may not be empty (null): type ${expects(schema)}.`;
  }
  const choices = schema.enum ?? ("const" in schema ? [schema.const] : undefined);
  if (choices !== undefined) {
    return choices.includes(value)
      ? undefined
      : `${path} must be one of ${choices.map((choice) => JSON.stringify(choice)).join(", ")}; got ${JSON.stringify(value)}.`;
  }
  const kind = typeOf(schema);
  if (kind !== undefined && !hasType(kind, value)) {
    return `${path} must be ${expects(schema)}; got ${JSON.stringify(value)}.`;
  }
  if (typeof value === "number") {
    return checkNumber(schema, value, path);
  }
  if (typeof value === "string") {
    return checkString(schema, value, path);
  }
  if (Array.isArray(value)) {
    return checkArray(schema, value, path, root);
  }
  if (typeof value === "object") {
    return checkObject(schema, value as Record<string, unknown>, path, root);
  }
  return undefined;
}

function acceptsNull(schema: Schema): boolean {
  const kinds = Array.isArray(schema.type) ? schema.type : [schema.type];
  return (
    kinds.includes("null") ||
    (schema.type === undefined && schema.enum === undefined && !("const" in schema))
  );
}

function hasType(kind: string, value: unknown): boolean {
  switch (kind) {
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "string":
      return typeof value === "string";
    case "boolean":
      return typeof value === "boolean";
    case "array":
      return Array.isArray(value);
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    case "null":
      return value === null;
    default:
      return true;
  }
}

function checkNumber(schema: Schema, value: number, path: string): string | undefined {
  const fails =
    (schema.minimum !== undefined && value < schema.minimum) ||
    (schema.maximum !== undefined && value > schema.maximum) ||
    (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) ||
    (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum);
  return fails ? `${path} must be ${expects(schema)}; got ${value}.` : undefined;
}

function checkString(schema: Schema, value: string, path: string): string | undefined {
  const length = [...value].length; // code points, as Python's len() counts
  if (
    (schema.minLength !== undefined && length < schema.minLength) ||
    (schema.maxLength !== undefined && length > schema.maxLength)
  ) {
    return `${path} must be ${expects(schema)}; this has ${length}.`;
  }
  if (schema.pattern !== undefined) {
    const pattern = compile(schema.pattern);
    if (pattern !== undefined && !pattern.test(value)) {
      return `${path} must match the pattern ${schema.pattern}; "${value}" does not.`;
    }
  }
  return undefined;
}

/** JSON Schema's `pattern` in JavaScript; one that only Python's regex dialect reads is
 * left to the server to check. */
function compile(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern, "u");
  } catch {
    return undefined;
  }
}

function checkArray(
  schema: Schema,
  value: unknown[],
  path: string,
  root: JsonSchema,
): string | undefined {
  if (
    (schema.minItems !== undefined && value.length < schema.minItems) ||
    (schema.maxItems !== undefined && value.length > schema.maxItems)
  ) {
    return `${path} must have${lengths(schema.minItems, schema.maxItems, "item").slice(1)}; this has ${value.length}.`;
  }
  for (const [index, item] of value.entries()) {
    const problem =
      schema.items === undefined ? undefined : check(schema.items, item, `${path}[${index}]`, root);
    if (problem !== undefined) {
      return problem;
    }
  }
  return undefined;
}

function checkObject(
  schema: Schema,
  value: Record<string, unknown>,
  path: string,
  root: JsonSchema,
): string | undefined {
  for (const key of schema.required ?? []) {
    if (!(key in value)) {
      return `${path} needs the key "${key}": ${objectHint(schema)}.`;
    }
  }
  const properties = schema.properties ?? {};
  for (const [key, item] of Object.entries(value)) {
    const property = properties[key];
    if (property === undefined) {
      if (schema.additionalProperties === false) {
        return `${path} has no key "${key}"; it takes ${Object.keys(properties).join(", ") || "none"}.`;
      }
      continue;
    }
    const problem = check(property, item, `${path}.${key}`, root);
    if (problem !== undefined) {
      return problem;
    }
  }
  return undefined;
}
