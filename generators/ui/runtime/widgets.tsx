// Reframe UI runtime: the built-in widgets, one Input and one Display per widget name.
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).
//
// Values are the API's JSON from the server to the control and back: money and
// decimals stay strings ("12.50"), never a float; dates are "YYYY-MM-DD"; a ref
// is its key, or the row when included. Widgets edit and show values only: the
// form checks them and renders the labels (`<label id={`${id}-label`} htmlFor={id}>`).
// Text a control cannot turn into a value (`12,5x` in a money field, broken
// JSON) stays as typed, is reported next to the control and through the
// element's `setCustomValidity`, and never reaches `onChange`.

import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useRef,
  useState,
  type ComponentProps,
  type ComponentType,
  type KeyboardEvent,
  type MouseEvent,
  type ReactNode,
} from "react";
import { keyOf, titleOf, useList, useRow, type ListParams } from "./data";
import { fieldOf, type EntityMeta, type FieldMeta, type FieldType, type Row } from "./meta";
import { defaultWidget, type DisplayProps, type InputProps, type Widget } from "./registry";
import { navigate } from "./router";

// Entities by name ----------------------------------------------------------------------

/** Finds an entity's metadata by name (the app provides it from its `AppMeta`). */
export type EntityLookup = (name: string) => EntityMeta | undefined;

const noLookup: EntityLookup = () => {
  throw new Error(
    "Reframe widgets: no EntityLookupContext above this widget; " +
      "wrap the app in <EntityLookupContext value={(name) => entitiesByName.get(name)}>.",
  );
};

/** Where reference widgets find their target entity. */
export const EntityLookupContext = createContext<EntityLookup>(noLookup);

/** The metadata of the entity called `name`; throws when the app does not know it. */
export function useEntityMeta(name: string): EntityMeta {
  const meta = useContext(EntityLookupContext)(name);
  if (!meta) throw new Error(`Reframe widgets: EntityLookupContext knows no entity named "${name}".`);
  return meta;
}

function targetOf(field: FieldMeta): string {
  if (!field.target) throw new Error(`Reframe widgets: field "${field.name}" (${field.type}) has no target entity.`);
  return field.target;
}

// Links ---------------------------------------------------------------------------------

export type LinkProps = ComponentProps<"a"> & { readonly href: string };

/** An <a href> that navigates in the app on a plain left click, and is a normal link otherwise. */
export function Link({ onClick, ...rest }: LinkProps) {
  const follow = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    const modified = event.metaKey || event.ctrlKey || event.shiftKey || event.altKey;
    if (event.defaultPrevented || event.button !== 0 || modified) return;
    if ((rest.target && rest.target !== "_self") || rest.download !== undefined) return;
    const url = new URL(rest.href, window.location.href);
    if (url.origin !== window.location.origin) return;
    event.preventDefault();
    navigate(url.pathname + url.search + url.hash);
  };
  return <a {...rest} onClick={follow} />;
}

// Where a value is shown -------------------------------------------------------------------

/** "list": a table cell (long values shortened, no fetching); "detail": everything. */
export type DisplayMode = "list" | "detail";

/** Lists wrap their cells in `<DisplayModeContext value="list">`; the default is "detail". */
export const DisplayModeContext = createContext<DisplayMode>("detail");

// Shared pieces -----------------------------------------------------------------------------

type Marks = { readonly "data-widget": string; readonly "data-field": string };

function marks(name: string, entity: EntityMeta, field: FieldMeta): Marks {
  return { "data-widget": name, "data-field": `${entity.name}.${field.name}` };
}

function ids(...parts: (string | false | null | undefined)[]): string | undefined {
  const joined = parts.filter(Boolean).join(" ");
  return joined || undefined;
}

/** The attributes every form control takes from its props. */
function controlAttrs(p: InputProps, problem?: string | null) {
  return {
    id: p.id,
    "aria-describedby": ids(p.describedBy, problem && problemId(p.id)),
    "aria-invalid": p.error || problem ? true : undefined,
    required: p.required || undefined,
  };
}

const problemId = (id: string) => `${id}-problem`;
const labelId = (id: string) => `${id}-label`;

function isEmpty(value: unknown): value is null | undefined | "" {
  return value === null || value === undefined || value === "";
}

