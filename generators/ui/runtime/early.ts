// Reframe UI runtime: the page's first requests, sent before React and the views have loaded.
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).
//
// ui/prefetch.ts runs this as soon as its few modules are in (an async module
// script, which needs neither React nor the views): who is signed in and, on a list page, the list's first page are
// asked while the rest of the app loads, instead of one after the other once
// it has run. The views take these answers through `takeEarly`, asking the
// same question with the same parameters (lists.ts), so an answer that is not
// used is only a request too many, never a wrong page.
//
// Not part of the runtime's bundle (all.bundle.ts): the app is handed this module
// (`start(app, early)`), so that the answers it holds are the ones the views take.

import { createClient, listQuery, type Client, type Me } from "../../client/client";
import { isProblem } from "../../client/errors";
import { listParams, listState, type ListSource } from "./lists";
import { parseRoute } from "./route";

const TENANT_KEY = "reframe.tenant";
/** An early answer older than this is asked again (the app's queries are fresh for as long). */
const FRESH_MS = 10_000;

/** The app's one client: cookies, and the tenant the switcher chose (`X-Tenant`). */
export const client: Client = createClient({ cookies: true, tenant: () => localStorage.getItem(TENANT_KEY) });

export function chosenTenant(): string | null {
  return localStorage.getItem(TENANT_KEY);
}

export function chooseTenant(tenantId: string | null): void {
  if (tenantId) localStorage.setItem(TENANT_KEY, tenantId);
  else localStorage.removeItem(TENANT_KEY);
}

/** The signed-in user, or null. */
export async function whoIsSignedIn(): Promise<Me | null> {
  // Signed-in browsers hold the (readable) CSRF cookie; without it, asking would only get a 401.
  if (!hasSessionCookie()) return null;
  try {
    return await client.auth.me();
  } catch (error) {
    if (isProblem(error, 401)) return null;
    throw error;
  }
}

function hasSessionCookie(): boolean {
  return document.cookie.split("; ").some((c) => c.startsWith("reframe_csrf="));
}

type Early = {
  at: number;
  answer: Promise<unknown>;
  /** The React Query key the answer belongs under (data.ts's), if a view asks it by one. */
  queryKey?: readonly unknown[];
  arrived?: { data: unknown };
};
const early = new Map<string, Early>();

function keyOf(path: string, query: readonly (readonly [string, string])[]): string {
  return JSON.stringify([path, query]);
}

function remember(key: string, answer: Promise<unknown>, queryKey?: readonly unknown[]): void {
  const entry: Early = { at: performance.now(), answer, queryKey };
  // A refusal is the taker's to show; nobody may take it, so it must not surface as unhandled.
  answer.then((data) => (entry.arrived = { data }), () => undefined);
  early.set(key, entry);
}

function fresh(entry: Early): boolean {
  return performance.now() - entry.at <= FRESH_MS;
}

/** The early answer to `GET path?query`, once, if it is fresh; else undefined. */
export function takeEarly<T>(path: string, query: readonly (readonly [string, string])[]): Promise<T> | undefined {
  const key = keyOf(path, query);
  const found = early.get(key);
  early.delete(key);
  if (!found || !fresh(found)) return undefined;
  return found.answer as Promise<T>;
}

/**
 * The early answers that have already arrived, with their query keys, taken: the app
 * puts them in its query cache before the first render, which then shows them at once.
 */
export function arrivedQueries(): [readonly unknown[], unknown][] {
  const arrived: [readonly unknown[], unknown][] = [];
  for (const [key, entry] of early) {
    if (entry.queryKey && entry.arrived && fresh(entry)) {
      arrived.push([entry.queryKey, entry.arrived.data]);
      early.delete(key);
    }
  }
  return arrived;
}

/** Who is signed in: the early answer if there is one, else asked now. */
export function signedIn(): Promise<Me | null> {
  return takeEarly<Me | null>("/auth/me", []) ?? whoIsSignedIn();
}

/** Ask who is signed in and, on a list page, for its first page. */
export function requestEarly(lists: Readonly<Record<string, ListSource>>): void {
  if (!hasSessionCookie()) return;
  remember(keyOf("/auth/me", []), whoIsSignedIn());
  const address = new URLSearchParams(window.location.search);
  const route = parseRoute(window.location.pathname, address);
  const listed = route.page === "list" && Object.prototype.hasOwnProperty.call(lists, route.path);
  const entity = listed ? lists[route.path] : undefined;
  const state = entity ? listState(entity, address) : null;
  if (!entity || !state) return;
  const path = `/${entity.path}`;
  const params = listParams(state);
  const query = listQuery(params);
  // The request and the query key of data.ts's useList for this page.
  remember(keyOf(path, query), client.transport.request("GET", path, { query }), [entity.name, "list", params]);
}
