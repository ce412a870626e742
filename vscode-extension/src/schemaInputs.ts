/**
 * A command's arguments, asked for one at a time, from the JSON Schema the server sends
 * with `logomesh.commands` (pydantic's `model_json_schema()`).
 *
 * Each property becomes a step: enums (and `const`/anyOf-of-const) and booleans are picks,
 * everything else an input box with its default filled in. Every value is checked against
 * the schema here, before anything is sent, so the input box can say why a value fails
 * (the server still validates: this only saves a round trip and names the fix). Pure:
 * no vscode import, so the steps are unit tested in plain Node.
 */
import type { JsonSchema } from "./api";
import { check, deref, expects, typeOf, type Schema } from "./schemaCheck";

/** What a step produced: a value to send, or nothing (the field is left out). */
export type Parsed =
  { kind: "value"; value: unknown } | { kind: "omit" } | { kind: "error"; message: string };

export interface PickOption {
  label: string;
  description?: string;
  /** The JSON to send; undefined leaves the field out. */
  value: unknown;
  omit: boolean;
  picked: boolean;
}

interface BaseStep {
  /** The property name, as the server takes it. */
  name: string;
  /** "git.log: count (1 of 3)". */
  title: string;
  /** What the field is and how to answer. */
  prompt: string;
  required: boolean;
}

export interface PickStep extends BaseStep {
  kind: "pick";
  options: PickOption[];
}

export interface InputStep extends BaseStep {
  kind: "input";
  /** The text the box opens with: the default, or the value given to start from. */
  value: string;
  placeholder: string;
  /** Text -> the JSON to send, or why the text fails the schema. */
  parse(text: string): Parsed;
}

export type Step = PickStep | InputStep;

/** A property with `$ref`s followed and `anyOf [X, null]` unwrapped (the step decides
 * whether it may be left out from `required`, as pydantic does). */
interface Field {
  schema: Schema;
  choices: unknown[] | undefined;
}

/** The argument steps of `command`, in the schema's property order. `start` holds values
 * to begin from (a past run's arguments) instead of the defaults. */
export function buildSteps(
  command: string,
  schema: JsonSchema,
  start: Record<string, unknown> = {},
): Step[] {
  const properties = Object.entries(schema.properties ?? {});
  const required = new Set(schema.required ?? []);
  return properties.map(([name, property], index) => {
    const field = resolve(property, schema);
    const context: StepContext = {
      command,
      name,
      field,
      required: required.has(name),
      title: `${command}: ${name} (${index + 1} of ${properties.length})`,
      start: name in start ? start[name] : property.default,
      root: schema,
    };
    return field.choices !== undefined || typeOf(field.schema) === "boolean"
      ? pickStep(context)
      : inputStep(context);
  });
}

interface StepContext {
  command: string;
  name: string;
  field: Field;
  required: boolean;
  title: string;
  /** The default, or the value to start from; null/undefined: none. */
  start: unknown;
  /** The whole schema, for `$ref`s inside nested values. */
  root: JsonSchema;
}

function resolve(property: JsonSchema, root: JsonSchema): Field {
  let schema: Schema = deref(property, root);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives !== undefined) {
    const options = alternatives.map((option) => deref(option, root));
    const rest = options.filter((option) => option.type !== "null");
    const first = rest[0] ?? {};
    // The field's own description and default win; an enum class's docstring is the fallback.
    const own = {
      description: schema.description ?? first.description,
      default: schema.default,
      title: schema.title ?? first.title,
    };
    if (rest.length > 0 && rest.every((option) => "const" in option)) {
      return { schema: { ...first, ...own }, choices: rest.map((option) => option.const) };
    }
    // Several non-null types (string | array of strings): the first one is asked for.
    schema = { ...first, ...own };
  }
  if (Array.isArray(schema.type)) {
    const types = schema.type.filter((kind) => kind !== "null");
    schema = { ...schema, type: types.length === 1 ? types[0] : types };
  }
  const choices = schema.enum ?? ("const" in schema ? [schema.const] : undefined);
  return { schema: { ...schema, items: schema.items && deref(schema.items, root) }, choices };
}