function isRow(value: unknown): value is Row {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function asText(value: unknown): string {
  return isEmpty(value) ? "" : String(value);
}

/** "past_due" -> "Past due"; values that are not snake_case are shown as they are. */
export function humanise(value: string): string {
  if (!/^[a-z][a-z0-9_]*$/.test(value)) return value;
  const words = value.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A uuid's first eight characters; other keys (codes, numbers) whole. */
function shortKey(key: string): string {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(key) ? `${key.slice(0, 8)}…` : key;
}

/** At most `max` characters (whole code points), with an ellipsis when cut. */
function clip(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("").trimEnd()}…`;
}

const LIST_TEXT = 80;

// Numbers, dates and times ----------------------------------------------------------------

// The browser's locale, as the rest of the UI.
const NUMBER = new Intl.NumberFormat();
const POINT = NUMBER.formatToParts(0.5).find((part) => part.type === "decimal")?.value ?? ".";
const MINUS = NUMBER.formatToParts(-1).find((part) => part.type === "minusSign")?.value ?? "-";
const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?$/;

/** A decimal string rounded half away from zero to `places` and grouped the locale's way; exact, never through a float. */
export function formatDecimal(text: string, places: number): string {
  const match = DECIMAL.exec(text.trim());
  if (!match || (!match[2] && !match[3])) return text;
  const [, sign, whole = "", fraction = ""] = match;
  const scale = 10n ** BigInt(places);
  const digits = fraction.padEnd(places + 1, "0");
  let units = BigInt(whole || "0") * scale + BigInt(digits.slice(0, places) || "0");
  if (digits.charAt(places) >= "5") units += 1n;
  const point = places > 0 ? POINT + (units % scale).toString().padStart(places, "0") : "";
  return (sign === "-" && units !== 0n ? MINUS : "") + NUMBER.format(units / scale) + point;
}

export function formatMoney(value: unknown): string {
  if (typeof value === "number") return formatDecimal(value.toFixed(4), 2);
  return formatDecimal(String(value), 2);
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** A local calendar date; `new Date("2026-11-21")` would be UTC midnight, the day before west of Greenwich. */
function localDate(text: string): Date | null {
  const match = /^(\d{4,})-(\d{2})-(\d{2})/.exec(text);
  if (!match) return null;
  const date = new Date(2000, 0, 1);
  date.setFullYear(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return date;
}

export function formatDate(value: unknown): string {
  const text = String(value);
  return localDate(text)?.toLocaleDateString() ?? text;
}

export function formatDateTime(value: unknown): string {
  const date = new Date(String(value));
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

function localStamp(date: Date, seconds: boolean): string {
  const day = `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  return `${day}T${time}${seconds ? `:${pad(date.getSeconds())}` : ""}`;
}

/** An ISO datetime as a datetime-local input's value, in the browser's time zone. */
function toLocalInput(value: unknown): string {
  if (typeof value !== "string") return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : localStamp(date, date.getSeconds() !== 0);
}

/** A datetime-local value as ISO 8601 with the browser's offset at that moment ("2026-11-20T10:00:00+01:00"). */
function fromLocalInput(text: string): string | null {
  const match = /^(\d{4,})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(text);
  if (!match) return null;
  const [, year, month, day, hours, minutes, seconds = "0"] = match;
  const date = new Date(2000, 0, 1);
  date.setFullYear(Number(year), Number(month) - 1, Number(day));
  date.setHours(Number(hours), Number(minutes), Number(seconds), 0);
  const offset = -date.getTimezoneOffset();
  const zone =
    offset === 0
      ? "Z"
      : `${offset > 0 ? "+" : "-"}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return localStamp(date, true) + zone;
}

function formatScalar(type: FieldType | undefined, value: unknown): string {
  switch (type) {
    case "money":
      return formatMoney(value);
    case "integer":
      return typeof value === "number" ? NUMBER.format(value) : String(value);
    case "date":
      return formatDate(value);
    case "datetime":
      return formatDateTime(value);
    case "boolean":
      return value ? "Yes" : "No";
    case "enum":
    case "state":
      return humanise(String(value));
    case "json":
      return JSON.stringify(value);
    default:
      return String(value);
  }
}

// Text that parses into a value --------------------------------------------------------

type Parsed<V> = { readonly ok: true; readonly value: V } | { readonly ok: false; readonly problem: string };

const ok = <V,>(value: V): Parsed<V> => ({ ok: true, value });
const bad = (problem: string): Parsed<never> => ({ ok: false, problem });

type TextCodec<V> = {
  readonly format: (value: unknown) => string;
  readonly parse: (text: string) => Parsed<V>;
  /** Whether a parsed value is the value the form holds (so typing "12.5" over "12.5000" changes nothing). */
  readonly same: (parsed: V, value: unknown) => boolean;
};

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * The text of a control that parses into its value: kept as typed while it
 * does not parse, replaced when the value changes from outside (a reset, a
 * reload). A problem is shown by the caller and set as the element's custom
 * validity, so `form.checkValidity()` sees it.
 */
function useParsedText<V>(p: InputProps, codec: TextCodec<V>) {
  const stamp = JSON.stringify(p.value ?? null);
  const [text, setText] = useState(() => codec.format(p.value));
  const [seen, setSeen] = useState(stamp);
  const [problem, setProblem] = useState<string | null>(null);
  if (seen !== stamp) {
    // Adjusting state while rendering: React re-renders at once, before painting.
    setSeen(stamp);
    const parsed = codec.parse(text);
    if (!parsed.ok || !codec.same(parsed.value, p.value)) {
      setText(codec.format(p.value));
      setProblem(null);
    }
  }

  const element = useRef<HTMLInputElement | HTMLTextAreaElement | null>(null);
  const ref = useCallback((node: HTMLInputElement | HTMLTextAreaElement | null) => {
    element.current = node;
  }, []);
  useEffect(() => element.current?.setCustomValidity(problem ?? ""), [problem]);

  const edit = (next: string) => {
    setText(next);
    const parsed = codec.parse(next);
    setProblem(parsed.ok ? null : parsed.problem);
    if (parsed.ok && !codec.same(parsed.value, p.value)) p.onChange(parsed.value);
  };
  /** On blur: show a valid value in its usual form ("7" for "007", money with two places). */
  const tidy = () => {
    const parsed = codec.parse(text);
    if (parsed.ok) setText(codec.format(parsed.value));
  };
  return { text, problem, edit, tidy, ref };
}

function Problem(props: { readonly id: string; readonly message: string | null }) {
  // Always rendered: a live region must exist before its text changes to be announced.
  return (
    <span id={problemId(props.id)} className="rf-problem" aria-live="polite">
      {props.message}
    </span>
  );
}

const integerCodec: TextCodec<number | null> = {
  format: (value) => (typeof value === "number" ? String(value) : asText(value)),
  parse: (text) => {
    const trimmed = text.replace(/[\s_]/g, "");
    if (!trimmed) return ok(null);
    if (!/^[+-]?\d+$/.test(trimmed)) return bad("Enter a whole number, like 42.");
    const value = Number(trimmed);
    return Number.isSafeInteger(value) ? ok(value) : bad("This number is too large.");
  },
  same: (parsed, value) => parsed === (value ?? null),
};

/**
 * Accept what people type: spaces and underscores are dropped; with both "."
 * and "," the last one is the point; a lone "," is the point where the locale
 * writes it so, and thousands ("1,234,567") where it does not.
 */
function normaliseDecimal(raw: string): string {
  const text = raw.replace(/[\s_'\u00a0\u202f]/g, "");
  const dot = text.lastIndexOf(".");
  const comma = text.lastIndexOf(",");
  if (dot >= 0 && comma >= 0) {
    const [group, point] = dot > comma ? [",", "."] : [".", ","];
    return text.split(group).join("").replace(point, ".");
  }
  if (comma >= 0) {
    if (POINT === "," && text.indexOf(",") === comma) return text.replace(",", ".");
    if (/^[+-]?\d{1,3}(,\d{3})+$/.test(text)) return text.replace(/,/g, "");
  }
  if (POINT === "," && /^[+-]?\d{1,3}(\.\d{3}){2,}$/.test(text)) return text.replace(/\./g, "");
  return text;
}

/** A decimal string without a sign for zero, leading zeros or trailing zeros after the point: "-0012.500" -> "-12.5". */
function canonicalDecimal(text: string): string | null {
  const match = DECIMAL.exec(text);
  if (!match || (!match[2] && !match[3])) return null;
  const [, sign, whole = "", fraction = ""] = match;
  const integer = whole.replace(/^0+(?=\d)/, "") || "0";
  const decimals = fraction.replace(/0+$/, "");
  const zero = integer === "0" && !decimals;
  return `${sign === "-" && !zero ? "-" : ""}${integer}${decimals ? `.${decimals}` : ""}`;
}

function decimalCodec(money: boolean): TextCodec<string | null> {
  // Money shows and sends at least two places ("12.50"); the server keeps its own scale.
  const places = (text: string) => {
    if (!money) return text;
    const [whole, fraction = ""] = text.split(".");
    return `${whole}.${fraction.padEnd(2, "0")}`;
  };
  return {
    format: (value) => {
      if (isEmpty(value)) return "";
      const canonical = canonicalDecimal(String(value));
      return canonical === null ? String(value) : money ? places(canonical) : String(value);
    },
    parse: (text) => {
      const normal = normaliseDecimal(text);
      if (!normal) return ok(null);
      const canonical = canonicalDecimal(normal);
      return canonical === null ? bad(money ? "Enter an amount, like 12.50." : "Enter a number, like 0.25.") : ok(places(canonical));
    },
    same: (parsed, value) =>
      parsed === null || isEmpty(value) ? parsed === null && isEmpty(value) : canonicalDecimal(parsed) === canonicalDecimal(String(value)),
  };
}

const moneyCodec = decimalCodec(true);
const plainDecimalCodec = decimalCodec(false);

const jsonCodec: TextCodec<unknown> = {
  format: (value) => (value === null || value === undefined ? "" : JSON.stringify(value, null, 2)),
  parse: (text) => {
    if (!text.trim()) return ok(null);
    try {
      return ok(JSON.parse(text) as unknown);
    } catch (error) {
      return bad(`Invalid JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
  },
  same: sameJson,
};

