// Reframe UI runtime: the detail view of a row: tabs, related rows, actions.
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).
//
// An action's button shows only where the row's state allows the transition,
// its guard does not say no, and the policy mirror allows the caller; the
// server decides anyway, and when it refuses its answer is shown.

import { useRef, useState, type KeyboardEvent } from "react";
import { Dialog, DisplayValue, FieldControl, Loading, ProblemAlert, messageOf } from "./common";
import { entityNamed, useSession } from "./context";
import { keyOf, titleOf, useAction, useDelete, useRow } from "./data";
import { allowed, fieldOf, type ActionMeta, type Caller, type EntityMeta, type FieldMeta, type Row } from "./meta";
import { navigate } from "./router";
import { problemWith } from "./validation";
import { DisplayModeContext, Link } from "./widgets";

/** Relations shown on the page, fetched with the row in one request. */
function includesOf(entity: EntityMeta): string[] {
  const shown = new Set(entity.detail.tabs.flatMap((t) => t.fields));
  return entity.fields
    .filter((f) => shown.has(f.name) && (f.type === "ref" || f.type === "one_to_many" || f.type === "many_to_many"))
    .map((f) => f.name);
}

/** Whether the action's button is shown for this row and caller. */
export function actionShown(action: ActionMeta, row: Row, caller: Caller): boolean {
  if (action.stateField && !action.sources.includes(String(row[action.stateField]))) return false;
  if (action.guard && action.guard(row) === false) return false;
  return allowed(action.can, row, caller);
}

export function DetailView(props: { entity: EntityMeta; rowKey: string }) {
  const { entity, rowKey } = props;
  const session = useSession();
  const result = useRow(entity, rowKey, includesOf(entity));
  if (result.isPending) return <Loading what={entity.label.toLowerCase()} />;
  if (result.error) {
    return (
      <section className="rf-page">
        <h1>{entity.label}</h1>
        <ProblemAlert error={result.error} />
        <Link href={entity.route}>Back to {entity.labelPlural.toLowerCase()}</Link>
      </section>
    );
  }
  const row = result.data;
  const caller = session.caller;
  return (
    <section className="rf-page" aria-labelledby="rf-page-title">
      <header className="rf-page-header">
        <p className="rf-crumbs">
          <Link href={entity.route}>{entity.labelPlural}</Link>
        </p>
        <h1 id="rf-page-title">
          {entity.label} {titleOf(entity, row)}
        </h1>
        <div className="rf-actions" role="group" aria-label="Actions">
          {entity.actions
            .filter((a) => actionShown(a, row, caller))
            .map((a) => (
              <ActionButton key={a.name} entity={entity} action={a} row={row} />
            ))}
          {allowed(entity.can.update, row, caller) ? (
            <Link className="rf-button" href={`${entity.route}/${encodeURIComponent(rowKey)}/edit`}>
              Edit
            </Link>
          ) : null}
          {allowed(entity.can.delete, row, caller) ? <DeleteButton entity={entity} row={row} /> : null}
        </div>
      </header>
      <Tabs entity={entity} row={row} />
    </section>
  );
}

function Tabs(props: { entity: EntityMeta; row: Row }) {
  const { entity, row } = props;
  const tabs = entity.detail.tabs;
  const [current, setCurrent] = useState(0);
  const buttons = useRef<(HTMLButtonElement | null)[]>([]);
  const move = (event: KeyboardEvent, index: number) => {
    const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
    const target = event.key === "Home" ? 0 : event.key === "End" ? tabs.length - 1 : (index + step + tabs.length) % tabs.length;
    if (step === 0 && event.key !== "Home" && event.key !== "End") return;
    event.preventDefault();
    setCurrent(target);
    buttons.current[target]?.focus();
  };
  const base = `tabs-${entity.name}`;
  return (
    <div className="rf-tabs">
      {tabs.length > 1 ? (
        <div role="tablist" aria-label={`${entity.label} sections`}>
          {tabs.map((tab, index) => (
            <button
              key={tab.title}
              ref={(el) => {
                buttons.current[index] = el;
              }}
              type="button"
              role="tab"
              id={`${base}-tab-${index}`}
              aria-selected={index === current}
              aria-controls={`${base}-panel-${index}`}
              tabIndex={index === current ? 0 : -1}
              onClick={() => setCurrent(index)}
              onKeyDown={(e) => move(e, index)}
            >
              {tab.title}
            </button>
          ))}
        </div>
      ) : null}
      {tabs.map((tab, index) => (
        <div
          key={tab.title}
          role={tabs.length > 1 ? "tabpanel" : undefined}
          id={`${base}-panel-${index}`}
          aria-labelledby={tabs.length > 1 ? `${base}-tab-${index}` : undefined}
          hidden={index !== current}
          className="rf-panel"
        >
          <TabBody entity={entity} row={row} fields={tab.fields} />
        </div>
      ))}
    </div>
  );
}

