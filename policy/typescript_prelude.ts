// The runtime of the compiled rules: values as policy/python.py sees them.
//
// A rule's value is null (SQL NULL: unknown), a boolean, a string (text, enum
// values, keys), a bigint (integer), a Decimal (decimal, money), a Day (date) or
// an Instant (datetime). Comparisons with null are unknown (null); a condition
// holds only when it is true.

/** Who is asking; `now` is an ISO datetime, and today() is its UTC date. */
export type Caller = {
  userId: string | null;
  tenantId: string | null;
  roles: readonly string[];
  now: string;
};
/** A row as the API sends it: refs hold a key, or the related row when a rule follows them. */
export type Row = { readonly [field: string]: unknown };
export type Check = (row: Row, caller: Caller) => boolean;
export type Value = null | boolean | string | bigint | Decimal | Day | Instant;
type Truth = boolean | null;
type Op = "==" | "!=" | "<" | "<=" | ">" | ">=";

/** The rule reads through a ref whose related row was not given, only its key. */
export class NeedsRelated extends Error {
  constructor(
    readonly entity: string,
    readonly path: string,
  ) {
    super(`${entity}: the rule reads "${path}"; pass the related row (an object) instead of its key`);
    this.name = "NeedsRelated";
  }
}

/** An exact decimal: units * 10^-scale. Results round to 28 digits, like Python's Decimal. */
export class Decimal {
  constructor(
    readonly units: bigint,
    readonly scale: number,
  ) {}
}

/** A date, as "YYYY-MM-DD". */
export class Day {
  constructor(readonly iso: string) {}
}

/** A moment in time, in microseconds since 1970-01-01T00:00:00Z. */
export class Instant {
  constructor(readonly micros: bigint) {}
}

// Literals and the clock -------------------------------------------------------------

const DECIMAL_TEXT = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const DAY_TEXT = /^(\d{4})-(\d{2})-(\d{2})$/;
const MOMENT_TEXT =
  /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,6})\d*)?)?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
const MICROS_PER_DAY = 86_400_000_000n;

export function dec(text: string): Decimal {
  const parts = DECIMAL_TEXT.exec(text.trim());
  if (parts === null || (parts[2] === "" && (parts[3] ?? "") === "")) {
    throw new TypeError(`not a decimal: ${JSON.stringify(text)}`);
  }
  const fraction = parts[3] ?? "";
  const units = BigInt(`${parts[1]}${parts[2]}${fraction}` || "0");
  return new Decimal(units, fraction.length - Number(parts[4] ?? "0"));
}

export function day(text: string): Day {
  const parts = DAY_TEXT.exec(text);
  if (parts === null || dayNumber(text) === null) {
    throw new TypeError(`not a date: ${JSON.stringify(text)}`);
  }
  return new Day(text);
}

/** Datetimes without an offset are UTC, as in policy/python.py. */
export function instant(text: string): Instant {
  const parts = MOMENT_TEXT.exec(text);
  const days = parts === null ? null : dayNumber(parts[1] ?? "");
  if (parts === null || days === null) {
    throw new TypeError(`not a datetime: ${JSON.stringify(text)}`);
  }
  const [hours, minutes, seconds] = [parts[2], parts[3], parts[4]].map((part) => Number(part ?? "0"));
  const micros = BigInt((parts[5] ?? "").padEnd(6, "0"));
  const clock = BigInt(((hours ?? 0) * 60 + (minutes ?? 0)) * 60 + (seconds ?? 0)) * 1_000_000n;
  return new Instant(BigInt(days) * MICROS_PER_DAY + clock + micros - offsetMicros(parts[6]));
}

export function today(caller: Caller): Day {
  const micros = instant(caller.now).micros;
  const days = micros / MICROS_PER_DAY - (micros % MICROS_PER_DAY < 0n ? 1n : 0n);
  return dayOf(days);
}

/** The date `days` after 1970-01-01; years 1 to 9999, as Python's dates. */
function dayOf(days: bigint): Day {
  const date = new Date(Number(days) * 86_400_000);
  const year = date.getUTCFullYear();
  if (!(year >= 1 && year <= 9999)) throw new RangeError("date value out of range");
  const month = String(date.getUTCMonth() + 1).padStart(2, "0");
  return new Day(`${String(year).padStart(4, "0")}-${month}-${String(date.getUTCDate()).padStart(2, "0")}`);
}