// Controls: one form control each, without the widget's root -----------------------------------
// Arrays reuse them for their items, passing `ariaLabel` ("Images 2") instead of a <label>.

type ControlProps = InputProps & { readonly ariaLabel?: string };

const INPUT_TYPE: Readonly<Record<string, string>> = { email: "email", url: "url" };
const CODE_LIKE = new Set(["slug", "uuid", "email", "url"]);

function TextLine(props: ControlProps & { readonly kind: string }) {
  const { kind, ...p } = props;
  const code = CODE_LIKE.has(kind);
  return (
    <input
      {...controlAttrs(p)}
      aria-label={p.ariaLabel}
      className={kind === "uuid" ? "rf-control rf-mono" : "rf-control"}
      type={INPUT_TYPE[kind] ?? "text"}
      value={asText(p.value)}
      onChange={(event) => p.onChange(event.target.value === "" ? null : event.target.value)}
      readOnly={p.readOnly}
      autoComplete="off"
      spellCheck={code ? false : undefined}
      autoCapitalize={code ? "none" : undefined}
    />
  );
}

function TextArea(props: ControlProps & { readonly rows: number }) {
  const { rows, ...p } = props;
  return (
    <textarea
      {...controlAttrs(p)}
      aria-label={p.ariaLabel}
      className="rf-control"
      rows={rows}
      value={asText(p.value)}
      onChange={(event) => p.onChange(event.target.value === "" ? null : event.target.value)}
      readOnly={p.readOnly}
    />
  );
}

/** A <textarea> for the textarea and richtext widgets, and for long text that has no pattern. */
function multiline(widget: string, field: FieldMeta): boolean {
  if (widget === "textarea" || widget === "richtext") return true;
  return widget === "text" && field.type === "text" && !field.pattern && (field.maxLength ?? Infinity) > 200;
}

function ParsedLine<V>(props: ControlProps & { readonly codec: TextCodec<V>; readonly inputMode: "numeric" | "decimal" }) {
  const { codec, inputMode, ...p } = props;
  const draft = useParsedText(p, codec);
  return (
    <>
      <input
        {...controlAttrs(p, draft.problem)}
        ref={draft.ref}
        aria-label={p.ariaLabel}
        className="rf-control rf-number"
        type="text"
        inputMode={inputMode}
        value={draft.text}
        onChange={(event) => draft.edit(event.target.value)}
        onBlur={draft.tidy}
        readOnly={p.readOnly}
        autoComplete="off"
      />
      <Problem id={p.id} message={draft.problem} />
    </>
  );
}

function IntegerControl(p: ControlProps) {
  return <ParsedLine {...p} codec={integerCodec} inputMode="numeric" />;
}

function DecimalControl(p: ControlProps) {
  return <ParsedLine {...p} codec={p.field.type === "money" ? moneyCodec : plainDecimalCodec} inputMode="decimal" />;
}

function DateControl(p: ControlProps) {
  return (
    <input
      {...controlAttrs(p)}
      aria-label={p.ariaLabel}
      className="rf-control"
      type="date"
      value={typeof p.value === "string" ? p.value.slice(0, 10) : ""}
      // A half-typed date reads as "": the value is empty until the date is whole.
      onChange={(event) => p.onChange(event.target.value || null)}
      readOnly={p.readOnly}
    />
  );
}

function DateTimeControl(p: ControlProps) {
  const local = toLocalInput(p.value);
  return (
    <input
      {...controlAttrs(p)}
      aria-label={p.ariaLabel}
      className="rf-control"
      type="datetime-local"
      step={local.length > 16 ? 1 : undefined}
      value={local}
      onChange={(event) => p.onChange(fromLocalInput(event.target.value))}
      readOnly={p.readOnly}
    />
  );
}

