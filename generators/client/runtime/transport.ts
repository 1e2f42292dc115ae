/** How the client reaches the API and who it is. */
export type ClientOptions = {
  /** Where the API is: "" (same origin, the default) or "https://example.com". `/api` is added. */
  baseUrl?: string;
  /** A bearer token (from `auth.login`), or a function giving the current one. */
  token?: string | null | (() => string | null | undefined);
  /**
   * Cookie sign-in instead: requests carry the session cookie (`credentials`) and, when they
   * change something, the `reframe_csrf` cookie's value as `X-CSRF-Token`.
   */
  cookies?: boolean;
  /** The CSRF token; default: the `reframe_csrf` cookie read from `document.cookie`. */
  csrfToken?: () => string | null | undefined;
  /** The tenant to act in (`X-Tenant`), for a user in several; default the server's choice. */
  tenant?: string | null | (() => string | null | undefined);
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
  /** The fetch to use (tests, server rendering); default the global one. */
  fetch?: typeof fetch;
};

/** Options of one request. */
export type RequestOptions = { signal?: AbortSignal; headers?: Record<string, string> };
/** Options of an update: `ifMatch` is an ETag (`etagOf(row)`); a stale one is a 412. */
export type UpdateOptions = RequestOptions & { ifMatch?: string | null };
/** Options of an action: the `Idempotency-Key` (default: a new random one per call). */
export type ActionOptions = RequestOptions & { idempotencyKey?: string };

type Query = [string, string][];

const ETAGS = new WeakMap<object, string>();

/** The ETag the server sent with this row (single-row answers only), for `ifMatch`. */
export function etagOf(row: object): string | undefined {
  return ETAGS.get(row);
}

/** A new random Idempotency-Key. */
export function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

function current(value: string | null | undefined | (() => string | null | undefined)) {
  return typeof value === "function" ? value() : value;
}

function cookie(name: string): string | null {
  const jar = typeof document === "undefined" ? "" : document.cookie;
  for (const part of jar.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

/** Sends requests, adds auth and tenant headers, turns problems into `ProblemError`s. */
export class Transport {
  constructor(readonly options: ClientOptions = {}) {}

  async request<T>(
    method: string,
    path: string,
    init: { query?: Query; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<T> {
    const options = this.options;
    const headers: Record<string, string> = { accept: "application/json", ...options.headers };
    const token = current(options.token);
    if (token) headers["authorization"] = `Bearer ${token}`;
    const tenant = current(options.tenant);
    if (tenant) headers["x-tenant"] = tenant;
    if (options.cookies && !SAFE.has(method)) {
      const csrf = options.csrfToken ? options.csrfToken() : cookie("reframe_csrf");
      if (csrf) headers["x-csrf-token"] = csrf;
    }
    if (init.body !== undefined) headers["content-type"] = "application/json";
    Object.assign(headers, init.headers);
    const search = init.query && init.query.length ? `?${new URLSearchParams(init.query)}` : "";
    const doFetch = options.fetch ?? globalThis.fetch;
    const response = await doFetch(`${options.baseUrl ?? ""}/api${path}${search}`, {
      method,
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      credentials: options.cookies ? "include" : "same-origin",
      signal: init.signal,
    });
    if (!response.ok) throw await problemOf(response);
    if (response.status === 204) return undefined as T;
    const data: unknown = await response.json();
    const etag = response.headers.get("etag");
    if (etag && typeof data === "object" && data !== null) ETAGS.set(data, etag);
    return data as T;
  }
}

function ifMatch(options: UpdateOptions) {
  const headers = options.ifMatch ? { ...options.headers, "if-match": options.ifMatch } : options.headers;
  return { signal: options.signal, headers };
}

function idempotent(options: ActionOptions) {
  const key = options.idempotencyKey ?? newIdempotencyKey();
  return { signal: options.signal, headers: { ...options.headers, "idempotency-key": key } };
}

/** The path of one row: `/invoices/<key>`, the key percent-encoded. */
export function rowPath(collection: string, key: string | number): string {
  return `/${collection}/${encodeURIComponent(String(key))}`;
}

type Scalar = string | number | boolean;

function text(value: unknown): string {
  return Array.isArray(value) ? value.map((v: Scalar) => String(v)).join(",") : String(value);
}

/** `filter`, `sort`, `page`, `count`, `include` as the API's query parameters. */
export function listQuery(params: {
  filter?: object;
  sort?: readonly string[];
  include?: readonly string[];
  page?: { size?: number; after?: string; number?: number };
  count?: boolean;
}): Query {
  const query: [string, string][] = [];
  for (const [field, condition] of Object.entries(params.filter ?? {})) {
    if (condition === undefined) continue;
    if (typeof condition === "object" && condition !== null && !Array.isArray(condition)) {
      for (const [op, value] of Object.entries(condition as Record<string, unknown>)) {
        if (value !== undefined) query.push([`filter[${field}][${op}]`, text(value)]);
      }
    } else {
      query.push([`filter[${field}]`, text(condition)]);
    }
  }
  if (params.sort?.length) query.push(["sort", params.sort.join(",")]);
  if (params.page?.size !== undefined) query.push(["page[size]", String(params.page.size)]);
  if (params.page?.after !== undefined) query.push(["page[after]", params.page.after]);
  if (params.page?.number !== undefined) query.push(["page[number]", String(params.page.number)]);
  if (params.count !== undefined) query.push(["count", String(params.count)]);
  if (params.include?.length) query.push(["include", params.include.join(",")]);
  return query;
}

/** A tenant as sign-up and `me` describe it. */
export type TenantSummary = { id: string; name: string; slug: string };
/** The signed-in user, their tenants and roles in the current one (`GET /api/auth/me`). */
export type Me = {
  user: { id: string; email: string; name: string | null; [column: string]: unknown };
  memberships: { tenant: TenantSummary; roles: string[] }[];
  tenant: TenantSummary | null;
  roles: string[];
};

/** Sign-up, sign-in and the current user; see docs/api-auth.md. */
export function authApi(transport: Transport) {
  return {
    /** A new user and a new tenant where they are admin; signs them in. */
    signup: (body: { email: string; password: string; tenant: string }, options: RequestOptions = {}) =>
      transport.request<{ token: string; user: Me["user"]; tenant: { id: string; [column: string]: unknown }; roles: string[] }>(
        "POST",
        "/auth/signup",
        { body, ...options },
      ),
    /** A bearer token (and session cookies) for an email and password. */
    login: (body: { email: string; password: string }, options: RequestOptions = {}) =>
      transport.request<{ token: string }>("POST", "/auth/login", { body, ...options }),
    /** Ends the session. */
    logout: (options: RequestOptions = {}) => transport.request<void>("POST", "/auth/logout", options),
    /** Who is signed in. */
    me: (options: RequestOptions = {}) => transport.request<Me>("GET", "/auth/me", options),
  };
}
