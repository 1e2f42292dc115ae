// Reframe UI runtime: what a list view asks the API for, read from the address.
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).
//
// One function for the list view and for the page's first request (early.ts), so
// that the answer fetched before React runs is the one the view asks for.

import type { FieldMeta, FieldType, ListMeta } from "./meta";

export type ListParams = {
  filter?: Record<string, unknown>;
  sort?: readonly string[];
  include?: readonly string[];
  page?: { size?: number; after?: string };
  count?: boolean;
};

/** Query parameters that filter a list: `?f.status=paid`. */
export const FILTER_PREFIX = "f.";

type Typed = { readonly name: string; readonly type: FieldType };

/** What asking for a list of an entity takes: an `EntityMeta` is one, ui/prefetch.ts has smaller ones. */
export type ListSource<F extends Typed = Typed> = {
  readonly name: string;
  readonly path: string;
  readonly lists: readonly ListMeta[];
  readonly fields: readonly F[];
};

/** A list view as the address sets it up: which view, its columns, filters and sort. */
export type ListState<F extends Typed = FieldMeta> = {
  view: ListMeta;
  columns: F[];
  filterFields: F[];
  filter: Record<string, unknown>;
  sort: string[];
};

/** The filter a query parameter stands for: text searches by `contains`, the rest by equality. */
function filterOf(field: Typed, text: string): unknown {
  if (field.type === "boolean") return text === "true";
  if (["text", "slug", "email", "url"].includes(field.type)) return { contains: text };
  if (field.type === "array") return { contains: text };
  return text;
}

/** The list `query` (the address's parameters) shows; null when the entity has no list view. */
export function listState<F extends Typed>(entity: ListSource<F>, query: URLSearchParams): ListState<F> | null {
  const view = entity.lists.find((l) => l.name === query.get("view")) ?? entity.lists[0];
  if (!view) return null;
  const given = query.get("sort");
  const sort = given ? given.split(",").filter(Boolean) : [...view.sort];
  const fieldOf = (name: string) => entity.fields.find((f) => f.name === name);
  const filterFields = view.filters.map(fieldOf).filter((f): f is F => !!f);
  const filter: Record<string, unknown> = {};
  for (const field of filterFields) {
    const text = query.get(FILTER_PREFIX + field.name);
    if (text !== null && text !== "") filter[field.name] = filterOf(field, text);
  }
  const columns = view.columns.map(fieldOf).filter((f): f is F => !!f);
  return { view, columns, filterFields, filter, sort };
}

/** The API parameters of one page of a list: its references included, with a count. */
export function listParams(state: ListState<Typed>, after?: string): ListParams {
  return {
    filter: state.filter,
    sort: state.sort,
    include: state.columns.filter((f) => f.type === "ref").map((f) => f.name),
    count: true,
    page: { size: state.view.pageSize, ...(after ? { after } : {}) },
  };
}