function BooleanControl(p: ControlProps) {
  if (!p.field.nullable) {
    // No `required` attribute: on a checkbox it would mean "must be ticked".
    return (
      <input
        {...controlAttrs(p)}
        required={undefined}
        aria-label={p.ariaLabel}
        className="rf-check"
        type="checkbox"
        checked={p.value === true}
        onChange={(event) => p.onChange(event.target.checked)}
        disabled={p.readOnly}
      />
    );
  }
  return (
    <select
      {...controlAttrs(p)}
      aria-label={p.ariaLabel}
      className="rf-control"
      value={p.value === true ? "true" : p.value === false ? "false" : ""}
      onChange={(event) => p.onChange(event.target.value === "" ? null : event.target.value === "true")}
      disabled={p.readOnly}
    >
      <option value="">—</option>
      <option value="true">Yes</option>
      <option value="false">No</option>
    </select>
  );
}

function SelectControl(p: ControlProps) {
  const values = p.field.values ?? [];
  const current = typeof p.value === "string" ? p.value : "";
  // A value the model no longer lists is still shown, not silently replaced.
  const options = current && !values.includes(current) ? [...values, current] : values;
  return (
    <select
      {...controlAttrs(p)}
      aria-label={p.ariaLabel}
      className="rf-control"
      value={current}
      onChange={(event) => p.onChange(event.target.value === "" ? null : event.target.value)}
      disabled={p.readOnly}
    >
      {(p.field.nullable || !current) && <option value="">{p.field.nullable ? "—" : "Choose…"}</option>}
      {options.map((value) => (
        <option key={value} value={value}>
          {humanise(value)}
        </option>
      ))}
    </select>
  );
}

function JsonControl(p: ControlProps) {
  const draft = useParsedText(p, jsonCodec);
  return (
    <>
      <textarea
        {...controlAttrs(p, draft.problem)}
        ref={draft.ref}
        aria-label={p.ariaLabel}
        className="rf-control rf-mono"
        rows={6}
        value={draft.text}
        onChange={(event) => draft.edit(event.target.value)}
        onBlur={draft.tidy}
        readOnly={p.readOnly}
        spellCheck={false}
      />
      <Problem id={p.id} message={draft.problem} />
    </>
  );
}

function Badge(props: { readonly value: string; readonly marks?: Marks; readonly id?: string; readonly describedBy?: string }) {
  return (
    <span {...props.marks} id={props.id} aria-describedby={props.describedBy} className="rf-badge" data-value={props.value}>
      {humanise(props.value)}
    </span>
  );
}

/** A state changes only through actions: the form shows it, never edits it. */
function StateControl(p: ControlProps) {
  const value = isEmpty(p.value) ? p.field.default : p.value;
  if (typeof value !== "string") return <Empty id={p.id} />;
  return <Badge value={value} id={p.id} describedBy={p.describedBy} />;
}

// Arrays --------------------------------------------------------------------------------

/** An array of enum values: one checkbox per value, sent in the model's order. */
function EnumSetControl(p: ControlProps) {
  const values = p.field.values ?? [];
  const chosen = new Set(Array.isArray(p.value) ? p.value.map(String) : []);
  const toggle = (value: string) => {
    const next = new Set(chosen);
    if (next.has(value)) next.delete(value);
    else next.add(value);
    p.onChange(values.filter((v) => next.has(v)));
  };
  return (
    <div id={p.id} role="group" aria-labelledby={labelId(p.id)} aria-describedby={p.describedBy} data-invalid={p.error ? true : undefined} className="rf-checks">
      {values.map((value, i) => (
        <label key={value} className="rf-check-label">
          <input
            id={`${p.id}-${i}`}
            className="rf-check"
            type="checkbox"
            checked={chosen.has(value)}
            onChange={() => toggle(value)}
            disabled={p.readOnly}
          />
          {humanise(value)}
        </label>
      ))}
    </div>
  );
}

const ITEM_CONTROLS: Partial<Record<FieldType, ComponentType<ControlProps>>> = {
  integer: IntegerControl,
  decimal: DecimalControl,
  money: DecimalControl,
  date: DateControl,
  datetime: DateTimeControl,
  boolean: BooleanControl,
  json: JsonControl,
};

function ItemControl(p: ControlProps) {
  const Control = ITEM_CONTROLS[p.field.type];
  return Control ? <Control {...p} /> : <TextLine {...p} kind={p.field.type} />;
}

let itemSerial = 0;
const freshKeys = (n: number) => Array.from({ length: n }, () => itemSerial++);

/** Stable React keys for the items of an array of scalars, so removing one keeps the others' drafts and focus. */
function useItemKeys(length: number): [readonly number[], (index: number) => void] {
  const [keys, setKeys] = useState<readonly number[]>(() => freshKeys(length));
  let current = keys;
  if (keys.length !== length) {
    current = length < keys.length ? keys.slice(0, length) : [...keys, ...freshKeys(length - keys.length)];
    setKeys(current);
  }
  return [current, (index) => setKeys(current.filter((_, i) => i !== index))];
}

/** An array of scalars: one row per item with its own control, add and remove buttons. */
function ListControl(p: ControlProps) {
  const items: readonly unknown[] = Array.isArray(p.value) ? p.value : [];
  const [keys, forget] = useItemKeys(items.length);
  const focusLast = useRef(false);
  const item: FieldMeta = { ...p.field, type: p.field.of ?? "text", widget: p.field.of ?? "text", nullable: true, required: false };

  useEffect(() => {
    if (!focusLast.current) return;
    focusLast.current = false;
    document.getElementById(`${p.id}-${keys[keys.length - 1]}`)?.focus();
  }, [keys, p.id]);

  const set = (index: number, value: unknown) => p.onChange(items.map((old, i) => (i === index ? value : old)));
  const remove = (index: number) => {
    forget(index);
    p.onChange(items.filter((_, i) => i !== index));
  };
  const add = () => {
    focusLast.current = true;
    p.onChange([...items, null]);
  };

  return (
    <div id={p.id} role="group" aria-labelledby={labelId(p.id)} aria-describedby={p.describedBy} data-invalid={p.error ? true : undefined} className="rf-list-editor">
      {items.length > 0 && (
        <ol className="rf-items">
          {items.map((value, i) => (
            <li key={keys[i]} className="rf-item">
              <ItemControl
                entity={p.entity}
                field={item}
                value={value}
                onChange={(next) => set(i, next)}
                id={`${p.id}-${keys[i]}`}
                readOnly={p.readOnly}
                required={false}
                ariaLabel={`${p.field.label} ${i + 1}`}
              />
              {!p.readOnly && (
                <button type="button" className="rf-button rf-remove" aria-label={`Remove ${p.field.label} ${i + 1}`} onClick={() => remove(i)}>
                  Remove
                </button>
              )}
            </li>
          ))}
        </ol>
      )}
      {!p.readOnly && (
        <button type="button" className="rf-button rf-add" onClick={add}>
          Add {p.field.label.toLowerCase()}
        </button>
      )}
    </div>
  );
}