function pickStep(context: StepContext): PickStep {
  const { field, required } = context;
  const values = field.choices ?? [true, false];
  const start = context.start ?? undefined;
  const options: PickOption[] = values.map((value) => ({
    label: typeof value === "boolean" ? (value ? "Yes" : "No") : String(value),
    description: value === start ? "default" : undefined,
    value,
    omit: false,
    picked: value === start,
  }));
  if (!required && start === undefined) {
    options.unshift({
      label: "(leave out)",
      description: "the command decides",
      value: undefined,
      omit: true,
      picked: true,
    });
  }
  // The default first, so Enter takes it.
  options.sort((a, b) => Number(b.picked) - Number(a.picked));
  return {
    kind: "pick",
    name: context.name,
    title: context.title,
    prompt: describe(context),
    required,
    options,
  };
}

function inputStep(context: StepContext): InputStep {
  const { command, name, field, required } = context;
  const hint = expects(field.schema);
  const optional = required ? "" : "; leave empty to leave it out";
  return {
    kind: "input",
    name,
    title: context.title,
    prompt: `${describe(context)} (${hint}${optional})`,
    required,
    value: context.start === undefined || context.start === null ? "" : show(context.start),
    placeholder: hint,
    parse(text: string): Parsed {
      if (text.trim() === "") {
        return required
          ? { kind: "error", message: `${command} needs ${name}: type ${hint}.` }
          : { kind: "omit" };
      }
      const converted = convert(field.schema, text);
      if (converted.kind !== "value") {
        return converted.kind === "error"
          ? { kind: "error", message: `${command} ${name}: ${converted.message}` }
          : converted;
      }
      const problem = check(field.schema, converted.value, name, context.root);
      return problem === undefined
        ? converted
        : { kind: "error", message: `${command} ${problem}` };
    },
  };
}

function describe(context: StepContext): string {
  const { name, field } = context;
  const about = field.schema.description?.trim();
  return about ? `${name}: ${about}` : name;
}

/** A value as the input box shows it: text as is, a list as `a, b`, the rest as JSON. */
function show(value: unknown): string {
  if (typeof value === "string") {
    return value;
  }
  if (
    Array.isArray(value) &&
    value.every((item) => typeof item !== "object" && !String(item).includes(","))
  ) {
    return value.map(String).join(", ");
  }
  return JSON.stringify(value);
}

/** The text of an input box -> the JSON value of the schema's type (not yet checked). */
function convert(schema: Schema, text: string): Parsed {
  const trimmed = text.trim();
  switch (typeOf(schema)) {
    case "integer":
    case "number":
      return number(schema, trimmed);
    case "boolean":
      return /^(true|yes)$/i.test(trimmed)
        ? { kind: "value", value: true }
        : /^(false|no)$/i.test(trimmed)
          ? { kind: "value", value: false }
          : { kind: "error", message: `"${trimmed}" is not true or false.` };
    case "string":
      return { kind: "value", value: text };
    case "array":
      return list(schema, trimmed);
    case "object":
      return json(trimmed, "a JSON object");
    default: {
      const parsed = json(trimmed, "JSON");
      return parsed.kind === "value" ? parsed : { kind: "value", value: text };
    }
  }
}

function number(schema: Schema, text: string): Parsed {
  const whole = typeOf(schema) === "integer";
  const pattern = whole ? /^[+-]?\d+$/ : /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  const value = Number(text);
  if (!pattern.test(text) || !Number.isFinite(value) || (whole && !Number.isSafeInteger(value))) {
    return { kind: "error", message: `"${text}" is not ${expects(schema)}.` };
  }
  return { kind: "value", value };
}

function list(schema: Schema, text: string): Parsed {
  if (text.startsWith("[")) {
    return json(text, "a JSON array");
  }
  const item = schema.items ?? {};
  const values: unknown[] = [];
  for (const part of text
    .split(",")
    .map((piece) => piece.trim())
    .filter((piece) => piece !== "")) {
    const converted =
      typeOf(item) === undefined ? { kind: "value" as const, value: part } : convert(item, part);
    if (converted.kind === "error") {
      return converted;
    }
    if (converted.kind === "value") {
      values.push(converted.value);
    }
  }
  return { kind: "value", value: values };
}

function json(text: string, what: string): Parsed {
  try {
    return { kind: "value", value: JSON.parse(text) as unknown };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { kind: "error", message: `this is not ${what} (${reason}).` };
  }
}
