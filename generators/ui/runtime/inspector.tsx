// Reframe UI runtime: the in-app inspector of `gen dev`.
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).
//
// "Inspect" outlines every generated widget and view; a click on one says where it
// comes from: the model line that declared it, its IR node, the generator rule
// that made the module describing it and why, and whether an override replaced
// it. It reads the served snapshot's trace.json: the data `gen inspect` prints.

import { useEffect, useState } from "react";
import { entityNamed } from "./context";
import type { AppMeta } from "./meta";

// trace.json, version 2 (docs/trace.md): what the inspector reads of it.
type TraceArtifact = { readonly path: string };
type TraceElement = {
  readonly kind: string;
  readonly uid?: string;
  /** A field's: `+N` (N lines below its entity's declaration), or `file:line`. */
  readonly declared_at?: string;
  readonly origin?: string;
  readonly artifacts: readonly TraceArtifact[];
};
type TraceFile = { readonly rule: string; readonly reason: string };
type Trace = {
  readonly trace_version: number;
  /** The project's and each entity's `file:line`. */
  readonly declared_at: Readonly<Record<string, string>>;
  readonly elements: Readonly<Record<string, TraceElement>>;
  readonly files: Readonly<Record<string, TraceFile>>;
};

/** Where an element was declared, as `file:line`. */
function declaredAt(trace: Trace, name: string): string | undefined {
  const [entity] = name.split(".", 1);
  const own = trace.declared_at[entity];
  const said = name === entity ? own : trace.elements[name]?.declared_at;
  if (said === undefined || own === undefined || !/^[+-]\d+$/.test(said)) return said;
  const at = own.lastIndexOf(":");
  return `${own.slice(0, at)}:${Number(own.slice(at + 1)) + Number(said)}`;
}

/** What was clicked: a field's widget or a whole view, as the page marks them. */
type Picked = {
  readonly kind: "field" | "view";
  readonly name: string;
  /** The registry key that supplied the widget ("Invoice.total", "money"). */
  readonly key: string | null;
  readonly override: boolean;
};

const MARKED = "[data-rf-field], [data-component]";

function pickedFrom(element: Element): Picked {
  const field = element.getAttribute("data-rf-field");
  return {
    kind: field ? "field" : "view",
    name: field ?? element.getAttribute("data-component") ?? "",
    key: element.getAttribute("data-widget-key"),
    override: element.getAttribute("data-override") === "true",
  };
}

async function loadTrace(): Promise<Trace> {
  // The snapshot being served (not a versioned copy): `gen dev` may have rebuilt since.
  const response = await fetch("/_hook/trace.json", { cache: "no-cache" });
  if (!response.ok) throw new Error(`trace.json: ${response.status}`);
  return (await response.json()) as Trace;
}

export function Inspector(props: { app: AppMeta }) {
  const [on, setOn] = useState(false);
  const [picked, setPicked] = useState<Picked | null>(null);
  const [trace, setTrace] = useState<Trace | string | null>(null);

  useEffect(() => {
    if (!on) return;
    document.body.classList.add("rf-inspecting");
    const click = (event: MouseEvent) => {
      const target = event.target as Element | null;
      if (!target || target.closest(".rf-inspector")) return;
      const marked = target.closest(MARKED);
      if (!marked) return;
      // While inspecting, a click explains; it does not follow links or press buttons.
      event.preventDefault();
      event.stopPropagation();
      setPicked(pickedFrom(marked));
      loadTrace().then(setTrace, (error: unknown) => setTrace(String(error)));
    };
    document.addEventListener("click", click, true);
    return () => {
      document.body.classList.remove("rf-inspecting");
      document.removeEventListener("click", click, true);
    };
  }, [on]);

  return (
    <div className="rf-inspector">
      <button
        type="button"
        className="rf-inspect-toggle"
        aria-pressed={on}
        onClick={() => {
          setOn(!on);
          setPicked(null);
        }}
      >
        Inspect
      </button>
      {on && picked ? (
        <section className="rf-inspector-panel" role="dialog" aria-label="Inspector">
          <button type="button" className="rf-inspector-close" onClick={() => setPicked(null)}>
            Close
          </button>
          <Explained picked={picked} trace={trace} app={props.app} />
        </section>
      ) : null}
    </div>
  );
}

function Explained(props: { picked: Picked; trace: Trace | string | null; app: AppMeta }) {
  const { picked, trace, app } = props;
  if (trace === null) return <p>Reading trace.json…</p>;
  if (typeof trace === "string") return <p role="alert">The trace could not be read: {trace}</p>;
  const [entityName, member] = picked.name.split(/[.]/, 2);
  const entity = entityNamed(app, entityName);
  const elementName = picked.kind === "field" ? picked.name : entityName;
  const element = trace.elements[elementName];
  const declared = element ? declaredAt(trace, elementName) : undefined;
  const module = trace.elements[entityName]?.artifacts.find(
    (a) => trace.files[a.path]?.rule === "ui.entity",
  );
  const made = module ? { path: module.path, ...trace.files[module.path] } : undefined;
  const field = picked.kind === "field" ? entity?.fields.find((f) => f.name === member) : undefined;
  return (
    <dl>
      <dt>{picked.kind === "field" ? "Field" : "View"}</dt>
      <dd>
        <code>{picked.name}</code>
      </dd>
      <dt>Declared at</dt>
      <dd>
        <code>{declared ?? "not in the trace"}</code>
        {element?.origin && element.origin !== "declared" ? ` (${element.origin})` : ""}
      </dd>
      <dt>IR node</dt>
      <dd>
        {element ? `${element.kind} ${element.uid ?? ""}` : "none"}
        {field ? `: ${field.type}, widget ${field.widget}` : ""}
      </dd>
      <dt>Generated by</dt>
      <dd>
        {made ? (
          <>
            rule <code>{made.rule}</code> in <code>{made.path}</code>: {made.reason}
          </>
        ) : (
          "the UI runtime"
        )}
      </dd>
      <dt>Shown by</dt>
      <dd>
        {picked.override
          ? `an override (ui/overrides/), registered as "${picked.key ?? picked.name}"`
          : picked.kind === "field"
            ? `the built-in widget "${picked.key ?? field?.widget ?? "?"}"`
            : "the generated view"}
      </dd>
    </dl>
  );
}