function TabBody(props: { entity: EntityMeta; row: Row; fields: readonly string[] }) {
  const { entity, row } = props;
  const session = useSession();
  const fields = props.fields.map((n) => fieldOf(entity, n)).filter((f): f is FieldMeta => !!f);
  const visible = fields.filter((f) => !entity.can.see?.[f.name] || allowed(entity.can.see[f.name], row, session.caller));
  if (fields.length === 0) return <Timeline entity={entity} row={row} />;
  const values = visible.filter((f) => f.type !== "one_to_many");
  const lists = visible.filter((f) => f.type === "one_to_many");
  return (
    <>
      {values.length ? (
        <dl className="rf-values">
          {values.map((field) => (
            <div key={field.name} className="rf-pair" data-field-name={field.name}>
              <dt>{field.label}</dt>
              <dd>
                <DisplayValue entity={entity} field={field} row={row} />
              </dd>
            </div>
          ))}
        </dl>
      ) : null}
      {lists.map((field) => (
        <RelatedRows key={field.name} entity={entity} field={field} row={row} />
      ))}
    </>
  );
}

/** Created and changed, by whom: what every row records. */
function Timeline(props: { entity: EntityMeta; row: Row }) {
  const stamps = ["created_at", "created_by", "updated_at"]
    .map((n) => fieldOf(props.entity, n))
    .filter((f): f is FieldMeta => !!f && props.row[f.name] !== undefined);
  if (stamps.length === 0) return <p>Nothing recorded yet.</p>;
  return (
    <dl className="rf-values">
      {stamps.map((field) => (
        <div key={field.name} className="rf-pair">
          <dt>{field.label}</dt>
          <dd>
            <DisplayValue entity={props.entity} field={field} row={props.row} />
          </dd>
        </div>
      ))}
    </dl>
  );
}

