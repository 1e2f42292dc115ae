// Reframe UI runtime: the registry of widgets and components, and how an override wins.
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).
//
// Hand-written files in the project's `ui/overrides/` register themselves:
//
//   import { registerWidget } from "reframe/ui";
//   registerWidget("Invoice.total", { Display: BigMoney });
//
// A widget is looked up for a field of an entity by, in order: the field
// ("Invoice.total"), the entity and widget name ("Invoice:money"), the widget
// name ("money"; the type's default or the form view's `.widget()`), then the
// built-in one. Input and Display resolve separately, so an override may give
// only one. Components (the generated views and the shell's parts) are looked
// up by name ("Invoice.list", "Invoice.detail", "Invoice.form", "Login") and an
// override replaces the generated one. Registering after the first render
// re-renders: views subscribe through `useRegistry()`.

import { useSyncExternalStore, type ComponentType } from "react";
import type { EntityMeta, FieldMeta, Row } from "./meta";

/** What an input widget receives. `value` is the API's JSON value; `null` is empty. */
export type InputProps = {
  readonly entity: EntityMeta;
  readonly field: FieldMeta;
  readonly value: unknown;
  readonly onChange: (value: unknown) => void;
  /** The control's DOM id: the form's <label htmlFor> points at it. */
  readonly id: string;
  /** The id of the element holding help and error text, for aria-describedby. */
  readonly describedBy?: string;
  /** A message to show next to the field (client check or the server's answer). */
  readonly error?: string;
  readonly readOnly: boolean;
  readonly required: boolean;
};

/** What a display widget (list cell, detail value) receives. */
export type DisplayProps = {
  readonly entity: EntityMeta;
  readonly field: FieldMeta;
  readonly value: unknown;
  readonly row: Row;
};

export type Widget = {
  readonly Input?: ComponentType<InputProps>;
  readonly Display?: ComponentType<DisplayProps>;
};

type Source = "override" | "generated";
type Entry<T> = { readonly value: T; readonly source: Source };

const widgets = new Map<string, Entry<Widget>>();
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const components = new Map<string, Entry<ComponentType<any>>>();
const listeners = new Set<() => void>();
let version = 0;

function changed(): void {
  version += 1;
  for (const listener of listeners) listener();
}

function put<T>(table: Map<string, Entry<T>>, name: string, value: T, source: Source): void {
  const current = table.get(name);
  // A generated default never replaces an override, whatever the load order.
  if (current?.source === "override" && source === "generated") return;
  table.set(name, { value, source });
  changed();
}

/** Register a widget under a field ("Invoice.total"), an entity and widget ("Invoice:money") or a widget name ("money"). */
export function registerWidget(name: string, widget: Widget): void {
  put(widgets, name, widget, "override");
}

/** Register a component under a name ("Invoice.detail", "Login"), replacing the generated one. */
export function registerComponent<P extends object>(name: string, component: ComponentType<P>): void {
  put(components, name, component, "override");
}

/** The generated app's defaults (never replace an override). */
export function defaultWidget(name: string, widget: Widget): void {
  put(widgets, name, widget, "generated");
}

export function defaultComponent<P extends object>(name: string, component: ComponentType<P>): void {
  put(components, name, component, "generated");
}

/** The names a field's widget is looked up by, most specific first. */
export function widgetKeys(entity: EntityMeta, field: FieldMeta): string[] {
  return [`${entity.name}.${field.name}`, `${entity.name}:${field.widget}`, field.widget, field.type];
}

export type Resolved<C> = { readonly component: C; readonly key: string; readonly source: Source };

/** The input or display widget of a field, and the key that supplied it. */
export function resolveWidget<K extends keyof Widget>(
  entity: EntityMeta,
  field: FieldMeta,
  kind: K,
): Resolved<NonNullable<Widget[K]>> | undefined {
  for (const key of widgetKeys(entity, field)) {
    const entry = widgets.get(key);
    const component = entry?.value[kind];
    if (entry && component) return { component: component as NonNullable<Widget[K]>, key, source: entry.source };
  }
  return undefined;
}

/** A registered component by name. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function resolveComponent<P = any>(name: string): Resolved<ComponentType<P>> | undefined {
  const found = components.get(name);
  return found && { component: found.value as ComponentType<P>, key: name, source: found.source };
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Re-render when the registry changes (an override registered after the first render). */
export function useRegistry(): number {
  return useSyncExternalStore(subscribe, () => version);
}