function dayNumber(text: string): number | null {
  const parts = DAY_TEXT.exec(text);
  if (parts === null) return null;
  const [year, month, date] = [parts[1], parts[2], parts[3]].map(Number) as [number, number, number];
  const moment = new Date(0);
  moment.setUTCFullYear(year, month - 1, date);
  const valid = moment.getUTCMonth() === month - 1 && moment.getUTCDate() === date && year >= 1;
  return valid ? Math.round(moment.getTime() / 86_400_000) : null;
}

function offsetMicros(offset: string | undefined): bigint {
  if (offset === undefined || offset.toUpperCase() === "Z") return 0n;
  const digits = offset.replace(":", "");
  const minutes = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5) || "0");
  return BigInt(offset.startsWith("-") ? -minutes : minutes) * 60_000_000n;
}

// Reading the row --------------------------------------------------------------------

/** The row reached by following the refs of `path` from `row`; null when a ref on the way is. */
export function at(row: Row, entity: string, path: string): Row | null {
  let current: Row = row;
  const names = path.split(".");
  for (const [position, name] of names.entries()) {
    const next = current[name] ?? null;
    if (next === null) return null;
    if (typeof next !== "object" || Array.isArray(next)) {
      throw new NeedsRelated(entity, names.slice(0, position + 1).join("."));
    }
    current = next as Row;
  }
  return current;
}

function raw(row: Row | null, name: string): unknown {
  return row === null ? null : (row[name] ?? null);
}

function wrongType(name: string, kind: string, value: unknown): TypeError {
  return new TypeError(`${name}: expected ${kind}, got ${JSON.stringify(value)}`);
}

export function readText(row: Row | null, name: string): string | null {
  const value = raw(row, name);
  if (value === null || typeof value === "string") return value;
  throw wrongType(name, "text", value);
}

/** A ref's key: the field holds the key, or the related row (whose key is `primaryKey`). */
export function readKey(row: Row | null, name: string, primaryKey: string): string | null {
  const value = raw(row, name);
  const key = typeof value === "object" && value !== null ? raw(value as Row, primaryKey) : value;
  if (key === null || typeof key === "string") return key;
  throw wrongType(name, "a key", key);
}

export function readInteger(row: Row | null, name: string): bigint | null {
  const value = raw(row, name);
  if (value === null) return null;
  if (typeof value === "number" || typeof value === "string" || typeof value === "bigint") {
    return BigInt(value);
  }
  throw wrongType(name, "an integer", value);
}

export function readDecimal(row: Row | null, name: string): Decimal | null {
  const value = raw(row, name);
  if (value === null) return null;
  if (typeof value === "string" || typeof value === "number") return dec(String(value));
  throw wrongType(name, "a decimal string", value);
}

export function readBoolean(row: Row | null, name: string): boolean | null {
  const value = raw(row, name);
  if (value === null || typeof value === "boolean") return value;
  throw wrongType(name, "a boolean", value);
}

export function readDay(row: Row | null, name: string): Day | null {
  const value = raw(row, name);
  if (value === null) return null;
  if (typeof value === "string") return day(value);
  throw wrongType(name, "a date", value);
}

export function readInstant(row: Row | null, name: string): Instant | null {
  const value = raw(row, name);
  if (value === null) return null;
  if (typeof value === "string") return instant(value);
  throw wrongType(name, "a datetime", value);
}

/** A value rules can only test for null (json, arrays). */
export function readOpaque(row: Row | null, name: string): unknown {
  return raw(row, name);
}

// The caller -------------------------------------------------------------------------

export function signedIn(caller: Caller): boolean {
  return caller.userId !== null;
}

export function hasRole(caller: Caller, role: string): boolean {
  return caller.roles.includes(role);
}

/** The value is the caller's key (owner(), rel()); an unknown value is not. */
export function isCaller(key: Value, caller: Caller): boolean {
  return compare(key, "==", caller.userId) === true;
}

export function inCallerTenant(key: Value, caller: Caller): boolean {
  return compare(key, "==", caller.tenantId) === true;
}

/** tenant_member(): signed in, and the row is in the caller's tenant. */
export function isTenantMember(key: Value, caller: Caller): boolean {
  return signedIn(caller) && inCallerTenant(key, caller);
}