/** The rows of a one-to-many relation (included with the row), with a way to add one. */
export function RelatedRows(props: { entity: EntityMeta; field: FieldMeta; row: Row }) {
  const { entity, field, row } = props;
  const session = useSession();
  const target = field.target ? entityNamed(session.app, field.target) : undefined;
  const rows = row[field.name];
  if (!target || !Array.isArray(rows)) return null;
  const columns = (target.lists[0]?.columns ?? [target.display])
    .filter((n) => n !== field.via)
    .map((n) => fieldOf(target, n))
    .filter((f): f is FieldMeta => !!f);
  const key = keyOf(entity, row);
  const prospective: Row = { [field.via ?? ""]: row, tenant: session.caller.tenantId, created_by: session.caller.userId };
  const canAdd = field.via !== undefined && allowed(target.can.create, prospective, session.caller);
  const headingId = `related-${field.name}`;
  return (
    <section className="rf-related" aria-labelledby={headingId}>
      <h2 id={headingId}>{field.label}</h2>
      {rows.length === 0 ? (
        <p className="rf-empty">None yet.</p>
      ) : (
        <table className="rf-table" aria-labelledby={headingId}>
          <thead>
            <tr>
              {columns.map((c) => (
                <th key={c.name} scope="col">
                  {c.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            <DisplayModeContext value="list">
            {(rows as Row[]).map((related) => (
              <tr key={keyOf(target, related)}>
                {columns.map((c, index) => (
                  <td key={c.name} data-column={c.name}>
                    {index === 0 ? (
                      <Link href={`${target.route}/${encodeURIComponent(keyOf(target, related))}`}>
                        <DisplayValue entity={target} field={c} row={related} />
                      </Link>
                    ) : (
                      <DisplayValue entity={target} field={c} row={related} />
                    )}
                  </td>
                ))}
              </tr>
            ))}
            </DisplayModeContext>
          </tbody>
        </table>
      )}
      {canAdd ? (
        <Link className="rf-button" href={`${target.route}/new?${field.via}=${encodeURIComponent(key)}`}>
          Add {target.label.toLowerCase()}
        </Link>
      ) : null}
    </section>
  );
}

function ActionButton(props: { entity: EntityMeta; action: ActionMeta; row: Row }) {
  const { entity, action, row } = props;
  const mutation = useAction(entity, action.name);
  const [asking, setAsking] = useState(false);
  const key = keyOf(entity, row);
  return (
    <>
      <button
        type="button"
        className="rf-button rf-primary"
        data-action={action.name}
        disabled={mutation.isPending}
        onClick={() => (action.inputs.length ? setAsking(true) : mutation.mutate({ key }))}
      >
        {action.label}
      </button>
      {mutation.error && !asking ? (
        <ProblemAlert error={mutation.error}>
          {action.label} was refused: {messageOf(mutation.error)}
        </ProblemAlert>
      ) : null}
      {asking ? (
        <ActionDialog
          entity={entity}
          action={action}
          error={mutation.error}
          pending={mutation.isPending}
          onClose={() => {
            setAsking(false);
            mutation.reset();
          }}
          onRun={(input) => mutation.mutate({ key, input }, { onSuccess: () => setAsking(false) })}
        />
      ) : null}
    </>
  );
}

function ActionDialog(props: {
  entity: EntityMeta;
  action: ActionMeta;
  error: unknown;
  pending: boolean;
  onClose: () => void;
  onRun: (input: Record<string, unknown>) => void;
}) {
  const { entity, action } = props;
  const [values, setValues] = useState<Record<string, unknown>>(() =>
    Object.fromEntries(action.inputs.map((f) => [f.name, f.default ?? null])),
  );
  const [errors, setErrors] = useState<Record<string, string>>({});
  const submit = () => {
    const found: Record<string, string> = {};
    for (const field of action.inputs) {
      const problem = problemWith(field, values[field.name], field.required);
      if (problem) found[field.name] = problem;
    }
    setErrors(found);
    if (Object.keys(found).length === 0) {
      props.onRun(Object.fromEntries(Object.entries(values).filter(([, v]) => v !== null && v !== "")));
    }
  };
  return (
    <Dialog title={action.label} onClose={props.onClose}>
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        {action.inputs.map((field) => (
          <FieldControl
            key={field.name}
            entity={entity}
            field={field}
            value={values[field.name]}
            onChange={(v) => setValues({ ...values, [field.name]: v })}
            error={errors[field.name] ?? serverError(props.error, field.name)}
            readOnly={false}
            required={field.required}
          />
        ))}
        <ProblemAlert error={props.error} />
        <div className="rf-form-buttons">
          <button type="submit" className="rf-button rf-primary" disabled={props.pending}>
            {action.label}
          </button>
          <button type="button" className="rf-button" onClick={props.onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/** The server's message for one field of a 422, if it named it. */
export function serverError(error: unknown, field: string): string | undefined {
  const errors = (error as { errors?: { field: string; message: string }[] } | null)?.errors;
  const found = errors?.find((e) => e.field === field || e.field.endsWith(`.${field}`));
  return found?.message;
}

function DeleteButton(props: { entity: EntityMeta; row: Row }) {
  const { entity, row } = props;
  const mutation = useDelete(entity);
  const [asking, setAsking] = useState(false);
  return (
    <>
      <button type="button" className="rf-button rf-danger" onClick={() => setAsking(true)}>
        Delete
      </button>
      {asking ? (
        <Dialog title={`Delete ${entity.label.toLowerCase()} ${titleOf(entity, row)}?`} onClose={() => setAsking(false)}>
          <p>This cannot be undone.</p>
          <ProblemAlert error={mutation.error} />
          <div className="rf-form-buttons">
            <button
              type="button"
              className="rf-button rf-danger"
              disabled={mutation.isPending}
              onClick={() => mutation.mutate(keyOf(entity, row), { onSuccess: () => navigate(entity.route) })}
            >
              Delete
            </button>
            <button type="button" className="rf-button" onClick={() => setAsking(false)}>
              Cancel
            </button>
          </div>
        </Dialog>
      ) : null}
    </>
  );
}
