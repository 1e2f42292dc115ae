// Reframe UI runtime, as one module: gen serve answers this file bundled (what it
// imports from this folder inlined), so the page loads the runtime in one request
// instead of twenty. Whatever imports the runtime imports it from here (overrides
// as `reframe/ui`), so its state (the widget registry, the session) exists once.
// early.ts is not in it: ui/prefetch.ts runs that before this has loaded.
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).

export * from "./index";
export { guardOf } from "./guards";
export { start } from "./start";