// Conditions (SQL's three values) ----------------------------------------------------

/** A condition holds only when it is true; anything but a boolean or null is a mistake. */
export function isTrue(value: Value): boolean {
  return condition(value) === true;
}

export function isNull(value: unknown): boolean {
  return value === null;
}

export function sqlAnd(...values: Value[]): Truth {
  return kleene(values, false);
}

export function sqlOr(...values: Value[]): Truth {
  return kleene(values, true);
}

export function sqlNot(value: Value): Truth {
  const truth = condition(value);
  return truth === null ? null : !truth;
}

function kleene(values: Value[], decisive: boolean): Truth {
  const truths = values.map(condition);
  if (truths.includes(decisive)) return decisive;
  return truths.includes(null) ? null : !decisive;
}

function condition(value: Value): Truth {
  if (value === null || typeof value === "boolean") return value;
  throw new TypeError(`a condition gave ${String(value)}, not a boolean`);
}

/** `a op b`; values of different kinds are never equal and have no order (Python's rule). */
export function compare(left: Value, op: Op, right: Value): Truth {
  if (left === null || right === null) return null;
  const order = ordering(left, right);
  if (order === null) {
    if (op === "==" || op === "!=") return op === "!=";
    throw new TypeError(`cannot order ${describe(left)} and ${describe(right)}`);
  }
  return OPS[op](order);
}

const OPS: { readonly [op in Op]: (order: number) => boolean } = {
  "==": (order) => order === 0,
  "!=": (order) => order !== 0,
  "<": (order) => order < 0,
  "<=": (order) => order <= 0,
  ">": (order) => order > 0,
  ">=": (order) => order >= 0,
};

export function isIn(value: Value, candidates: readonly Value[] | (() => readonly Value[])): Truth {
  if (value === null) return null;
  const found = (typeof candidates === "function" ? candidates() : candidates).map((candidate) =>
    compare(value, "==", candidate),
  );
  if (found.includes(true)) return true;
  return found.includes(null) ? null : false;
}

export function contains(text: Value, needle: Value): Truth {
  if (text === null || needle === null) return null;
  if (typeof text !== "string" || typeof needle !== "string") {
    throw new TypeError(`contains() searches text, got ${describe(text)} and ${describe(needle)}`);
  }
  return text.includes(needle);
}

function ordering(left: Value, right: Value): number | null {
  const [a, b] = [numeric(left), numeric(right)];
  if (a !== null && b !== null) return compareDecimals(a, b);
  if (typeof left === "string" && typeof right === "string") return compareText(left, right);
  if (left instanceof Day && right instanceof Day) return compareText(left.iso, right.iso);
  if (left instanceof Instant && right instanceof Instant) {
    return left.micros === right.micros ? 0 : left.micros < right.micros ? -1 : 1;
  }
  return null;
}

/** Code point order (SQL's COLLATE "C"), not JavaScript's UTF-16 order. */
export function compareText(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const [x, y] = [a.charCodeAt(i), b.charCodeAt(i)];
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  // Surrogates (astral code points) sort after U+E000..U+FFFF in code point order.
  if (unit >= 0xd800 && unit < 0xe000) return unit + 0x2000;
  return unit >= 0xe000 ? unit - 0x800 : unit;
}

function describe(value: Value): string {
  if (value instanceof Day) return `date ${value.iso}`;
  if (value instanceof Instant) return "a datetime";
  if (value instanceof Decimal) return `decimal ${show(value)}`;
  return `${typeof value} ${String(value)}`;
}

// Arithmetic: integers are exact, decimals round to 28 significant digits -------------

const PRECISION = 28;

export function plus(left: Value, right: Value): Value {
  if (left === null || right === null) return null;
  if (typeof left === "string" && typeof right === "string") return left + right;
  if (left instanceof Day) return shiftDay(left, "+", right);
  return arithmetic(left, "+", right, (a, b) => a + b);
}

/** Numbers; date - integer is a date and date - date the days between them (PostgreSQL's). */
export function minus(left: Value, right: Value): Value {
  if (left === null || right === null) return null;
  if (left instanceof Day && right instanceof Day) {
    return BigInt(dayNumber(left.iso) ?? 0) - BigInt(dayNumber(right.iso) ?? 0);
  }
  if (left instanceof Day) return shiftDay(left, "-", right);
  return arithmetic(left, "-", right, (a, b) => a - b);
}

