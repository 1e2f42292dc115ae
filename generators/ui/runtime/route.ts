// Reframe UI runtime: what a path under /app/ names (no React: the first requests read it too).
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).

/** What a path under /app/ names. */
export type Route =
  | { page: "home" }
  | { page: "login" }
  | { page: "signup" }
  | { page: "magic-link"; token: string | null }
  | { page: "list"; path: string }
  | { page: "new"; path: string }
  | { page: "detail"; path: string; key: string }
  | { page: "edit"; path: string; key: string }
  | { page: "missing" };

const PAGES = new Set(["login", "signup", "magic-link"]);

export function parseRoute(path: string, query: URLSearchParams): Route {
  const parts = path.replace(/^\/app\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (!path.startsWith("/app")) return { page: "missing" };
  if (parts.length === 0) return { page: "home" };
  const [first, second, third] = parts;
  if (parts.length === 1 && PAGES.has(first)) {
    return first === "magic-link" ? { page: "magic-link", token: query.get("token") } : ({ page: first } as Route);
  }
  if (parts.length === 1) return { page: "list", path: first };
  if (parts.length === 2 && second === "new") return { page: "new", path: first };
  if (parts.length === 2) return { page: "detail", path: first, key: second };
  if (parts.length === 3 && third === "edit") return { page: "edit", path: first, key: second };
  return { page: "missing" };
}
