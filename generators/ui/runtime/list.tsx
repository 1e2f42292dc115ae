// Reframe UI runtime: the list view of an entity: columns, filters, sort, keyset pages.
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).
//
// Filters and the sort live in the address (`?status=sent&sort=-total`), so a
// filtered list can be bookmarked and the back button works; the page cursor
// is kept here, reset whenever the filters or the sort change.

import { useMemo, useState, type MouseEvent } from "react";
import { DisplayValue, Loading, ProblemAlert } from "./common";
import { useSession } from "./context";
import { keyOf, useList } from "./data";
import { FILTER_PREFIX, listParams, listState, type ListState } from "./lists";
import { allowed, type EntityMeta, type FieldMeta, type Row } from "./meta";
import { navigate, useLocation, withQuery } from "./router";
import { resolveWidget } from "./registry";
import { DisplayModeContext, Link, humanise } from "./widgets";

export function ListView(props: { entity: EntityMeta }) {
  const { entity } = props;
  const { query } = useLocation();
  const list = listState(entity, query);
  if (list === null) return <ProblemAlert error={new Error(`${entity.label} has no list view in the model.`)} />;
  return <Rows key={entity.name} entity={entity} list={list} query={query} />;
}

function Rows(props: { entity: EntityMeta; list: ListState; query: URLSearchParams }) {
  const { entity, list, query } = props;
  const { view, columns, filterFields, filter, sort } = list;
  const session = useSession();
  const state = JSON.stringify([filter, sort, view.name]);
  const [pages, setPages] = useState<{ state: string; cursors: string[] }>({ state, cursors: [] });
  const cursors = pages.state === state ? pages.cursors : [];
  const after = cursors[cursors.length - 1];
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const params = useMemo(() => listParams(list, after), [state, after]);
  const result = useList(entity, params);
  const prospective: Row = { tenant: session.caller.tenantId, created_by: session.caller.userId };
  const canCreate = allowed(entity.can.create, prospective, session.caller);
  const others = entity.lists.filter((l) => l !== view);

  return (
    <section className="rf-page" aria-labelledby="rf-page-title">
      <header className="rf-page-header">
        <h1 id="rf-page-title">{view.name === "list" ? entity.labelPlural : view.title}</h1>
        <nav aria-label={`${entity.labelPlural} views`} className="rf-views">
          {others.map((l) => (
            <Link key={l.name} href={l.name === "list" ? entity.route : `${entity.route}?view=${l.name}`}>
              {l.name === "list" ? `All ${entity.labelPlural.toLowerCase()}` : l.title}
            </Link>
          ))}
        </nav>
        {canCreate ? (
          <Link className="rf-button rf-primary" href={`${entity.route}/new`}>
            New {entity.label.toLowerCase()}
          </Link>
        ) : null}
      </header>
      {filterFields.length ? <Filters entity={entity} fields={filterFields} query={query} /> : null}
      {result.isPending ? <Loading what={entity.labelPlural.toLowerCase()} /> : null}
      <ProblemAlert error={result.error} />
      {result.data && result.data.items.length === 0 ? (
        <p className="rf-empty" role="status">
          {Object.keys(filter).length ? `No ${entity.labelPlural.toLowerCase()} match these filters.` : `No ${entity.labelPlural.toLowerCase()} yet.`}
        </p>
      ) : null}
      {result.data && result.data.items.length > 0 ? (
        <table className="rf-table" aria-label={entity.labelPlural} aria-busy={result.isFetching}>
          <thead>
            <tr>
              {columns.map((field) => (
                <SortHeader key={field.name} field={field} sort={sort} />
              ))}
            </tr>
          </thead>
          <tbody>
            <DisplayModeContext value="list">
            {result.data.items.map((row) => (
              <tr key={keyOf(entity, row)} className="rf-row" onClick={(e) => openRow(e, entity, row)}>
                {columns.map((field, index) => (
                  <td key={field.name} data-column={field.name}>
                    {index === 0 ? (
                      <Link href={`${entity.route}/${encodeURIComponent(keyOf(entity, row))}`}>
                        <DisplayValue entity={entity} field={field} row={row} />
                      </Link>
                    ) : (
                      <DisplayValue entity={entity} field={field} row={row} />
                    )}
                  </td>
                ))}
              </tr>
            ))}
            </DisplayModeContext>
          </tbody>
        </table>
      ) : null}
      {result.data ? (
        <nav className="rf-pager" aria-label="Pages">
          <button
            type="button"
            disabled={cursors.length === 0}
            onClick={() => setPages({ state, cursors: cursors.slice(0, -1) })}
          >
            Previous page
          </button>
          <span role="status">
            {pageSummary(cursors.length, view.pageSize, result.data.items.length, result.data.total)}
          </span>
          <button
            type="button"
            disabled={!result.data.next}
            onClick={() => result.data?.next && setPages({ state, cursors: [...cursors, result.data.next] })}
          >
            Next page
          </button>
        </nav>
      ) : null}
    </section>
  );
}