function ArrayControl(p: ControlProps) {
  return p.field.of === "enum" ? <EnumSetControl {...p} /> : <ListControl {...p} />;
}

// References ---------------------------------------------------------------------------------

/** A ref's key: the key itself, or the included row's. */
function refKey(target: EntityMeta, value: unknown): string | null {
  if (isRow(value)) return keyOf(target, value);
  return isEmpty(value) ? null : String(value);
}

/** The row a ref points at (included, or fetched by key) and what to call it. */
function useRefTitle(target: EntityMeta, value: unknown) {
  const included = isRow(value) ? value : undefined;
  const key = refKey(target, value);
  const fetched = useRow(target, included ? null : key);
  const row = included ?? fetched.data;
  return { key, title: key === null ? "" : row ? titleOf(target, row) : shortKey(key) };
}

function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

const SEARCHABLE: ReadonlySet<FieldType> = new Set<FieldType>(["text", "slug", "email", "url"]);

/** A first page of the target's rows whose title contains `search`. */
function usePickerOptions(target: EntityMeta, search: string, enabled: boolean, exclude?: ReadonlySet<string>) {
  const display = fieldOf(target, target.display);
  // The server filters with `contains` on text-like fields only; otherwise filter the first page here.
  const serverSide = display !== undefined && display.name !== target.key && display.filterable && SEARCHABLE.has(display.type);
  const params: ListParams = { page: { size: 10 } };
  if (serverSide && search) params.filter = { [target.display]: { contains: search } };
  if (display?.sortable) params.sort = [target.display];
  const list = useList(target, params, enabled);
  let rows: readonly Row[] = list.data?.items ?? [];
  if (!serverSide && search) {
    const needle = search.toLowerCase();
    rows = rows.filter((row) => titleOf(target, row).toLowerCase().includes(needle));
  }
  if (exclude?.size) rows = rows.filter((row) => !exclude.has(keyOf(target, row)));
  return { rows, pending: list.isFetching, failed: list.isError };
}

type ComboboxProps = {
  /** The field's props: id, describedBy, error, readOnly. */
  readonly control: InputProps;
  readonly target: EntityMeta;
  /** Shown while not searching: the chosen row's title ("" for multi-pickers). */
  readonly idleText: string;
  readonly currentKey?: string | null;
  readonly onPick: (row: Row) => void;
  readonly exclude?: ReadonlySet<string>;
  /** Multi-pickers stay open and empty after a pick. */
  readonly stayOpen?: boolean;
  readonly required?: boolean;
  readonly onEmptyBackspace?: () => void;
};

/** A searchable picker of rows (the ARIA 1.2 combobox with a listbox popup). */
function Combobox(props: ComboboxProps) {
  const { control: p, target } = props;
  const [open, setOpen] = useState(false);
  const [query, setQuery] = useState<string | null>(null);
  const [active, setActive] = useState(0);
  const search = useDebounced((query ?? "").trim(), 200);
  const options = usePickerOptions(target, search, open, props.exclude);
  const rows = options.rows;
  const index = rows.length === 0 ? -1 : Math.min(active, rows.length - 1);
  const listId = `${p.id}-listbox`;
  const optionId = (i: number) => `${p.id}-option-${i}`;
  const activeId = open && index >= 0 ? optionId(index) : undefined;

  useEffect(() => {
    if (activeId) document.getElementById(activeId)?.scrollIntoView({ block: "nearest" });
  }, [activeId]);

  const close = () => {
    setOpen(false);
    setQuery(null);
  };
  const pick = (row: Row) => {
    props.onPick(row);
    if (!props.stayOpen) return close();
    setQuery("");
    setActive(0);
  };
  const move = (step: 1 | -1) => {
    if (!open) {
      setOpen(true);
      // Opening upwards starts at the last option (clamped once the rows are known).
      setActive(step > 0 ? 0 : Number.MAX_SAFE_INTEGER);
    } else if (rows.length > 0) {
      setActive((index + step + rows.length) % rows.length);
    }
  };
  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (p.readOnly) return;
    switch (event.key) {
      case "ArrowDown":
      case "ArrowUp":
        event.preventDefault();
        move(event.key === "ArrowDown" ? 1 : -1);
        break;
      case "Enter": {
        if (!open) break;
        // Never submit the form from an open list.
        event.preventDefault();
        const row = rows[index];
        if (row) pick(row);
        break;
      }
      case "Escape":
        if (!open && query === null) break;
        // Close the list, not the dialog around it.
        event.preventDefault();
        event.stopPropagation();
        close();
        break;
      case "Backspace":
        if (!query) props.onEmptyBackspace?.();
        break;
    }
  };

  const status = !open
    ? ""
    : options.failed
      ? "Could not load the options."
      : rows.length > 0
        ? ""
        : options.pending
          ? "Searching…"
          : "No matches.";

  return (
    <div className="rf-picker" data-open={open || undefined}>
      <input
        {...controlAttrs(p)}
        required={props.required || undefined}
        className="rf-control"
        type="text"
        role="combobox"
        aria-autocomplete="list"
        aria-expanded={open}
        aria-controls={listId}
        aria-activedescendant={activeId}
        value={query ?? props.idleText}
        placeholder={p.readOnly ? undefined : `Search ${target.labelPlural.toLowerCase()}…`}
        readOnly={p.readOnly}
        autoComplete="off"
        spellCheck={false}
        onChange={(event) => {
          setQuery(event.target.value);
          setOpen(true);
          setActive(0);
        }}
        // Typing replaces the chosen row's title rather than appending to it.
        onFocus={(event) => event.currentTarget.select()}
        onClick={() => !p.readOnly && setOpen(true)}
        onKeyDown={onKeyDown}
        onBlur={close}
      />
      {/* Pressing on the popup keeps the focus in the input, so its blur does not close the list before the click. */}
      <div className="rf-picker-popup" hidden={!open} onMouseDown={(event) => event.preventDefault()}>
        <ul role="listbox" id={listId} aria-labelledby={labelId(p.id)} className="rf-options">
          {open &&
            rows.map((row, i) => {
              const key = keyOf(target, row);
              return (
                <li
                  key={key}
                  id={optionId(i)}
                  role="option"
                  aria-selected={i === index}
                  data-current={key === props.currentKey || undefined}
                  className="rf-option"
                  onMouseEnter={() => setActive(i)}
                  onClick={() => pick(row)}
                >
                  {titleOf(target, row)}
                </li>
              );
            })}
        </ul>
      </div>
      <div className="rf-picker-status" role="status">
        {status}
      </div>
    </div>
  );
}

