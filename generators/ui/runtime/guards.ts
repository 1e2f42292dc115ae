// Reframe UI runtime: an action's guard, evaluated on the row the UI has.
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).
//
// The guard is the IR's expression (compiler/ir/expr.py) as JSON. The answer is
// true, false, or null when the UI cannot tell (a field it was not sent, an
// aggregate over a relation that was not included): a null guard shows the
// button and the server decides. Numbers compare as numbers: money and
// decimals arrive as strings with at most 4 places, exact in a double for the
// sizes a guard compares.

import type { Row } from "./meta";

export type Expr =
  | { kind: "field"; path: string }
  | { kind: "literal"; value: string | number | boolean | null; literal_type: string }
  | { kind: "binary"; op: "+" | "-" | "*" | "/"; left: Expr; right: Expr }
  | { kind: "compare"; op: "==" | "!=" | "<" | "<=" | ">" | ">="; left: Expr; right: Expr }
  | { kind: "logical"; op: "and" | "or"; operands: Expr[] }
  | { kind: "not"; operand: Expr }
  | { kind: "is_null"; operand: Expr; negated: boolean }
  | { kind: "in"; operand: Expr; values: Expr[] }
  | { kind: "contains"; operand: Expr; needle: Expr }
  | { kind: "aggregate"; fn: "sum" | "count" | "min" | "max" | "avg"; path: string }
  | { kind: "when"; cond: Expr; then: Expr; otherwise: Expr }
  | { kind: "call"; fn: "today" | "now" };

type Value = string | number | boolean | null | unknown[];
/** A value the UI does not have. */
const UNKNOWN = Symbol("unknown");
type Result = Value | typeof UNKNOWN;

/** The guard as a function of the row. */
export function guardOf(expr: unknown): (row: Row) => boolean | null {
  const tree = expr as Expr;
  return (row) => {
    // Like the server: a guard holds only when it is true (null, SQL's unknown, refuses).
    const value = evaluate(tree, row);
    return value === UNKNOWN ? null : value === true;
  };
}

function read(row: Row, path: string): Result {
  let current: unknown = row;
  for (const part of path.split(".")) {
    if (current === null) return null;
    if (typeof current !== "object" || !(part in (current as object))) return UNKNOWN;
    current = (current as Record<string, unknown>)[part];
  }
  return current as Value;
}

function numeric(value: Result): number | typeof UNKNOWN | null {
  if (value === UNKNOWN || value === null) return value;
  const n = typeof value === "number" ? value : Number(value);
  return Number.isFinite(n) ? n : UNKNOWN;
}

function evaluate(e: Expr, row: Row): Result {
  switch (e.kind) {
    case "field":
      return read(row, e.path);
    case "literal":
      return e.value;
    case "call":
      return e.fn === "today" ? new Date().toISOString().slice(0, 10) : new Date().toISOString();
    case "binary":
      return arithmetic(e.op, numeric(evaluate(e.left, row)), numeric(evaluate(e.right, row)));
    case "compare":
      return compare(e.op, evaluate(e.left, row), evaluate(e.right, row));
    case "logical":
      return logical(e.op, e.operands.map((o) => evaluate(o, row)));
    case "not": {
      const value = evaluate(e.operand, row);
      return value === UNKNOWN || value === null ? value : !value;
    }
    case "is_null": {
      const value = evaluate(e.operand, row);
      return value === UNKNOWN ? UNKNOWN : (value === null) !== e.negated;
    }
    case "in": {
      const value = evaluate(e.operand, row);
      if (value === UNKNOWN || value === null) return value;
      const values = e.values.map((v) => evaluate(v, row));
      return values.includes(UNKNOWN) ? UNKNOWN : values.some((v) => compare("==", value, v) === true);
    }
    case "contains": {
      const list = evaluate(e.operand, row);
      const needle = evaluate(e.needle, row);
      if (list === UNKNOWN || needle === UNKNOWN) return UNKNOWN;
      if (list === null || needle === null) return null;
      return Array.isArray(list) ? list.includes(needle) : String(list).includes(String(needle));
    }
    case "aggregate":
      return aggregate(e.fn, e.path, row);
    case "when": {
      const cond = evaluate(e.cond, row);
      if (cond === UNKNOWN) return UNKNOWN;
      return cond === true ? evaluate(e.then, row) : evaluate(e.otherwise, row);
    }
  }
}

function arithmetic(op: string, a: number | null | typeof UNKNOWN, b: number | null | typeof UNKNOWN): Result {
  if (a === UNKNOWN || b === UNKNOWN) return UNKNOWN;
  if (a === null || b === null) return null;
  if (op === "+") return a + b;
  if (op === "-") return a - b;
  if (op === "*") return a * b;
  return b === 0 ? null : a / b;
}

function compare(op: string, a: Result, b: Result): Result {
  if (a === UNKNOWN || b === UNKNOWN) return UNKNOWN;
  if (a === null || b === null) return null;
  const na = numeric(a);
  const nb = numeric(b);
  const numbers = typeof a !== "boolean" && typeof b !== "boolean" && typeof na === "number" && typeof nb === "number";
  const [x, y]: [number | string | boolean, number | string | boolean] = numbers
    ? [na as number, nb as number]
    : [a as string | boolean, b as string | boolean];
  switch (op) {
    case "==":
      return x === y;
    case "!=":
      return x !== y;
    case "<":
      return x < y;
    case "<=":
      return x <= y;
    case ">":
      return x > y;
    default:
      return x >= y;
  }
}

function logical(op: "and" | "or", values: Result[]): Result {
  // Three-valued, like SQL: and is false if any is false; or is true if any is true.
  const decisive = op === "and" ? false : true;
  if (values.includes(decisive)) return decisive;
  if (values.includes(UNKNOWN)) return UNKNOWN;
  if (values.includes(null)) return null;
  return !decisive;
}

function aggregate(fn: string, path: string, row: Row): Result {
  const [relation, ...rest] = path.split(".");
  const rows = row[relation];
  if (!Array.isArray(rows)) return UNKNOWN;
  if (fn === "count") return rows.length;
  const values = rows
    .map((r) => numeric(read(r as Row, rest.join("."))))
    .filter((v): v is number => typeof v === "number");
  if (fn === "sum") return values.reduce((a, b) => a + b, 0);
  if (values.length === 0) return null;
  if (fn === "min") return Math.min(...values);
  if (fn === "max") return Math.max(...values);
  return values.reduce((a, b) => a + b, 0) / values.length;
}
