// Reframe UI runtime: what the generated `ui/entities/*.ts` files say about each entity.
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).

import type { Me } from "../../client/client";

/** A row as the API returns it: field name -> JSON value (a ref: the key, or the row when included). */
export type Row = { readonly [field: string]: unknown };

/** The kinds of field the model has (compiler/ir: scalar names, enum, state, relations). */
export type FieldType =
  | "uuid"
  | "text"
  | "slug"
  | "email"
  | "url"
  | "integer"
  | "decimal"
  | "money"
  | "boolean"
  | "date"
  | "datetime"
  | "json"
  | "enum"
  | "state"
  | "array"
  | "ref"
  | "poly_ref"
  | "one_to_many"
  | "many_to_many";

/** One field: its type, its default widget, the checks the server makes, and what a form may do with it. */
export type FieldMeta = {
  readonly name: string;
  readonly label: string;
  readonly help?: string;
  readonly type: FieldType;
  /** The widget name: the type's default or the form view's `.widget(field, name)`. */
  readonly widget: string;
  /** Not null in the database. */
  readonly nullable: boolean;
  /** A create must give it (not nullable and no default). */
  readonly required: boolean;
  /** Sent by forms: part of the Create schema. */
  readonly creatable: boolean;
  /** Sent by edit forms: part of the Update schema. */
  readonly updatable: boolean;
  /** Computed by the server (`.computed(...)`). */
  readonly computed: boolean;
  /** `.private()`: masked in the audit log. */
  readonly private?: boolean;
  /** The default a create form starts from (a literal; server-side defaults like now() are absent). */
  readonly default?: unknown;
  /** Bounds as decimal strings (money and decimals are strings). */
  readonly min?: string;
  readonly max?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  /** A regular expression (Python syntax, compatible with JS for the patterns the model allows). */
  readonly pattern?: string;
  /** Digits after the point, for decimal and money. */
  readonly scale?: number;
  /** Enum and state values (and the values of an array of enums). */
  readonly values?: readonly string[];
  /** The element type of an array. */
  readonly of?: FieldType;
  /** The related entity of ref, one_to_many and many_to_many. */
  readonly target?: string;
  /** The entities a poly_ref may point at. */
  readonly targets?: readonly string[];
  /** For one_to_many: the ref field of the target pointing back here. */
  readonly via?: string;
  /** Can be sorted on (list headers). */
  readonly sortable: boolean;
  /** Can be filtered on. */
  readonly filterable: boolean;
};

/** Who is signed in, in the policy mirror's terms (client/policies.ts `Caller`). */
export type Caller = { userId: string | null; tenantId: string | null; roles: readonly string[]; now: string };

/** An advisory rule of the policy mirror: may `me` do this to `row`? */
export type Check = (row: Row, me: Caller) => boolean;

export type ListMeta = {
  readonly name: string;
  readonly title: string;
  readonly columns: readonly string[];
  readonly filters: readonly string[];
  /** Sort terms, `-` for descending: ["-created_at"]. */
  readonly sort: readonly string[];
  readonly pageSize: number;
};

export type TabMeta = { readonly title: string; readonly fields: readonly string[] };

export type ActionMeta = {
  readonly name: string;
  readonly label: string;
  readonly kind: "transition" | "custom";
  /** Transitions: the state field and the states the action leaves from. */
  readonly stateField?: string;
  readonly sources: readonly string[];
  readonly target?: string;
  /** Fields of the action's input (a dialog asks for them). */
  readonly inputs: readonly FieldMeta[];
  /** The guard on the row as the UI can see it: false hides the button; null: cannot tell here. */
  readonly guard?: (row: Row) => boolean | null;
  /** Who may run it (the policy mirror); absent: nobody may (deny by default). */
  readonly can?: Check;
};

/** Everything the generic views need to show one entity. */
export type EntityMeta = {
  readonly name: string;
  readonly label: string;
  readonly labelPlural: string;
  readonly doc?: string;
  /** The API collection: `/api/<path>`. */
  readonly path: string;
  /** The UI route: `/app/<path>`. */
  readonly route: string;
  /** The primary key field. */
  readonly key: string;
  /** The field that names a row in pickers, links and titles. */
  readonly display: string;
  readonly tenant: boolean;
  /** A built-in entity (User, Tenant, Membership): reachable, not in the navigation. */
  readonly builtin: boolean;
  /** Fields in model order. */
  readonly fields: readonly FieldMeta[];
  /** The list views: the first is `/app/<path>`, others `?view=<name>`. */
  readonly lists: readonly ListMeta[];
  readonly detail: { readonly title: string; readonly tabs: readonly TabMeta[] };
  readonly form: { readonly title: string; readonly fields: readonly string[] };
  readonly actions: readonly ActionMeta[];
  /** The policy mirror per operation (absent: nobody may); `fields`: per-field rules. */
  readonly can: {
    readonly read?: Check;
    readonly create?: Check;
    readonly update?: Check;
    readonly delete?: Check;
    /** `.editable_by(...)` per field. */
    readonly edit?: { readonly [field: string]: Check };
    /** `.visible_to(...)` per field. */
    readonly see?: { readonly [field: string]: Check };
  };
};

/** The whole app: entities by name, in model order. */
export type AppMeta = {
  readonly name: string;
  readonly roles: readonly string[];
  readonly tenancy: boolean;
  readonly authProviders: readonly string[];
  readonly entities: readonly EntityMeta[];
};

/** The signed-in user in policy terms. */
export function callerOf(me: Me | null | undefined): Caller {
  return {
    userId: me?.user.id ?? null,
    tenantId: me?.tenant?.id ?? null,
    roles: me?.roles ?? [],
    now: new Date().toISOString(),
  };
}

/** Run an advisory check; a rule that needs a related row the UI does not have counts as allowed (the server decides). */
export function allowed(check: Check | undefined, row: Row, me: Caller): boolean {
  if (check === undefined) return false;
  try {
    return check(row, me);
  } catch {
    return true;
  }
}

export function fieldOf(entity: EntityMeta, name: string): FieldMeta | undefined {
  return entity.fields.find((f) => f.name === name);
}
