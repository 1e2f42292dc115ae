// Reframe UI runtime: what overrides import, as `reframe/ui`.
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).
//
//   import { registerWidget, type DisplayProps } from "reframe/ui";
//   function BigMoney(props: DisplayProps) { ... }
//   registerWidget("Invoice.total", { Display: BigMoney });

export { registerComponent, registerWidget, resolveWidget, widgetKeys } from "./registry";
export type { DisplayProps, InputProps, Widget } from "./registry";
export type { ActionMeta, AppMeta, Caller, EntityMeta, FieldMeta, ListMeta, Row } from "./meta";
export { useSession } from "./context";
export { keyOf, titleOf, useAction, useCreate, useDelete, useList, useRow, useUpdate } from "./data";
export { DisplayValue, FieldControl, ProblemAlert } from "./common";
export { ListView } from "./list";
export { DetailView } from "./detail";
export { CreateForm, EditForm } from "./form";
export { navigate, useLocation } from "./router";
export { Link } from "./widgets";