function ClearButton(props: { readonly id: string; readonly label: string; readonly onClear: () => void }) {
  const clear = () => {
    props.onClear();
    document.getElementById(props.id)?.focus();
  };
  return (
    <button type="button" className="rf-button rf-clear" aria-label={`Clear ${props.label}`} onClick={clear}>
      ×
    </button>
  );
}

/** One row of another entity: its key is the value. */
function ReferenceControl(p: ControlProps) {
  const target = useEntityMeta(targetOf(p.field));
  const chosen = useRefTitle(target, p.value);
  return (
    <div className="rf-reference">
      <Combobox
        control={p}
        target={target}
        idleText={chosen.title}
        currentKey={chosen.key}
        required={p.required}
        onPick={(row) => p.onChange(keyOf(target, row))}
      />
      {p.field.nullable && chosen.key !== null && !p.readOnly && (
        <ClearButton id={p.id} label={p.field.label} onClear={() => p.onChange(null)} />
      )}
    </div>
  );
}

function Chip(props: { readonly target: EntityMeta; readonly item: unknown; readonly onRemove?: () => void }) {
  const { title } = useRefTitle(props.target, props.item);
  return (
    <li className="rf-chip">
      <span className="rf-chip-title">{title}</span>
      {props.onRemove && (
        <button type="button" className="rf-chip-remove" aria-label={`Remove ${title}`} onClick={props.onRemove}>
          ×
        </button>
      )}
    </li>
  );
}

/** Many rows of another entity: the value is their keys. */
function ManyControl(p: ControlProps) {
  const target = useEntityMeta(targetOf(p.field));
  const items: readonly unknown[] = Array.isArray(p.value) ? p.value : [];
  const keys = items.map((item) => refKey(target, item)).filter((key): key is string => key !== null);
  const without = (index: number) => {
    p.onChange(keys.filter((_, i) => i !== index));
    // The chip's button is gone: keep the focus in the widget.
    document.getElementById(p.id)?.focus();
  };
  return (
    <div id={p.readOnly ? p.id : undefined} role="group" aria-labelledby={labelId(p.id)} data-invalid={p.error ? true : undefined} className="rf-many">
      {items.length > 0 && (
        <ul className="rf-chips">
          {items.map((item, i) => (
            <Chip key={keys[i] ?? i} target={target} item={item} onRemove={p.readOnly ? undefined : () => without(i)} />
          ))}
        </ul>
      )}
      {!p.readOnly && (
        <Combobox
          control={p}
          target={target}
          idleText=""
          exclude={new Set(keys)}
          stayOpen
          onPick={(row) => p.onChange([...keys, keyOf(target, row)])}
          onEmptyBackspace={() => keys.length > 0 && without(keys.length - 1)}
        />
      )}
    </div>
  );
}

/** A poly ref's value as the API sends it. */
type PolyRef = { readonly type: string; readonly id: string };

function asPolyRef(value: unknown): PolyRef | null {
  if (!isRow(value) || typeof value.type !== "string" || isEmpty(value.id)) return null;
  return { type: value.type, id: String(value.id) };
}

/** One row of one of several entities: pick the entity, then the row; the value is `{type, id}`. */
function PolyReferenceControl(p: ControlProps) {
  const lookup = useContext(EntityLookupContext);
  const targets = p.field.targets ?? [];
  const current = asPolyRef(p.value);
  const [type, setType] = useState(current?.type ?? targets[0] ?? "");
  if (current && current.type !== type) setType(current.type);
  const choose = (next: string) => {
    setType(next);
    if (current) p.onChange(null);
  };
  return (
    <div role="group" aria-labelledby={labelId(p.id)} className="rf-poly">
      <select
        id={`${p.id}-type`}
        aria-label={`${p.field.label}: kind`}
        className="rf-control"
        value={type}
        onChange={(event) => choose(event.target.value)}
        disabled={p.readOnly}
      >
        {targets.map((name) => (
          <option key={name} value={name}>
            {lookup(name)?.label ?? name}
          </option>
        ))}
      </select>
      {type && <PolyTargetPicker key={type} p={p} type={type} current={current?.type === type ? current : null} />}
    </div>
  );
}

function PolyTargetPicker(props: { readonly p: ControlProps; readonly type: string; readonly current: PolyRef | null }) {
  const { p, type } = props;
  const target = useEntityMeta(type);
  const chosen = useRefTitle(target, props.current?.id ?? null);
  return (
    <div className="rf-reference">
      <Combobox
        control={p}
        target={target}
        idleText={chosen.title}
        currentKey={chosen.key}
        required={p.required}
        onPick={(row) => p.onChange({ type, id: keyOf(target, row) })}
      />
      {p.field.nullable && chosen.key !== null && !p.readOnly && (
        <ClearButton id={p.id} label={p.field.label} onClear={() => p.onChange(null)} />
      )}
    </div>
  );
}

/** One-to-many rows are edited on their own pages: the form shows what is linked. */
function ChildrenControl(p: ControlProps) {
  return (
    <div id={p.id} aria-describedby={p.describedBy} className="rf-readonly">
      {isEmpty(p.value) ? <Empty /> : <ChildrenView field={p.field} value={p.value} mode="detail" />}
    </div>
  );
}

// Displays -----------------------------------------------------------------------------------

