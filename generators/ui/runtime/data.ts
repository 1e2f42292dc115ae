// Reframe UI runtime: reading and writing rows of any entity through the generated client.
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).
//
// Query keys are the generated hooks' own (`[entity, "list", params]`,
// `[entity, "get", {key, include}]`), so a write invalidates exactly what the
// client's invalidation map says, whichever side made it.

import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { etagOf, listQuery, newIdempotencyKey, rowPath } from "../../client/client";
import { invalidate, useClient } from "../../client/hooks";
import type { EntityName, Page } from "../../client/types";
import type * as Early from "./early";
import type { ListParams } from "./lists";
import type { EntityMeta, Row } from "./meta";

export type { ListParams };

/** The page's early answers (early.ts): none until the app is started with them. */
let takeEarly: typeof Early.takeEarly = () => undefined;

export function answerEarlyFrom(early: typeof Early): void {
  takeEarly = early.takeEarly;
}

function named(entity: EntityMeta): EntityName {
  return entity.name as EntityName;
}

/** A page of rows; the previous page stays on screen while the next one loads. */
export function useList(entity: EntityMeta, params: ListParams, enabled = true) {
  const client = useClient();
  return useQuery({
    queryKey: [entity.name, "list", params],
    queryFn: ({ signal }) => {
      const path = `/${entity.path}`;
      const query = listQuery(params);
      // The page's first list may have been asked before React ran (early.ts).
      return takeEarly<Page<Row>>(path, query) ?? client.transport.request<Page<Row>>("GET", path, { query, signal });
    },
    placeholderData: keepPreviousData,
    enabled,
  });
}

/** One row (with `include`); `etagOf(data)` is its ETag, so the data object is kept as the server sent it. */
export function useRow(entity: EntityMeta, key: string | null | undefined, include: readonly string[] = []) {
  const client = useClient();
  return useQuery({
    queryKey: [entity.name, "get", { key: key ?? "", include }],
    queryFn: ({ signal }) =>
      client.transport.request<Row>("GET", rowPath(entity.path, key as string), {
        query: listQuery({ include }),
        signal,
      }),
    enabled: key !== null && key !== undefined && key !== "",
    // Structural sharing would copy a changed row, and the copy has no ETag.
    structuralSharing: false,
  });
}

export { etagOf };

export function useCreate(entity: EntityMeta) {
  const client = useClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: Record<string, unknown>) =>
      client.transport.request<Row>("POST", `/${entity.path}`, { body }),
    onSuccess: () => invalidate(queryClient, named(entity), "create"),
  });
}

export function useUpdate(entity: EntityMeta) {
  const client = useClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (v: { key: string; changes: Record<string, unknown>; ifMatch?: string | null }) =>
      client.transport.request<Row>("PATCH", rowPath(entity.path, v.key), {
        body: v.changes,
        headers: v.ifMatch ? { "if-match": v.ifMatch } : {},
      }),
    onSuccess: () => invalidate(queryClient, named(entity), "update"),
  });
}

export function useDelete(entity: EntityMeta) {
  const client = useClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (key: string) => client.transport.request<void>("DELETE", rowPath(entity.path, key)),
    onSuccess: () => invalidate(queryClient, named(entity), "delete"),
  });
}

/** Run an action; one Idempotency-Key per click, so a retried request runs it once. */
export function useAction(entity: EntityMeta, action: string) {
  const client = useClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (v: { key: string; input?: Record<string, unknown>; idempotencyKey?: string }) =>
      client.transport.request<Row>("POST", `${rowPath(entity.path, v.key)}/actions/${action}`, {
        body: v.input,
        headers: { "idempotency-key": v.idempotencyKey ?? newIdempotencyKey() },
      }),
    onSuccess: () => invalidate(queryClient, named(entity), "update"),
  });
}

/** The key of a row, as a string. */
export function keyOf(entity: EntityMeta, row: Row): string {
  return String(row[entity.key]);
}

/** What a row is called: its display field, else its key. */
export function titleOf(entity: EntityMeta, row: Row | null | undefined): string {
  if (!row) return "";
  const value = row[entity.display];
  return value === null || value === undefined || value === "" ? keyOf(entity, row) : String(value);
}
