// Completion from the flow JSON schema (ivr/flowlang/schema.py, served at
// /ops/editor/schema.json): the keys valid at the cursor's path, enum values (speech
// models...), true/false, and the document's state names where a state is expected.
import {contextAt, stateNames} from "./yamlpath.js";

// Keys whose value is a state name (or the reserved `human`).
const TARGETS = new Set(["next", "then", "goto", "start", "when_closed", "open", "closed"]);
const HUMAN = "human";

// The schema of the value at `path` (keys from the document root).
export function schemaAt(schema, path) {
  let node = schema;
  for (const key of path) {
    if (!node || typeof node !== "object") return null;
    if (node.properties && node.properties[key]) node = node.properties[key];
    else if (node.additionalProperties && typeof node.additionalProperties === "object")
      node = node.additionalProperties;
    else return null;
  }
  return node;
}

function isObject(node) {
  return node && (node.type === "object" || node.properties || node.additionalProperties);
}

function keyOptions(schema, ctx) {
  const node = schemaAt(schema, ctx.path);
  if (!node || !node.properties) return [];
  const required = new Set(node.required || []);
  return Object.entries(node.properties)
    .filter(([name]) => !ctx.present.has(name))
    .map(([name, sub]) => {
      const nested = isObject(sub) && !ctx.flow;
      const pad = " ".repeat(Math.max(0, ctx.indent) + 2);
      return {
        label: name, type: "property",
        detail: (required.has(name) ? "required · " : "") + kindOf(sub),
        info: sub.description || undefined,
        apply: nested ? `${name}:\n${pad}` : `${name}: `,
        boost: required.has(name) ? 1 : 0,
      };
    });
}

function kindOf(node) {
  if (node.enum) return "one of " + node.enum.length;
  if (Array.isArray(node.type)) return node.type.join(" | ");
  return node.type || (isObject(node) ? "object" : "");
}

function valueOptions(schema, ctx, doc) {
  const node = schemaAt(schema, [...ctx.path, ctx.key]);
  if (!node) return [];
  if (node.enum) return node.enum.map((v) => ({label: String(v), type: "enum"}));
  if (node.type === "boolean") return ["true", "false"].map((v) => ({label: v, type: "keyword"}));
  if (TARGETS.has(ctx.key) && node.type === "string") {
    const here = ctx.path[0] === "states" ? ctx.path[1] : "";
    return [HUMAN, ...stateNames(doc)]
      .filter((name) => name !== here)
      .map((name) => ({label: name, type: name === HUMAN ? "keyword" : "variable",
                       detail: name === HUMAN ? "a person (the escape hatch)" : "state"}));
  }
  return [];
}

// A CompletionSource for @codemirror/autocomplete; `getSchema` returns the schema or null.
export function flowCompletions(getSchema) {
  return (context) => {
    const schema = getSchema();
    if (!schema) return null;
    const ctx = contextAt(context.state.doc, context.pos);
    if (!ctx) return null;
    if (!ctx.word && !context.explicit && ctx.kind === "key") return null;
    const options = ctx.kind === "key" ? keyOptions(schema, ctx)
      : valueOptions(schema, ctx, context.state.doc);
    if (!options.length) return null;
    return {from: ctx.from, options, validFor: /^[\w.+-]*$/};
  };
}
