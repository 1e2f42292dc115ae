// Reframe UI runtime: following `gen dev` (only when the page names its event stream).
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).
//
// `gen dev` says on /_dev/events (server-sent events) when a saved model was
// rebuilt: the page imports the new snapshot's `ui/app` and re-renders with it
// in place (what is typed in a form stays), says it shows it (`gen dev` then
// reloads the API), and asks the API again. A saved
// override is imported again. A model that does not compile is shown over the
// app, with file and line, until a save compiles.

import { useSyncExternalStore } from "react";
import type { AppMeta } from "./meta";
import { reloadOverrides } from "./overrides";

/** A model error as `gen dev` sends it (compiler/diagnostics.py `as_json`). */
export type DevError = {
  readonly file: string;
  readonly line: number;
  readonly code: string;
  readonly message: string;
  readonly hint: string;
};

type DevEvent =
  | { type: "ok" | "error"; errors?: DevError[]; connected?: boolean }
  | { type: "update"; app: string; changed: string[]; reload: boolean; snapshot: number; connected?: boolean }
  | { type: "overrides"; paths: string[] };

let errors: readonly DevError[] = [];
const listeners = new Set<() => void>();

function setErrors(next: readonly DevError[]): void {
  errors = next;
  for (const listener of listeners) listener();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The URL of `gen dev`'s event stream, when the page is served by it. */
function eventsUrl(): string | null {
  return document.querySelector<HTMLMetaElement>('meta[name="reframe-dev"]')?.content ?? null;
}

/** Whether `gen dev` serves the page (dev-only tools show then). */
export function underDev(): boolean {
  return eventsUrl() !== null;
}

/**
 * Follow `gen dev`: `onApp` gets each rebuilt app, `refresh` is called once it is shown.
 * Does nothing on a page `gen serve` serves.
 */
export function followDev(onApp: (app: AppMeta) => void, refresh: () => void): void {
  const url = eventsUrl();
  if (url === null) return;
  let updates = 0;
  const source = new EventSource(url);
  source.onmessage = (message: MessageEvent<string>) => {
    const event = JSON.parse(message.data) as DevEvent;
    if (event.type === "error") setErrors(event.errors ?? []);
    else if (event.type === "overrides") void reloadOverrides(event.paths, String(++updates));
    else {
      setErrors([]);
      // The state the page connected in is the one it loaded: nothing to follow yet.
      if (event.type === "update" && !event.connected) void update(event, onApp, refresh);
    }
  };
}

async function update(
  event: Extract<DevEvent, { type: "update" }>,
  onApp: (app: AppMeta) => void,
  refresh: () => void,
): Promise<void> {
  if (event.reload) {
    window.location.reload();
    return;
  }
  const module = (await import(/* @vite-ignore */ event.app)) as { app: AppMeta };
  onApp(module.app);
  // Shown: `gen dev` reloads the API now (it waits for the pages, which it would slow down).
  void fetch(`${eventsUrl()}?shown=${event.snapshot}`, { method: "POST" }).catch(() => undefined);
  refresh();
}

/** The model error `gen dev` reported, over the app; gone once a save compiles again. */
export function DevOverlay() {
  const shown = useSyncExternalStore(subscribe, () => errors);
  if (shown.length === 0) return null;
  return (
    <div className="rf-dev-overlay" role="alertdialog" aria-labelledby="rf-dev-title" aria-modal="false">
      <h2 id="rf-dev-title">
        {shown.length === 1 ? "The model has an error" : `The model has ${shown.length} errors`}
      </h2>
      <ul>
        {shown.map((e, index) => (
          <li key={index}>
            <code>{e.line ? `${e.file}:${e.line}` : e.file}</code> {e.message}
            {e.hint ? <p className="rf-dev-hint">Fix: {e.hint}</p> : null}
          </li>
        ))}
      </ul>
      <p>The app goes on with the last model that compiled. Save a fix: this goes away.</p>
    </div>
  );
}
