// Reframe UI runtime: the app's routes, read from and written to the address bar.
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).

import { useSyncExternalStore } from "react";

/** Go to `href` without reloading the page. */
export function navigate(href: string, options: { replace?: boolean } = {}): void {
  const { pathname, search, hash } = window.location;
  if (href === pathname + search + hash) return;
  if (options.replace) window.history.replaceState(null, "", href);
  else window.history.pushState(null, "", href);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

function subscribe(listener: () => void): () => void {
  window.addEventListener("popstate", listener);
  return () => window.removeEventListener("popstate", listener);
}

/** The current path and query, re-rendering on every navigation. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const href = useSyncExternalStore(subscribe, () => window.location.pathname + window.location.search);
  const url = new URL(href, window.location.origin);
  return { path: url.pathname, query: url.searchParams };
}

/** Replace some query parameters of the current address (null removes one). */
export function withQuery(changes: Record<string, string | null>): string {
  const url = new URL(window.location.href);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === "") url.searchParams.delete(key);
    else url.searchParams.set(key, value);
  }
  return url.pathname + url.search;
}

export { parseRoute, type Route } from "./route";
