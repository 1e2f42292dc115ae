"""The UI's routes (hookfs/web.py): snapshot files transpiled by the real esbuild, overrides
read from disk, vendor React built from node_modules, and node importing what is served."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.testclient import TestClient

from cli.main import main
from hookfs import transpile as transpile_module
from hookfs import vendor
from hookfs.store import HookStore
from hookfs.transpile import EsbuildMissing, TranspileError, Transpiler, esbuild_path, transpile
from hookfs.web import ui_routes
from runtime.serve import prepare, snapshot_files
from tests.conftest import EXAMPLE, Node
from tests.test_api_uvicorn import free_port

INDEX_HTML = b"""<!doctype html>
<html><head><script type="importmap">{"imports": {}}</script>
<script type="module" src="/_hook/ui/main.tsx"></script></head>
<body><div id="root"></div></body></html>
"""

MAIN_TSX = b"""import { useState } from "react";
import { QueryClient } from "@tanstack/react-query";
import { ProblemError, isProblem, rowPath } from "../client";

type Props = { name: string };

export function Hello({ name }: Props): JSX.Element {
  const [count] = useState<number>(0);
  return <p className="hello">Hello {name} {count}</p>;
}

export const queryClient: QueryClient = new QueryClient();
export const path: string = rowPath("invoices", "7");
export { ProblemError, isProblem };
"""

BAD_TSX = b"""import { useState } from "react";

export const broken = (x: number) => x x;
"""

GOOD_TSX = b"""export default function Banner(props: { text: string }) {
  return <strong>{props.text}</strong>;
}
"""


#: A folder served as one module: two modules of its own, imports of its parent and of client/.
BUNDLE = {
    "ui/lib/all.bundle.ts": b'export { bump, count } from "./state";\nexport { Label } from "./label";\n',
    "ui/lib/state.ts": b"export let count = 0;\nexport function bump(): number {\n  return ++count;\n}\n",
    "ui/lib/label.tsx": (
        b'import { isProblem } from "../../client/errors";\n'
        b'import { Hello } from "../main";\n'
        b'import { bump } from "./state";\n\n'
        b"export function Label(props: { error: unknown }) {\n"
        b"  bump();\n"
        b'  return isProblem(props.error) ? <Hello name="problem" /> : <em>fine</em>;\n'
        b"}\n"
    ),
    "ui/bad/all.bundle.ts": b'export * from "./broken";\n',
    "ui/bad/broken.ts": b"export const one = 1;\n\nexport const broken = (x: number) => x x;\n",
}


# -- fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The example's snapshot after `gen generate`, its ui/ replaced by a hand-made page."""
    project = tmp_path_factory.mktemp("web") / "invoices"
    shutil.copytree(
        EXAMPLE, project, ignore=shutil.ignore_patterns(".gen", "generated", "migrations")
    )
    result = CliRunner().invoke(main, ["--project", str(project), "generate"])
    assert result.exit_code == 0, result.output
    _, files = snapshot_files(project, None)
    assert "client/client.ts" in files
    # The UI generator's own output is not under test here.
    files = {path: data for path, data in files.items() if not path.startswith("ui/")}
    return {**files, "ui/index.html": INDEX_HTML, "ui/main.tsx": MAIN_TSX, **BUNDLE}


@pytest.fixture
def esbuild(node: Node) -> Path:
    """esbuild as the server finds it (`node` skips without npm's tools, fails under CI)."""
    try:
        return esbuild_path()
    except EsbuildMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