function Empty(props: { readonly marks?: Marks; readonly id?: string }) {
  return (
    <span {...props.marks} id={props.id} className="rf-empty" role="img" aria-label="empty">
      —
    </span>
  );
}

/** What a display receives once the value is known not to be empty. */
type ShowProps = DisplayProps & { readonly marks: Marks; readonly mode: DisplayMode };

/** A display that shows an em dash for null, undefined and "", and `Show` otherwise. */
function display(name: string, Show: ComponentType<ShowProps>): ComponentType<DisplayProps> {
  function Display(p: DisplayProps) {
    const mode = useContext(DisplayModeContext);
    const m = marks(name, p.entity, p.field);
    return isEmpty(p.value) ? <Empty marks={m} /> : <Show {...p} marks={m} mode={mode} />;
  }
  Display.displayName = `Display(${name})`;
  return Display;
}

function TextShow(p: ShowProps) {
  const text = String(p.value);
  if (p.mode === "list") {
    const line = text.replace(/\s+/g, " ");
    const short = clip(line, LIST_TEXT);
    return (
      <span {...p.marks} className="rf-text" title={short !== line ? text : undefined}>
        {short}
      </span>
    );
  }
  return (
    <span {...p.marks} className={multiline(p.field.widget, p.field) ? "rf-text rf-multiline" : "rf-text"}>
      {text}
    </span>
  );
}

function EmailShow(p: ShowProps) {
  const email = String(p.value);
  return (
    <a {...p.marks} className="rf-link" href={`mailto:${email}`}>
      {email}
    </a>
  );
}

