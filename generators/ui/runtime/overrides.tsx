// Reframe UI runtime: loading the project's `ui/overrides/`, and showing the ones that fail.
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).
//
// `gen serve` lists the override modules at /_overrides/index.js and compiles
// each on request. Each is imported on its own: one that does not compile or
// throws is reported here, with its file and line, and the app goes on without it.

import { useSyncExternalStore } from "react";

export type ModuleError = {
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
  readonly message: string;
  readonly lineText?: string;
};

const failures: ModuleError[] = [];
const listeners = new Set<() => void>();
let snapshot: readonly ModuleError[] = [];

export function reportModuleError(error: ModuleError): void {
  failures.push(error);
  snapshot = [...failures];
  for (const listener of listeners) listener();
}

function forget(file: string): void {
  const kept = failures.filter((f) => f.file !== file);
  failures.splice(0, failures.length, ...kept);
  snapshot = [...failures];
  for (const listener of listeners) listener();
}

function fileOf(url: string): string {
  return decodeURIComponent(url.replace(/^\/_overrides\//, "ui/overrides/"));
}

/**
 * Import overrides again after they were saved (`gen dev`): each registers itself anew,
 * replacing what it registered before. `stamp` makes the browser fetch them afresh.
 */
export async function reloadOverrides(paths: readonly string[], stamp: string): Promise<void> {
  await Promise.all(
    paths.map(async (path) => {
      const url = "/_overrides/" + path.replace(/^ui\/overrides\//, "").split("/").map(encodeURIComponent).join("/");
      forget(fileOf(url));
      try {
        await import(/* @vite-ignore */ `${url}?v=${stamp}`);
      } catch (error) {
        reportModuleError(describe(url, error));
      }
    }),
  );
}

function describe(url: string, error: unknown): ModuleError {
  const where = (error as { reframe?: ModuleError } | null)?.reframe;
  if (where) return where;
  const file = fileOf(url);
  return { file, message: error instanceof Error ? error.message : String(error) };
}

/** Import every override; resolve when all have run or failed. */
export async function loadOverrides(listing = "/_overrides/index.js"): Promise<void> {
  let urls: string[];
  try {
    const module = (await import(/* @vite-ignore */ listing)) as { default: string[] };
    urls = module.default;
  } catch (error) {
    reportModuleError({ file: "ui/overrides/", message: `the overrides could not be listed: ${String(error)}` });
    return;
  }
  const results = await Promise.allSettled(urls.map((url) => import(/* @vite-ignore */ url)));
  results.forEach((result, index) => {
    if (result.status === "rejected") reportModuleError(describe(urls[index], result.reason));
  });
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The overrides that failed, named by file and line; the rest of the app is unaffected. */
export function ModuleErrors() {
  const errors = useSyncExternalStore(subscribe, () => snapshot);
  if (errors.length === 0) return null;
  return (
    <section className="rf-module-errors" role="alert" aria-labelledby="rf-module-errors-title">
      <h2 id="rf-module-errors-title">
        {errors.length === 1 ? "An override could not be loaded" : `${errors.length} overrides could not be loaded`}
      </h2>
      {errors.map((e, index) => (
        <div key={index} className="rf-module-error">
          <p>
            <code>
              {e.file}
              {e.line ? `:${e.line}` : ""}
              {e.column ? `:${e.column}` : ""}
            </code>{" "}
            {e.message}
          </p>
          {e.lineText !== undefined ? (
            <pre>
              {e.lineText}
              {"\n"}
              {" ".repeat(Math.max(0, (e.column ?? 1) - 1))}^
            </pre>
          ) : null}
        </div>
      ))}
      <p>The app runs without it: the generated widgets are used instead. Fix the file and reload.</p>
    </section>
  );
}