class Site:
    """The UI routes over the snapshot, for a project folder of the test's own."""

    def __init__(self, files: dict[str, bytes], root: Path) -> None:
        self.root = root
        self.transpiler = Transpiler(root)
        self.app = Starlette(routes=ui_routes(files, root, self.transpiler))
        self.client = TestClient(self.app)

    def override(self, relative: str, data: bytes) -> Path:
        path = self.root / "ui" / "overrides" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def memo_blob(self, key: str) -> str | None:
        """The blob the store's memo table holds for `key`, read straight from the file."""
        with sqlite3.connect(self.root / ".gen" / "store.db") as conn:
            row = conn.execute("SELECT blob FROM memo WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None


@pytest.fixture
def site(snapshot: dict[str, bytes], tmp_path: Path, esbuild: Path) -> Iterator[Site]:
    root = tmp_path / "project"
    root.mkdir()
    (root / "gen.toml").write_text('[app]\nname = "secret-config"\n')
    made = Site(snapshot, root)
    with made.client:
        yield made
    made.transpiler.close()


def node_run(node: Node, script: str, cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [node.node, "--input-type=module", "-e", script, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def etag_of(response: object) -> str:
    etag: str = response.headers["etag"]  # type: ignore[attr-defined]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    return etag


# -- the page ---------------------------------------------------------------------


def test_app_urls_answer_the_snapshot_index_html(site: Site) -> None:
    for url in ("/app", "/app/", "/app/invoices/123", "/app/a/b/c?x=1"):
        page = site.client.get(url)
        assert page.status_code == 200, url
        # The page names versioned module URLs: /_hook/~<16 hex>/...
        versioned = re.sub(rb'"/_hook/~[0-9a-f]{16}/', b'"/_hook/', page.content)
        assert versioned == INDEX_HTML and versioned != page.content
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-cache"
    root = site.client.get("/", follow_redirects=False)
    assert root.status_code in (302, 307) and root.headers["location"] == "/app/"


def test_versioned_urls_are_kept_by_the_browser_and_change_with_the_snapshot(
    site: Site, snapshot: dict[str, bytes], tmp_path: Path
) -> None:
    page = site.client.get("/app/").text
    main = re.search(r'src="(/_hook/~[0-9a-f]{16}/ui/main.tsx)"', page)
    assert main is not None, page
    module = site.client.get(main.group(1))
    assert module.status_code == 200 and b"useState" in module.content
    assert module.headers["cache-control"] == "public, max-age=31536000, immutable"
    # The same file by its plain URL is asked for again each time.
    plain = site.client.get("/_hook/ui/main.tsx")
    assert plain.content == module.content and plain.headers["cache-control"] == "no-cache"
    # Another snapshot (one file changed) is another version: no stale module is reused.
    changed = {**snapshot, "ui/main.tsx": snapshot["ui/main.tsx"] + b"\n// changed\n"}
    other = TestClient(Starlette(routes=ui_routes(changed, tmp_path, Transpiler(tmp_path))))
    again = re.search(r'src="(/_hook/~[0-9a-f]{16}/)', other.get("/app/").text)
    assert again is not None and again.group(1) not in page


def test_a_snapshot_without_index_html_says_to_regenerate(
    snapshot: dict[str, bytes], tmp_path: Path
) -> None:
    files = {p: d for p, d in snapshot.items() if p != "ui/index.html"}
    client = TestClient(Starlette(routes=ui_routes(files, tmp_path, Transpiler(tmp_path))))
    page = client.get("/app/invoices")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "ui/index.html" in page.text and "gen generate" in page.text


def test_ui_routes_do_not_shadow_the_api(snapshot: dict[str, bytes], tmp_path: Path) -> None:
    paths = {route.path for route in ui_routes(snapshot, tmp_path, Transpiler(tmp_path))}  # type: ignore[attr-defined]
    assert not any(path.startswith("/api") for path in paths)
    assert "/" in paths and "/_overrides/index.js" in paths


# -- snapshot files ----------------------------------------------------------------


def test_client_ts_is_served_as_an_es_module_node_accepts(site: Site, node: Node) -> None:
    served = site.client.get("/_hook/client/client.ts")
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/javascript")
    assert served.headers["cache-control"] == "no-cache"
    code = served.text
    assert 'from "./errors"' in code  # imports stay as written: the server resolves them
    assert "export type" not in code and ": string" not in code and "import type" not in code
    assert "sourceMappingURL" not in code  # generated code: no map to parse on every load
    checked = subprocess.run(
        [node.node, "--input-type=module", "--check"], input=code, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr


def test_import_paths_resolve_like_a_bundler(site: Site) -> None:
    exact = site.client.get("/_hook/client/errors.ts")
    bare = site.client.get("/_hook/client/errors")
    assert bare.status_code == 200 and bare.text == exact.text
    assert "class ProblemError" in bare.text
    folder = site.client.get("/_hook/client", follow_redirects=False)
    # A redirect, so that index.ts's own `./types` resolves inside client/.
    assert folder.status_code == 302 and folder.headers["location"] == "/_hook/client/index.ts"
    assert site.client.get("/_hook/client/nothing").status_code == 404
    assert site.client.get("/_hook/api/app.py").status_code == 404  # not a web file


def test_static_files_keep_their_bytes_and_type(site: Site) -> None:
    page = site.client.get("/_hook/ui/index.html")
    assert page.content == INDEX_HTML and page.headers["content-type"].startswith("text/html")
    ir = site.client.get("/_hook/ir.json")
    assert ir.headers["content-type"] == "application/json" and ir.json()


def test_a_second_request_is_served_from_the_memo(site: Site) -> None:
    first = site.client.get("/_hook/ui/main.tsx")
    assert first.status_code == 200
    assert 'from "react/jsx-runtime"' in first.text and "<p" not in first.text
    runs = site.transpiler.runs
    key = etag_of(first).strip('"')
    assert site.memo_blob(key) is not None

    again = site.client.get("/_hook/ui/main.tsx")
    assert again.content == first.content and site.transpiler.runs == runs
    # A restarted server (a new Transpiler on the same store) does not run esbuild either.
    restarted = Transpiler(site.root)
    assert restarted.transpile(MAIN_TSX, "ui/main.tsx") == first.content
    assert restarted.runs == 0
    restarted.close()


def imports_of(module: str) -> set[str]:
    return set(re.findall(r'^(?:import|export) .*? from "([^"]+)";$', module, re.MULTILINE))


def test_a_bundle_module_inlines_its_folder_and_keeps_every_other_import(site: Site) -> None:
    served = site.client.get("/_hook/ui/lib/all.bundle")
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/javascript")
    # One module for the folder: its own files inlined, the rest imported from where the
    # browser loads the bundle (ui/lib/), as written.
    assert imports_of(served.text) == {"../../client/errors", "../main", "react/jsx-runtime"}
    assert "return ++count" in served.text and "<em>" not in served.text
    runs = site.transpiler.runs
    key = etag_of(served).strip('"')
    assert site.memo_blob(key) is not None
    again = site.client.get("/_hook/ui/lib/all.bundle", headers={"If-None-Match": f'"{key}"'})
    assert again.status_code == 304 and site.transpiler.runs == runs
    # A file of the folder served on its own is transpiled as it is, imports kept.
    alone = site.client.get("/_hook/ui/lib/label.tsx").text
    assert imports_of(alone) == {"../../client/errors", "../main", "./state", "react/jsx-runtime"}


def test_a_bundle_changes_when_a_file_it_inlines_changes(
    site: Site, snapshot: dict[str, bytes], tmp_path: Path
) -> None:
    before = site.client.get("/_hook/ui/lib/all.bundle")
    changed = {**snapshot, "ui/lib/state.ts": snapshot["ui/lib/state.ts"].replace(b"++", b"--")}
    other = TestClient(Starlette(routes=ui_routes(changed, tmp_path, Transpiler(tmp_path))))
    after = other.get("/_hook/ui/lib/all.bundle")
    assert "return --count" in after.text and etag_of(after) != etag_of(before)


def test_a_bundle_that_does_not_build_names_the_inlined_file_and_line(
    site: Site, node: Node, tmp_path: Path
) -> None:
    served = site.client.get("/_hook/ui/bad/all.bundle", headers={"Accept": "*/*"})
    assert served.status_code == 200  # a module that throws where the error is
    module = tmp_path / "bad.mjs"
    module.write_text(served.text)
    script = """
      try { await import(process.argv[1]); console.log("no error"); }
      catch (error) { console.log(JSON.stringify(error.reframe)); }
    """
    reframe = json.loads(node_run(node, script, tmp_path, module.as_uri()))
    assert (reframe["file"], reframe["line"], reframe["column"]) == ("ui/bad/broken.ts", 3, 40)
    assert reframe["lineText"] == "export const broken = (x: number) => x x;"


def test_one_transpiler_serves_many_threads_at_once(site: Site, snapshot: dict[str, bytes]) -> None:
    sources = {path: data for path, data in snapshot.items() if path.startswith("client/")}
    expected = {path: transpile(data, path) for path, data in sources.items()}
    with ThreadPoolExecutor(max_workers=8) as pool:
        rounds = [
            pool.submit(site.transpiler.transpile, data, path)
            for _ in range(4)
            for path, data in sources.items()
        ]
        outputs = [future.result() for future in rounds]
    assert outputs == [expected[path] for _ in range(4) for path in sources]
    # Threads that miss the same file together both run esbuild; the counter sees every run.
    assert len(sources) <= site.transpiler.runs <= 4 * len(sources)
    runs = site.transpiler.runs
    with ThreadPoolExecutor(max_workers=8) as pool:
        again = list(
            pool.map(lambda item: site.transpiler.transpile(item[1], item[0]), sources.items())
        )
    assert again == list(expected.values()) and site.transpiler.runs == runs
    for path, data in sources.items():
        assert site.memo_blob(site.transpiler.key(data, path)) is not None


def test_etags_answer_304_when_the_browser_has_the_file(site: Site) -> None:
    for url in ("/_hook/client/hooks.ts", "/_hook/ui/index.html", "/app/x", "/_vendor/react.js"):
        first = site.client.get(url)
        assert first.status_code == 200, url
        etag = etag_of(first)
        same = site.client.get(url, headers={"If-None-Match": etag})
        assert same.status_code == 304 and same.content == b"", url
        assert same.headers["etag"] == etag
        listed = site.client.get(url, headers={"If-None-Match": f'"other", W/{etag}'})
        assert listed.status_code == 304, url
        other = site.client.get(url, headers={"If-None-Match": '"other"'})
        assert other.status_code == 200 and other.content == first.content, url


# -- overrides ----------------------------------------------------------------------


def test_an_override_is_read_from_disk_at_each_request(site: Site) -> None:
    site.override("Banner.tsx", GOOD_TSX)
    served = site.client.get("/_overrides/Banner.tsx")
    assert served.status_code == 200 and served.headers["content-type"].startswith(
        "text/javascript"
    )
    assert "jsx(" in served.text and "props: {" not in served.text
    # The user's own code maps back to its source in the browser's devtools.
    assert "//# sourceMappingURL=data:application/json;base64," in served.text
    assert site.client.get("/_overrides/Banner").text == served.text

    site.override("Banner.tsx", GOOD_TSX.replace(b"strong", b"em"))
    edited = site.client.get("/_overrides/Banner.tsx", headers={"If-None-Match": etag_of(served)})
    assert edited.status_code == 200 and '"em"' in edited.text


def test_a_bad_override_answers_a_module_that_throws_where_it_is(
    site: Site, node: Node, tmp_path: Path
) -> None:
    site.override("Bad.tsx", BAD_TSX)
    served = site.client.get("/_overrides/Bad.tsx", headers={"Accept": "*/*"})
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/javascript")
    module = tmp_path / "bad.mjs"
    module.write_text(served.text)
    script = """
      try { await import(process.argv[1]); console.log("no error"); }
      catch (error) { console.log(JSON.stringify({message: error.message, reframe: error.reframe})); }
    """
    caught = json.loads(node_run(node, script, tmp_path, module.as_uri()))
    reframe = caught["reframe"]
    assert reframe["file"] == "ui/overrides/Bad.tsx"
    assert reframe["line"] == 3
    assert reframe["column"] == 40  # 1-based: the second `x`
    assert reframe["lineText"] == "export const broken = (x: number) => x x;"
    assert reframe["message"] == 'Expected ";" but found "x"'
    assert caught["message"] == 'ui/overrides/Bad.tsx:3:40: Expected ";" but found "x"'


def test_a_bad_override_opened_in_a_browser_tab_is_an_html_page(site: Site) -> None:
    site.override("Bad.tsx", BAD_TSX)
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    page = site.client.get("/_overrides/Bad.tsx", headers={"Accept": accept})
    assert page.headers["content-type"].startswith("text/html")
    assert "ui/overrides/Bad.tsx:3:40" in page.text
    assert "Expected &quot;;&quot; but found &quot;x&quot;" in page.text
    assert "3 | export const broken = (x: number) =&gt; x x;\n" in page.text
    assert "\n" + " " * len("3 | ") + " " * 39 + "^</pre>" in page.text


def test_the_override_index_lists_every_module(site: Site) -> None:
    assert site.client.get("/_overrides/index.js").text == "export default [];\n"
    site.override("Banner.tsx", GOOD_TSX)
    site.override("invoice/Row.ts", b"export const x = 1;\n")
    site.override("invoice/old.js", b"export const y = 2;\n")
    site.override("Layout.jsx", b"export default () => <main />;\n")
    site.override("types.d.ts", b"declare const z: number;\n")
    site.override("notes.md", b"# not a module\n")
    site.override(".#Banner.tsx", b"editor lock file\n")
    listing = site.client.get("/_overrides/index.js")
    assert listing.headers["content-type"].startswith("text/javascript")
    assert listing.headers["cache-control"] == "no-cache"
    assert listing.text.startswith("export default [")
    urls = json.loads(listing.text.removeprefix("export default ").removesuffix(";\n"))
    assert urls == [
        "/_overrides/Banner.tsx",
        "/_overrides/Layout.jsx",
        "/_overrides/invoice/Row.ts",
        "/_overrides/invoice/old.js",
    ]
    for url in urls:
        assert site.client.get(url).status_code == 200, url


@pytest.mark.parametrize(
    "url",
    [
        "/_overrides/../gen.toml",
        "/_overrides/%2e%2e/gen.toml",
        "/_overrides/%2E%2E%2Fgen.toml",
        "/_overrides/..%2fgen.toml",
        "/_overrides/ok/%2e%2e/%2e%2e/%2e%2e/gen.toml",
        "/_overrides/%2Fetc%2Fpasswd",
        "/_overrides/link.tsx",
    ],
)
def test_override_paths_cannot_leave_the_overrides_folder(site: Site, url: str) -> None:
    site.override("ok/Fine.tsx", GOOD_TSX)
    (site.root / "ui" / "overrides" / "link.tsx").symlink_to(site.root / "gen.toml")
    answer = site.client.get(url, follow_redirects=False)
    assert answer.status_code in (400, 404), answer.text
    assert "secret-config" not in answer.text
    assert "link.tsx" not in site.client.get("/_overrides/index.js").text


# -- vendor ---------------------------------------------------------------------------


def test_the_vendor_build_exports_what_react_apps_import(esbuild: Path, node: Node) -> None:
    folder = vendor.vendor_dir()
    assert folder.parent == vendor.VENDOR_ROOT
    for url in vendor.IMPORT_MAP.values():
        assert (folder / url.removeprefix("/_vendor/")).is_file(), url
    script = """
      const dir = process.argv[1];
      const React = await import(`${dir}/react.js`);
      const client = await import(`${dir}/react-dom-client.js`);
      const runtime = await import(`${dir}/react-jsx-runtime.js`);
      const dom = await import(`${dir}/react-dom.js`);
      const query = await import(`${dir}/react-query.js`);
      console.log(JSON.stringify({
        useState: typeof React.useState, defaultUseState: typeof React.default.useState,
        createRoot: typeof client.createRoot, jsx: typeof runtime.jsx,
        createPortal: typeof dom.createPortal, useQuery: typeof query.useQuery,
        version: React.version,
      }));
    """
    found = json.loads(node_run(node, script, folder, folder.as_uri()))
    assert found == {
        "useState": "function",
        "defaultUseState": "function",
        "createRoot": "function",
        "jsx": "function",
        "createPortal": "function",
        "useQuery": "function",
        "version": "19.3.1",
    }


def test_react_query_shares_the_one_react(esbuild: Path, node: Node) -> None:
    folder = vendor.vendor_dir()
    manifest = json.loads((folder / vendor.MANIFEST).read_text())
    core = "react/cjs/react.production.js"
    holders = [name for name, output in manifest.items() if core in output["inputs"]]
    # React's code is in exactly one chunk, which react.js and react-query.js both import.
    assert len(holders) == 1 and holders[0].startswith("chunk-")
    for entry in ("react.js", "react-query.js", "react-dom-client.js"):
        assert holders[0] in manifest[entry]["imports"], entry
    # And at run time: React Query's hooks call the dispatcher of the React that react.js is.
    script = """
      const dir = process.argv[1];
      const React = await import(`${dir}/react.js`);
      const { QueryClient, useQueryClient } = await import(`${dir}/react-query.js`);
      const client = new QueryClient();
      const internals = React.__CLIENT_INTERNALS_DO_NOT_USE_OR_WARN_USERS_THEY_CANNOT_UPGRADE;
      let calls = 0;
      internals.H = { useContext() { calls += 1; return client; } };
      console.log(JSON.stringify({ same: useQueryClient() === client, calls }));
    """
    assert json.loads(node_run(node, script, folder, folder.as_uri())) == {"same": True, "calls": 1}


def test_vendor_files_are_served_with_etags(site: Site) -> None:
    served = site.client.get("/_vendor/react-dom-client.js")
    assert served.status_code == 200 and served.headers["content-type"].startswith(
        "text/javascript"
    )
    assert served.content == (vendor.vendor_dir() / "react-dom-client.js").read_bytes()
    chunk = served.text.split('from"./', 1)[1].split('"', 1)[0]
    assert site.client.get(f"/_vendor/{chunk}").status_code == 200
    assert site.client.get("/_vendor/manifest.json").status_code == 404
    assert site.client.get("/_vendor/..%2f..%2fpackage.json").status_code == 404


# -- end to end in node: the import map, the resolution, the transpiled client linked --------

LOADER = """
let base, imports;
export async function initialize(data) { ({ base, imports } = data); }

export async function resolve(specifier, context, next) {
  let url;
  if (specifier in imports) url = new URL(imports[specifier], base).href;
  else if (specifier.startsWith("http:")) url = specifier;
  else if (context.parentURL?.startsWith("http:")) url = new URL(specifier, context.parentURL).href;
  else return next(specifier, context);
  // As in a browser, a module's relative imports resolve from where redirects lead.
  for (let hop = 0; hop < 5; hop++) {
    const probe = await fetch(url, { redirect: "manual" });
    if (probe.status < 300 || probe.status > 399) break;
    url = new URL(probe.headers.get("location"), url).href;
  }
  return { url, format: "module", shortCircuit: true };
}

export async function load(url, context, next) {
  if (!url.startsWith("http:")) return next(url, context);
  const response = await fetch(url);
  const type = response.headers.get("content-type") ?? "";
  if (!response.ok || !type.startsWith("text/javascript")) {
    throw new Error(`${url}: ${response.status} ${type}`);
  }
  return { format: "module", source: await response.text(), shortCircuit: true };
}
"""

IMPORT_MAIN = """
import { register } from "node:module";
const [loader, base, imports] = process.argv.slice(1);
register(loader, { data: { base, imports: JSON.parse(imports) } });
const React = await import("react");
const main = await import(`${base}/_hook/ui/main.tsx`);
// Render Hello by hand: its useState must reach the dispatcher of the import map's React.
let states = 0;
React.__CLIENT_INTERNALS_DO_NOT_USE_OR_WARN_USERS_THEY_CANNOT_UPGRADE.H = {
  useState(initial) { states += 1; return [initial, () => {}]; },
};
const element = main.Hello({ name: "node" });
console.log(JSON.stringify({
  element: element.$$typeof === Symbol.for("react.transitional.element"),
  tag: element.type, className: element.props.className,
  path: main.path, problem: main.isProblem(new main.ProblemError({ status: 409, title: "x" })),
  queryClient: typeof main.queryClient.getQueryCache,
  states, text: element.props.children.join(""),
}));
"""


@pytest.fixture
def served(site: Site) -> Iterator[str]:
    """The site under a real uvicorn on a free port; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(site.app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_node_imports_the_served_app_through_the_import_map(
    served: str, node: Node, tmp_path: Path
) -> None:
    loader = tmp_path / "loader.mjs"
    loader.write_text(LOADER)
    imports = json.dumps(vendor.IMPORT_MAP)
    result = json.loads(node_run(node, IMPORT_MAIN, tmp_path, loader.as_uri(), served, imports))
    assert result == {
        "element": True,
        "tag": "p",
        "className": "hello",
        "path": result["path"],
        "problem": True,
        "queryClient": "function",
        "states": 1,
        "text": "Hello node 0",
    }
    assert "invoices" in result["path"] and "7" in result["path"]


# -- transpile, one file -------------------------------------------------------------


def test_transpile_errors_give_a_1_based_column_in_characters(esbuild: Path) -> None:
    source = 'const a = 1;\nconst é = "ééé"; let c d = 3;\n'.encode()
    with pytest.raises(TranspileError) as caught:
        transpile(source, "ui/overrides/Bad.tsx")
    error = caught.value
    assert (error.path, error.line, error.column) == ("ui/overrides/Bad.tsx", 2, 24)
    assert error.line_text == 'const é = "ééé"; let c d = 3;'
    assert str(error) == 'ui/overrides/Bad.tsx:2:24: Expected ";" but found "d"'


def test_a_module_transpiled_again_keeps_its_two_last_outputs_in_the_memo(
    esbuild: Path, tmp_path: Path
) -> None:
    """An override saved over and over (or a model's bundle, rebuilt on each save under
    `gen dev`) keeps two outputs per path in the store (the pages of the snapshot served
    and of the next may ask for both), not one per version."""
    transpiler = Transpiler(tmp_path)

    def memo_rows() -> tuple[int, int]:
        with HookStore.open(tmp_path) as store:
            conn = store._conn
            memo = conn.execute("SELECT COUNT(*) FROM memo").fetchone()[0]
            blobs = conn.execute("SELECT COUNT(*) FROM blobs").fetchone()[0]
        return memo, blobs

    def version(number: int) -> bytes:
        return f"export const version: number = {number};\n".encode()

    for number in range(4):
        output = transpiler.transpile(version(number), "ui/overrides/V.tsx")
        assert f"version = {number}" in output.decode()
    other = transpiler.transpile(b"export const x: number = 1;\n", "ui/overrides/Other.tsx")
    assert b"x = 1" in other
    assert memo_rows() == (3, 3)  # versions 2 and 3 of V.tsx, and Other.tsx
    # Both kept ones are served from the memo, in any order: no esbuild run.
    runs = transpiler.runs
    for number in (2, 3, 2):
        transpiler.transpile(version(number), "ui/overrides/V.tsx")
    assert transpiler.runs == runs
    transpiler.transpile(version(1), "ui/overrides/V.tsx")  # forgotten: made again
    assert transpiler.runs == runs + 1
    assert memo_rows() == (3, 3)
    transpiler.close()


def test_a_missing_esbuild_says_to_run_make_setup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(transpile_module.ESBUILD_ENV, raising=False)
    monkeypatch.setattr(transpile_module, "NODE_MODULES", tmp_path / "node_modules")
    esbuild_path.cache_clear()
    try:
        with pytest.raises(EsbuildMissing, match=r"run `make setup`"):
            esbuild_path()
    finally:
        esbuild_path.cache_clear()


# -- gen serve ---------------------------------------------------------------------------


def test_prepare_mounts_the_ui_beside_the_api(tmp_path: Path, fresh_db: str, esbuild: Path) -> None:
    project = tmp_path / "invoices"
    shutil.copytree(
        EXAMPLE, project, ignore=shutil.ignore_patterns(".gen", "generated", "migrations")
    )
    assert CliRunner().invoke(main, ["--project", str(project), "generate"]).exit_code == 0
    prepared = prepare(project, fresh_db)
    with TestClient(prepared.app) as client:
        assert client.get("/api/openapi.json").status_code == 200
        assert client.get("/api/nothing-here").status_code == 404
        assert (
            client.get("/_hook/client/errors").headers["content-type"].startswith("text/javascript")
        )
        assert client.get("/_overrides/index.js").text == "export default [];\n"
        page = client.get("/app/invoices")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert b'type="importmap"' in page.content
        # Every module the UI generator wrote transpiles (none answers the throwing module).
        _, files = snapshot_files(project, None)
        modules = [p for p in files if p.startswith("ui/") and p.endswith((".ts", ".tsx"))]
        assert modules
        for path in modules:
            served = client.get(f"/_hook/{path}")
            assert served.headers["content-type"].startswith("text/javascript"), path
            assert "error.reframe" not in served.text, served.text