function UrlShow(p: ShowProps) {
  const url = String(p.value);
  // Only web addresses become links: a `javascript:` URL must stay text.
  if (!/^https?:\/\//i.test(url)) return <TextShow {...p} />;
  return (
    <a {...p.marks} className="rf-link" href={url} target="_blank" rel="noopener noreferrer" title={url}>
      {p.mode === "list" ? clip(url.replace(/^https?:\/\//i, ""), 40) : url}
    </a>
  );
}

function CodeShow(p: ShowProps) {
  const text = String(p.value);
  const short = p.mode === "list" ? shortKey(text) : text;
  return (
    <span {...p.marks} className="rf-mono" title={short !== text ? text : undefined}>
      {short}
    </span>
  );
}

function NumberShow(p: ShowProps) {
  return (
    <span {...p.marks} className="rf-number">
      {formatScalar("integer", p.value)}
    </span>
  );
}

function DecimalShow(p: ShowProps) {
  return (
    <span {...p.marks} className="rf-number">
      {String(p.value)}
    </span>
  );
}

function MoneyShow(p: ShowProps) {
  return (
    <span {...p.marks} className="rf-number rf-money" title={String(p.value)}>
      {formatMoney(p.value)}
    </span>
  );
}

function DateShow(p: ShowProps) {
  return (
    <time {...p.marks} dateTime={String(p.value)}>
      {formatDate(p.value)}
    </time>
  );
}

function DateTimeShow(p: ShowProps) {
  return (
    <time {...p.marks} dateTime={String(p.value)}>
      {formatDateTime(p.value)}
    </time>
  );
}

function BooleanShow(p: ShowProps) {
  return (
    <span {...p.marks} className="rf-boolean" data-value={String(p.value === true)}>
      {p.value === true ? "Yes" : "No"}
    </span>
  );
}

function BadgeShow(p: ShowProps) {
  return <Badge value={String(p.value)} marks={p.marks} />;
}

function JsonShow(p: ShowProps) {
  if (p.mode === "list") {
    const line = JSON.stringify(p.value);
    const short = clip(line, LIST_TEXT);
    return (
      <code {...p.marks} className="rf-json" title={short !== line ? line : undefined}>
        {short}
      </code>
    );
  }
  return (
    <pre {...p.marks} className="rf-json">
      {JSON.stringify(p.value, null, 2)}
    </pre>
  );
}

function ArrayShow(p: ShowProps) {
  const items: readonly unknown[] = Array.isArray(p.value) ? p.value : [p.value];
  if (items.length === 0) return <Empty marks={p.marks} />;
  if (p.field.of === "enum") {
    return (
      <span {...p.marks} className="rf-badges">
        {items.map((item) => (
          <Badge key={String(item)} value={String(item)} />
        ))}
      </span>
    );
  }
  const text = items.map((item) => (isEmpty(item) ? "—" : formatScalar(p.field.of, item))).join(", ");
  const short = p.mode === "list" ? clip(text, LIST_TEXT) : text;
  return (
    <span {...p.marks} className="rf-text" title={short !== text ? text : undefined}>
      {short}
    </span>
  );
}

/** A link to a row's detail page: its title when included, else a short key. */
function RowLink(props: { readonly target: EntityMeta; readonly item: unknown; readonly marks?: Marks; readonly title?: string }) {
  const { target, item } = props;
  const key = refKey(target, item);
  if (key === null) return <Empty marks={props.marks} />;
  const text = props.title ?? (isRow(item) ? titleOf(target, item) : shortKey(key));
  return (
    <Link {...props.marks} className="rf-link" href={`${target.route}/${encodeURIComponent(key)}`} title={text !== key ? key : undefined}>
      {text}
    </Link>
  );
}

function ReferenceShow(p: ShowProps) {
  const target = useEntityMeta(targetOf(p.field));
  return <RowLink target={target} item={p.value} marks={p.marks} />;
}

const LIST_LINKS = 3;

/** Rows of a relation as links; a list cell shows the first few and how many more. */
function RowLinks(props: { readonly target: EntityMeta; readonly items: readonly unknown[]; readonly mode: DisplayMode; readonly marks?: Marks }) {
  const { target, items } = props;
  const shown = props.mode === "list" ? items.slice(0, LIST_LINKS) : items;
  const more = items.length - shown.length;
  return (
    <span {...props.marks} className="rf-links">
      {shown.map((item, i) => (
        <span key={refKey(target, item) ?? i}>
          {i > 0 && ", "}
          <RowLink target={target} item={item} />
        </span>
      ))}
      {more > 0 && <span className="rf-more"> and {more} more</span>}
    </span>
  );
}

function ManyShow(p: ShowProps) {
  const target = useEntityMeta(targetOf(p.field));
  const items: readonly unknown[] = Array.isArray(p.value) ? p.value : [];
  if (items.length === 0) return <Empty marks={p.marks} />;
  return <RowLinks target={target} items={items} mode={p.mode} marks={p.marks} />;
}

/** One-to-many: the linked rows when included (a count in lists), else how many there are. */
function ChildrenView(props: { readonly field: FieldMeta; readonly value: unknown; readonly mode: DisplayMode; readonly marks?: Marks }) {
  const target = useEntityMeta(targetOf(props.field));
  const items: readonly unknown[] = Array.isArray(props.value) ? props.value : [];
  if (items.length === 0) return <Empty marks={props.marks} />;
  if (props.mode === "detail" && items.every(isRow)) {
    return <RowLinks target={target} items={items} mode="detail" marks={props.marks} />;
  }
  return (
    <span {...props.marks} className="rf-count">
      {items.length} {items.length === 1 ? target.label : target.labelPlural}
    </span>
  );
}

function ChildrenShow(p: ShowProps) {
  return <ChildrenView field={p.field} value={p.value} mode={p.mode} marks={p.marks} />;
}

function PolyReferenceShow(p: ShowProps) {
  const lookup = useContext(EntityLookupContext);
  const ref = asPolyRef(p.value);
  if (!ref) return <Empty marks={p.marks} />;
  const target = lookup(ref.type);
  if (!target) {
    return (
      <span {...p.marks} className="rf-text">
        {ref.type} {shortKey(ref.id)}
      </span>
    );
  }
  return <PolyLink target={target} id={ref.id} mode={p.mode} marks={p.marks} />;
}

/** "<Entity> <title>": a detail page fetches the title; a list cell, one row of many, does not. */
function PolyLink(props: { readonly target: EntityMeta; readonly id: string; readonly mode: DisplayMode; readonly marks: Marks }) {
  const row = useRow(props.target, props.mode === "detail" ? props.id : null).data;
  const title = row ? titleOf(props.target, row) : shortKey(props.id);
  return <RowLink target={props.target} item={props.id} marks={props.marks} title={`${props.target.label} ${title}`} />;
}

// Registration ------------------------------------------------------------------------------

/** An input widget: the control inside the root that tests and the inspector find by `data-widget`. */
function input(name: string, Control: ComponentType<ControlProps>): ComponentType<InputProps> {
  function Input(p: InputProps) {
    return (
      <div {...marks(name, p.entity, p.field)} className={`rf-widget rf-widget-${name}`}>
        <Control {...p} />
      </div>
    );
  }
  Input.displayName = `Input(${name})`;
  return Input;
}

function textWidget(name: string): Widget {
  function TextControl(p: ControlProps) {
    if (!multiline(name, p.field)) return <TextLine {...p} kind={name} />;
    return <TextArea {...p} rows={name === "richtext" ? 10 : 4} />;
  }
  return { Input: input(name, TextControl), Display: display(name, TextShow) };
}

function widget(name: string, Control: ComponentType<ControlProps>, Show: ComponentType<ShowProps>): Widget {
  return { Input: input(name, Control), Display: display(name, Show) };
}

function codeWidget(name: string, Show: ComponentType<ShowProps>): Widget {
  const CodeLine = (p: ControlProps) => <TextLine {...p} kind={name} />;
  return widget(name, CodeLine, Show);
}

/** The built-in widgets by the name the generator emits in `FieldMeta.widget`. */
const BUILT_IN: Readonly<Record<string, Widget>> = {
  text: textWidget("text"),
  textarea: textWidget("textarea"),
  // Plain text in a larger box: no rich text editor yet, and stored text is never rendered as HTML.
  richtext: textWidget("richtext"),
  email: codeWidget("email", EmailShow),
  url: codeWidget("url", UrlShow),
  slug: codeWidget("slug", CodeShow),
  uuid: codeWidget("uuid", CodeShow),
  number: widget("number", IntegerControl, NumberShow),
  decimal: widget("decimal", DecimalControl, DecimalShow),
  money: widget("money", DecimalControl, MoneyShow),
  date: widget("date", DateControl, DateShow),
  datetime: widget("datetime", DateTimeControl, DateTimeShow),
  boolean: widget("boolean", BooleanControl, BooleanShow),
  select: widget("select", SelectControl, BadgeShow),
  state: widget("state", StateControl, BadgeShow),
  reference: widget("reference", ReferenceControl, ReferenceShow),
  poly_reference: widget("poly_reference", PolyReferenceControl, PolyReferenceShow),
  many: widget("many", ManyControl, ManyShow),
  children: widget("children", ChildrenControl, ChildrenShow),
  array: widget("array", ArrayControl, ArrayShow),
  json: widget("json", JsonControl, JsonShow),
};

/** Each field type's default widget: every type resolves even when its widget name is unknown. */
const BY_TYPE: Readonly<Record<FieldType, string>> = {
  uuid: "uuid",
  text: "text",
  slug: "slug",
  email: "email",
  url: "url",
  integer: "number",
  decimal: "decimal",
  money: "money",
  boolean: "boolean",
  date: "date",
  datetime: "datetime",
  json: "json",
  enum: "select",
  state: "state",
  array: "array",
  ref: "reference",
  poly_ref: "poly_reference",
  one_to_many: "children",
  many_to_many: "many",
};

/** The names the built-in widgets answer to: widget names, then type names. */
export const builtInWidgetNames: readonly string[] = [
  ...Object.keys(BUILT_IN),
  ...Object.keys(BY_TYPE).filter((type) => !(type in BUILT_IN)),
];

/** Register every built-in widget under its name and its type's name; overrides registered before or after win. */
export function registerDefaultWidgets(): void {
  for (const [name, widget] of Object.entries(BUILT_IN)) defaultWidget(name, widget);
  for (const [type, name] of Object.entries(BY_TYPE)) {
    const widget = BUILT_IN[name];
    if (widget && !(type in BUILT_IN)) defaultWidget(type, widget);
  }
}

/** Shown where a value is missing: exported for views that show values outside a widget. */
export function EmptyValue(): ReactNode {
  return <Empty />;
}