function pageSummary(index: number, size: number, shown: number, total: number | undefined): string {
  if (shown === 0) return total === undefined ? "" : `${total} in all`;
  const first = index * size + 1;
  const range = `${first}–${first + shown - 1}`;
  return total === undefined ? range : `${range} of ${total}`;
}

function openRow(event: MouseEvent, entity: EntityMeta, row: Row): void {
  // A click on the link itself (or with a modifier, for a new tab) is the link's.
  if ((event.target as HTMLElement).closest("a") || event.metaKey || event.ctrlKey) return;
  navigate(`${entity.route}/${encodeURIComponent(keyOf(entity, row))}`);
}

function SortHeader(props: { field: FieldMeta; sort: readonly string[] }) {
  const { field, sort } = props;
  const current = sort[0] === field.name ? "ascending" : sort[0] === `-${field.name}` ? "descending" : "none";
  if (!field.sortable) return <th scope="col">{field.label}</th>;
  const next = current === "ascending" ? `-${field.name}` : field.name;
  return (
    <th scope="col" aria-sort={current}>
      <button type="button" className="rf-sort" onClick={() => navigate(withQuery({ sort: next }))}>
        {field.label}
        <span aria-hidden="true">{current === "ascending" ? " ▲" : current === "descending" ? " ▼" : ""}</span>
      </button>
    </th>
  );
}

function Filters(props: { entity: EntityMeta; fields: FieldMeta[]; query: URLSearchParams }) {
  return (
    <form className="rf-filters" role="search" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
      {props.fields.map((field) => (
        <FilterControl
          key={field.name}
          entity={props.entity}
          field={field}
          value={props.query.get(FILTER_PREFIX + field.name) ?? ""}
        />
      ))}
    </form>
  );
}

function FilterControl(props: { entity: EntityMeta; field: FieldMeta; value: string }) {
  const { entity, field, value } = props;
  const id = `filter-${field.name}`;
  const set = (text: string | null) => navigate(withQuery({ [FILTER_PREFIX + field.name]: text }), { replace: true });
  let control;
  if (field.values && (field.type === "enum" || field.type === "state")) {
    control = (
      <select id={id} value={value} onChange={(e) => set(e.target.value)}>
        <option value="">Any</option>
        {field.values.map((v) => (
          <option key={v} value={v}>
            {humanise(v)}
          </option>
        ))}
      </select>
    );
  } else if (field.type === "boolean") {
    control = (
      <select id={id} value={value} onChange={(e) => set(e.target.value)}>
        <option value="">Any</option>
        <option value="true">Yes</option>
        <option value="false">No</option>
      </select>
    );
  } else if (field.type === "ref") {
    const Input = resolveWidget(entity, field, "Input")?.component;
    control = Input ? (
      <Input
        entity={entity}
        field={{ ...field, nullable: true, required: false }}
        value={value || null}
        onChange={(v) => set(v === null ? null : String(v))}
        id={id}
        readOnly={false}
        required={false}
      />
    ) : null;
  } else {
    control = (
      <input
        id={id}
        type="search"
        defaultValue={value}
        onKeyDown={(e) => e.key === "Enter" && set(e.currentTarget.value)}
        onBlur={(e) => set(e.currentTarget.value)}
      />
    );
  }
  return (
    <div className="rf-filter">
      <label id={`${id}-label`} htmlFor={id}>
        {field.label}
      </label>
      {control}
    </div>
  );
}
