// Reframe UI runtime: pieces the views share: problems, dialogs, labelled fields.
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).

import { useEffect, useId, useRef, type KeyboardEvent, type ReactNode } from "react";
import { isProblem } from "../../client/errors";
import type { EntityMeta, FieldMeta, Row } from "./meta";
import { resolveWidget, useRegistry } from "./registry";

/** The words of a failed request: the server's problem detail when it sent one. */
export function messageOf(error: unknown): string {
  if (isProblem(error)) return error.detail ? `${error.title}: ${error.detail}` : error.title;
  return error instanceof Error ? error.message : String(error);
}

/** A failed request, announced to screen readers. */
export function ProblemAlert(props: { error: unknown; children?: ReactNode }) {
  if (!props.error) return null;
  return (
    <div role="alert" className="rf-alert">
      {props.children ?? messageOf(props.error)}
    </div>
  );
}

export function Loading(props: { what: string }) {
  return (
    <p role="status" className="rf-loading">
      Loading {props.what}…
    </p>
  );
}

/** A modal dialog: labelled, focus moved inside, Escape closes, focus returns where it was. */
export function Dialog(props: { title: string; onClose: () => void; children: ReactNode }) {
  const titleId = useId();
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    const first = box.current?.querySelector<HTMLElement>("input, select, textarea, button");
    first?.focus();
    return () => before?.focus();
  }, []);
  return (
    <div className="rf-backdrop" onMouseDown={(e) => e.target === e.currentTarget && props.onClose()}>
      <div
        ref={box}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        className="rf-dialog"
        onKeyDown={(e) => {
          if (e.key === "Escape") props.onClose();
          if (e.key === "Tab") trapFocus(e, box.current);
        }}
      >
        <h2 id={titleId}>{props.title}</h2>
        {props.children}
      </div>
    </div>
  );
}

function trapFocus(event: KeyboardEvent, box: HTMLElement | null): void {
  const focusable = box?.querySelectorAll<HTMLElement>("input, select, textarea, button, a[href]");
  if (!focusable || focusable.length === 0) return;
  const first = focusable[0];
  const last = focusable[focusable.length - 1];
  if (event.shiftKey && document.activeElement === first) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && document.activeElement === last) {
    event.preventDefault();
    first.focus();
  }
}

/** A field's value shown with its display widget (list cells, detail pages). */
export function DisplayValue(props: { entity: EntityMeta; field: FieldMeta; row: Row }) {
  useRegistry();
  const found = resolveWidget(props.entity, props.field, "Display");
  const value = props.row[props.field.name];
  if (!found) return <span>{value === null || value === undefined ? "—" : String(value)}</span>;
  const Display = found.component;
  return (
    <span
      className="rf-value"
      data-rf-field={`${props.entity.name}.${props.field.name}`}
      data-widget-key={found.key}
      data-override={found.source === "override" ? "true" : undefined}
    >
      <Display entity={props.entity} field={props.field} value={value} row={props.row} />
    </span>
  );
}

/** A labelled input: the label, the field's widget, its help and its error, wired for screen readers. */
export function FieldControl(props: {
  entity: EntityMeta;
  field: FieldMeta;
  value: unknown;
  onChange: (value: unknown) => void;
  error?: string;
  readOnly: boolean;
  required: boolean;
}) {
  useRegistry();
  const { entity, field } = props;
  const id = `f-${entity.name}-${field.name}`;
  const helpId = `${id}-help`;
  const found = resolveWidget(entity, field, "Input");
  const Input = found?.component;
  return (
    <div className={`rf-field${props.error ? " rf-field-invalid" : ""}`} data-field-name={field.name}>
      <label id={`${id}-label`} htmlFor={id}>
        {field.label}
        {props.required ? <span aria-hidden="true"> *</span> : null}
      </label>
      <div
        data-rf-field={`${entity.name}.${field.name}`}
        data-widget-key={found?.key}
        data-override={found?.source === "override" ? "true" : undefined}
      >
        {Input ? (
          <Input
            entity={entity}
            field={field}
            value={props.value}
            onChange={props.onChange}
            id={id}
            describedBy={helpId}
            error={props.error}
            readOnly={props.readOnly}
            required={props.required}
          />
        ) : (
          <input id={id} value={String(props.value ?? "")} readOnly aria-describedby={helpId} />
        )}
      </div>
      <div id={helpId} className="rf-help">
        {props.error ? (
          <span className="rf-error" role="alert">
            {props.error}
          </span>
        ) : null}
        {field.help ? <span>{field.help}</span> : null}
      </div>
    </div>
  );
}
