// Reframe UI runtime: the create and edit form of an entity.
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).
//
// The form shows the form view's fields with their widgets, checks them as the
// server would before sending, and shows the server's field errors next to
// their fields. An edit sends only what changed, with the ETag of the copy the
// user started from: if someone saved in between, the conflict is shown and
// nothing is overwritten. A many-to-many is edited as the keys of the linked
// rows: the edit fetches the row with them included, and sends keys, which
// replace the links.

import { useState, type ReactNode } from "react";
import { isProblem } from "../../client/errors";
import { FieldControl, Loading, ProblemAlert, messageOf } from "./common";
import { entityNamed, useSession } from "./context";
import { etagOf, keyOf, titleOf, useCreate, useRow, useUpdate } from "./data";
import { RelatedRows, serverError } from "./detail";
import { allowed, fieldOf, type AppMeta, type EntityMeta, type FieldMeta, type Row } from "./meta";
import { navigate, useLocation } from "./router";
import { problemWith } from "./validation";
import { Link } from "./widgets";

type Values = Record<string, unknown>;

/** The form's fields: a one-to-many is listed (rows are added from it), the rest are inputs. */
function formFields(entity: EntityMeta): FieldMeta[] {
  return entity.form.fields.map((n) => fieldOf(entity, n)).filter((f): f is FieldMeta => !!f);
}

/** The many-to-many fields an edit sets: fetched with the row (`include`) for their links. */
function linkFields(entity: EntityMeta): string[] {
  return formFields(entity)
    .filter((f) => f.type === "many_to_many" && f.updatable)
    .map((f) => f.name);
}

/** The keys of the rows a many-to-many links (included rows, or keys already). */
function linkedKeys(app: AppMeta, field: FieldMeta, value: unknown): string[] {
  const key = (field.target && entityNamed(app, field.target)?.key) ?? "id";
  const items: readonly unknown[] = Array.isArray(value) ? value : [];
  return items.map((item) =>
    item !== null && typeof item === "object" ? String((item as Row)[key]) : String(item),
  );
}

export function CreateForm(props: { entity: EntityMeta }) {
  const { entity } = props;
  const { query } = useLocation();
  const mutation = useCreate(entity);
  const initial: Values = {};
  for (const field of formFields(entity)) {
    if (!field.creatable) continue;
    const given = query.get(field.name);
    initial[field.name] = given ?? field.default ?? (field.type === "array" ? [] : null);
  }
  return (
    <EntityForm
      entity={entity}
      title={`New ${entity.label.toLowerCase()}`}
      initial={initial}
      row={null}
      pending={mutation.isPending}
      error={mutation.error}
      onSubmit={(values) =>
        mutation.mutate(values, {
          onSuccess: (row) => navigate(`${entity.route}/${encodeURIComponent(keyOf(entity, row))}`),
        })
      }
      cancel={entity.route}
    />
  );
}

export function EditForm(props: { entity: EntityMeta; rowKey: string }) {
  const { entity, rowKey } = props;
  // Its ETag is the stored row's, with or without `include`: If-Match works with it.
  const result = useRow(entity, rowKey, linkFields(entity));
  if (result.isPending) return <Loading what={entity.label.toLowerCase()} />;
  if (result.error) return <ProblemAlert error={result.error} />;
  // Keyed by the row's ETag: a reload after a conflict starts from the saved copy.
  return <EditLoaded key={etagOf(result.data) ?? ""} entity={entity} rowKey={rowKey} row={result.data} reload={() => result.refetch()} />;
}

function EditLoaded(props: { entity: EntityMeta; rowKey: string; row: Row; reload: () => void }) {
  const { entity, rowKey, row } = props;
  const { app } = useSession();
  const mutation = useUpdate(entity);
  // The copy the user edits: its ETag is sent with the change, whatever is fetched meanwhile.
  const [etag] = useState(() => etagOf(row) ?? null);
  const initial: Values = {};
  for (const field of formFields(entity)) {
    // A many-to-many's value is the linked rows' keys: what the picker edits and the PATCH sends.
    initial[field.name] =
      field.type === "many_to_many" && field.updatable ? linkedKeys(app, field, row[field.name]) : (row[field.name] ?? null);
  }
  const conflict = isProblem(mutation.error, 412);
  return (
    <EntityForm
      entity={entity}
      title={`Edit ${entity.label.toLowerCase()} ${titleOf(entity, row)}`}
      initial={initial}
      row={row}
      pending={mutation.isPending}
      error={conflict ? null : mutation.error}
      conflict={
        conflict ? (
          <div role="alert" className="rf-alert rf-conflict">
            <p>
              This {entity.label.toLowerCase()} was changed by someone else after you opened it. Your changes were not
              saved, so theirs are not lost.
            </p>
            <button type="button" className="rf-button" onClick={props.reload}>
              Load the latest version
            </button>
          </div>
        ) : null
      }
      onSubmit={(values) => {
        const changes = Object.fromEntries(
          Object.entries(values).filter(([name, value]) => JSON.stringify(value) !== JSON.stringify(initial[name])),
        );
        const detail = `${entity.route}/${encodeURIComponent(rowKey)}`;
        if (Object.keys(changes).length === 0) return navigate(detail);
        mutation.mutate({ key: rowKey, changes, ifMatch: etag }, { onSuccess: () => navigate(detail) });
      }}
      cancel={`${entity.route}/${encodeURIComponent(rowKey)}`}
    />
  );
}

