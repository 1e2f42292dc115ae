// Reframe UI runtime: the model's checks, made in the browser before a form is sent.
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).
//
// The same checks the server makes (generators/api/shapes.py `constraints`), so
// a user sees the message next to the field at once; the server still decides
// and its 422 field errors are shown the same way.

import type { FieldMeta } from "./meta";

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

function empty(value: unknown): boolean {
  return value === null || value === undefined || value === "" || (Array.isArray(value) && value.length === 0);
}

/** Compare two decimal strings or numbers without going through a rounding float for equality. */
function compareNumbers(a: string, b: string): number {
  return Number(a) - Number(b);
}

/** What is wrong with `value` for `field`, or null. */
export function problemWith(field: FieldMeta, value: unknown, required: boolean): string | null {
  if (empty(value)) {
    return required && field.type !== "boolean" && field.type !== "array" ? `${field.label} is required.` : null;
  }
  if (typeof value === "string") {
    if (field.minLength !== undefined && value.length < field.minLength) {
      return `At least ${field.minLength} characters.`;
    }
    if (field.maxLength !== undefined && value.length > field.maxLength) {
      return `At most ${field.maxLength} characters (now ${value.length}).`;
    }
    if (field.pattern !== undefined && !new RegExp(field.pattern).test(value)) {
      return field.help ? `Not the expected format: ${field.help}.` : "Not the expected format.";
    }
    if (field.type === "email" && !EMAIL.test(value)) return "Not an email address.";
    if (field.type === "url" && !/^https?:\/\/\S+$/.test(value)) return "Not a web address (https://…).";
  }
  if (field.type === "integer" || field.type === "decimal" || field.type === "money") {
    const text = String(value);
    if (!/^-?\d+(\.\d+)?$/.test(text)) return "Not a number.";
    if (field.type === "integer" && !/^-?\d+$/.test(text)) return "A whole number.";
    // Trailing zeros do not count: the API sends money with 4 places ("5000.0000").
    const places = text.split(".")[1]?.replace(/0+$/, "").length ?? 0;
    if (field.scale !== undefined && places > field.scale) return `At most ${field.scale} decimal places.`;
    if (field.min !== undefined && compareNumbers(text, field.min) < 0) return `At least ${field.min}.`;
    if (field.max !== undefined && compareNumbers(text, field.max) > 0) return `At most ${field.max}.`;
  }
  if ((field.type === "enum" || field.type === "state") && field.values && !field.values.includes(String(value))) {
    return `One of ${field.values.join(", ")}.`;
  }
  return null;
}