function shiftDay(date: Day, op: "+" | "-", days: Value): Day {
  if (typeof days !== "bigint") throw unsupported(date, op, days);
  return dayOf(BigInt(dayNumber(date.iso) ?? 0) + (op === "+" ? days : -days));
}

export function times(left: Value, right: Value): Value {
  if (left === null || right === null) return null;
  const [a, b] = [numeric(left), numeric(right)];
  if (a === null || b === null) throw unsupported(left, "*", right);
  if (isInteger(left) && isInteger(right)) return a.units * b.units;
  return rounded(a.units * b.units, a.scale + b.scale);
}

/** Decimal division; by zero it is null. */
export function divide(left: Value, right: Value): Value {
  if (left === null || right === null) return null;
  const [a, b] = [numeric(left), numeric(right)];
  if (a === null || b === null) throw unsupported(left, "/", right);
  if (b.units === 0n) return null;
  const negative = a.units < 0n !== b.units < 0n;
  // |a / b| = n / d; scaled up so that the quotient has more digits than the precision.
  let n = abs(a.units) * 10n ** BigInt(Math.max(b.scale, 0));
  let d = abs(b.units) * 10n ** BigInt(Math.max(a.scale, 0));
  n *= 10n ** BigInt(Math.max(-a.scale, 0));
  d *= 10n ** BigInt(Math.max(-b.scale, 0));
  const shift = Math.max(0, PRECISION + 1 + digits(d) - digits(n));
  const quotient = (n * 10n ** BigInt(shift)) / d;
  const remainder = (n * 10n ** BigInt(shift)) % d;
  const drop = Math.max(0, digits(quotient) - PRECISION);
  const unit = 10n ** BigInt(drop);
  const kept = roundHalfEven(quotient / unit, 2n * ((quotient % unit) * d + remainder), unit * d);
  return new Decimal(negative ? -kept : kept, shift - drop);
}

function arithmetic(left: Value, op: string, right: Value, f: (a: bigint, b: bigint) => bigint): Value {
  const [a, b] = [numeric(left), numeric(right)];
  if (a === null || b === null) throw unsupported(left, op, right);
  if (isInteger(left) && isInteger(right)) return f(a.units, b.units);
  const scale = Math.max(a.scale, b.scale);
  return rounded(f(scaled(a, scale), scaled(b, scale)), scale);
}

function unsupported(left: Value, op: string, right: Value): TypeError {
  return new TypeError(`policy/python.py cannot compute ${describe(left)} ${op} ${describe(right)}`);
}

function numeric(value: Value): Decimal | null {
  if (value instanceof Decimal) return value;
  if (typeof value === "bigint") return new Decimal(value, 0);
  if (typeof value === "boolean") return new Decimal(value ? 1n : 0n, 0);
  return null;
}

function isInteger(value: Value): boolean {
  return typeof value === "bigint" || typeof value === "boolean";
}

function compareDecimals(a: Decimal, b: Decimal): number {
  const scale = Math.max(a.scale, b.scale);
  const [x, y] = [scaled(a, scale), scaled(b, scale)];
  return x === y ? 0 : x < y ? -1 : 1;
}

function scaled(value: Decimal, scale: number): bigint {
  return value.units * 10n ** BigInt(scale - value.scale);
}

function rounded(units: bigint, scale: number): Decimal {
  const drop = digits(units) - PRECISION;
  if (drop <= 0) return new Decimal(units, scale);
  const unit = 10n ** BigInt(drop);
  const kept = roundHalfEven(abs(units) / unit, 2n * (abs(units) % unit), unit);
  return new Decimal(units < 0n ? -kept : kept, scale - drop);
}

/** `kept` plus one when the dropped part (twice the rest, over `whole`) is past a half. */
function roundHalfEven(kept: bigint, twiceRest: bigint, whole: bigint): bigint {
  if (twiceRest > whole || (twiceRest === whole && kept % 2n === 1n)) return kept + 1n;
  return kept;
}

function digits(value: bigint): number {
  return abs(value).toString().length;
}

function abs(value: bigint): bigint {
  return value < 0n ? -value : value;
}

function show(value: Decimal): string {
  return `${value.units}e${-value.scale}`;
}