function EntityForm(props: {
  entity: EntityMeta;
  title: string;
  initial: Values;
  /** The saved row when editing. */
  row: Row | null;
  pending: boolean;
  error: unknown;
  conflict?: ReactNode;
  onSubmit: (values: Values) => void;
  cancel: string;
}) {
  const { entity, row } = props;
  const session = useSession();
  const [values, setValues] = useState<Values>(props.initial);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const editing = row !== null;
  const subject: Row = row ?? { ...values, tenant: session.caller.tenantId, created_by: session.caller.userId };
  const seen = (f: FieldMeta) => !entity.can.see?.[f.name] || allowed(entity.can.see[f.name], subject, session.caller);
  const fields = formFields(entity).filter(seen);
  const writable = (f: FieldMeta) =>
    (editing ? f.updatable : f.creatable) &&
    (!entity.can.edit?.[f.name] || allowed(entity.can.edit[f.name], subject, session.caller));
  const submit = () => {
    const found: Record<string, string> = {};
    const sent: Values = {};
    for (const field of fields) {
      if (!writable(field) || !(field.name in values)) continue;
      const problem = problemWith(field, values[field.name], field.required && !editing);
      if (problem) found[field.name] = problem;
      sent[field.name] = values[field.name];
    }
    setErrors(found);
    if (Object.keys(found).length) {
      document.getElementById(`f-${entity.name}-${Object.keys(found)[0]}`)?.focus();
      return;
    }
    props.onSubmit(editing ? sent : Object.fromEntries(Object.entries(sent).filter(([, v]) => v !== null)));
  };
  const unplaced = isProblem(props.error, 422)
    ? props.error.errors.filter((e) => !fields.some((f) => serverError(props.error, f.name) === e.message))
    : [];
  return (
    <section className="rf-page" aria-labelledby="rf-page-title">
      <header className="rf-page-header">
        <p className="rf-crumbs">
          <Link href={entity.route}>{entity.labelPlural}</Link>
        </p>
        <h1 id="rf-page-title">{props.title}</h1>
      </header>
      {props.conflict}
      <form
        className="rf-form"
        noValidate
        aria-labelledby="rf-page-title"
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        {fields.map((field) => {
          if (field.type === "one_to_many") {
            return row ? (
              <RelatedRows key={field.name} entity={entity} field={field} row={row} />
            ) : (
              <p key={field.name} className="rf-note">
                {field.label}: add them once this {entity.label.toLowerCase()} is saved.
              </p>
            );
          }
          if (field.type === "many_to_many" && !writable(field)) return null;
          const readOnly = !writable(field);
          if (readOnly && !editing) return null;
          return (
            <FieldControl
              key={field.name}
              entity={entity}
              field={field}
              value={values[field.name] ?? null}
              onChange={(value) => {
                setValues((current) => ({ ...current, [field.name]: value }));
                if (errors[field.name]) setErrors(({ [field.name]: _, ...rest }) => rest);
              }}
              error={errors[field.name] ?? serverError(props.error, field.name)}
              readOnly={readOnly}
              required={field.required && !editing && !readOnly}
            />
          );
        })}
        {props.error && !isProblem(props.error, 422) ? <ProblemAlert error={props.error} /> : null}
        {unplaced.length ? (
          <div role="alert" className="rf-alert">
            {unplaced.map((e) => `${e.field}: ${e.message}`).join(" ")}
          </div>
        ) : null}
        {isProblem(props.error, 422) && unplaced.length === 0 ? (
          <p className="rf-sr-only" role="status">
            {messageOf(props.error)}
          </p>
        ) : null}
        <div className="rf-form-buttons">
          <button type="submit" className="rf-button rf-primary" disabled={props.pending}>
            {editing ? "Save" : `Create ${entity.label.toLowerCase()}`}
          </button>
          <Link className="rf-button" href={props.cancel}>
            Cancel
          </Link>
        </div>
      </form>
    </section>
  );
}
