"""The UI's routes: the snapshot's web files, the project's overrides and the vendor modules.

URL scheme (the UI generator's index.html is written against it):

- `/` redirects to `/app/`; `/app` and `/app/<anything>` answer the snapshot's
  `ui/index.html` (a client-side router takes it from there).
- `/_hook/<path>`: the snapshot file at `<path>`. TypeScript and JSX are
  transpiled to ES modules; `.js`, `.css`, `.json`, `.html`, `.svg`, `.map`
  are sent as they are. A path resolves like a bundler's import: exact, then
  with `.ts`, `.tsx`, `.js`, `.jsx` added; a folder redirects to its
  `index.ts`/`index.tsx`/`index.js` (a redirect, so that the module's own relative
  imports resolve from inside the folder). A `<name>.bundle.ts` is answered
  bundled: its imports from its own folder inlined, the rest kept
  (hookfs/transpile.py); the UI's runtime comes as one module so.
- `/_overrides/index.js`: `export default [urls]` of every override module.
- `/_overrides/<path>`: `<project>/ui/overrides/<path>`, read from disk at each
  request, resolved and transpiled like `/_hook/`. A file that does not
  transpile answers a module that throws an Error whose `reframe` property
  says `{file, line, column, message, lineText}` (an HTML page to a browser
  tab that asks for HTML).
- `/_vendor/<file>`: React, ReactDOM and React Query (hookfs/vendor.py);
  `vendor.IMPORT_MAP` maps the bare specifiers there.

Every answer carries a strong ETag (a content hash; for transpiled files the
memo key, which hashes the source and how it is transpiled), honours
If-None-Match with 304, and says `Cache-Control: no-cache`: the browser keeps
its copy but asks each time, so a regenerated or edited file shows on reload.

The page itself names versioned URLs: `/_hook/~<version>/<path>` and
`/_vendor/~<version>/<file>`, where the version hashes the snapshot's files
and the vendor build (which pins esbuild). What such a URL answers can never
change, so it is sent `immutable`: a warm load asks only for the page, the
overrides and the API, not for each of the app's modules. Relative imports
keep the prefix, so every module of the app is loaded from versioned URLs.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hookfs import vendor
from hookfs.transpile import EsbuildMissing, TranspileError, Transpiler, bundle_inputs, is_bundle

INDEX_HTML = "ui/index.html"
PRELOAD = '<link rel="modulepreload"'
OVERRIDES_DIR = "ui/overrides"

JS = "text/javascript; charset=utf-8"
HTML = "text/html; charset=utf-8"

#: Served as they are, with these types.
STATIC_TYPES = {
    ".js": JS,
    ".mjs": JS,
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".html": HTML,
    ".svg": "image/svg+xml",
}
#: Transpiled to JavaScript (on /_overrides/, plain .js too, so a syntax error is reported).
TRANSPILED = frozenset({".ts", ".mts", ".tsx", ".jsx"})
OVERRIDE_MODULES = (".ts", ".tsx", ".js", ".jsx")
#: How an import path without its extension is completed, in order.
RESOLVE_SUFFIXES = ("", ".ts", ".tsx", ".js", ".jsx")
RESOLVE_INDEXES = ("index.ts", "index.tsx", "index.js")

NO_CACHE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
#: `~<version>/` at the start of a /_hook/ or /_vendor/ path.
_VERSIONED = re.compile(r"^~([0-9a-f]{16})/(.*)$")
_VENDOR_FILE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*\.js$")


def ui_routes(
    files: Mapping[str, bytes],
    project_root: Path,
    transpiler: Transpiler,
    dev_events: str | None = None,
    version: str | None = None,
) -> list[BaseRoute]:
    """Return the UI's routes for a snapshot's `files`; none of them is under `/api`.

    `dev_events`: the URL of `gen dev`'s event stream, named to the page (a `<meta
    name="reframe-dev">`), which then follows changes and shows model errors.
    `version`: `snapshot_version(files)` when the caller has it already.
    """
    ui = _UI(files, Path(project_root), transpiler, dev_events, version)
    return [
        Route("/", ui.root, methods=["GET"]),
        Route("/favicon.ico", _no_icon, methods=["GET"]),
        Route("/app", ui.index_html, methods=["GET"]),
        Route("/app/{rest:path}", ui.index_html, methods=["GET"]),
        Route("/_hook/{path:path}", ui.hook_file, methods=["GET"]),
        Route("/_overrides/index.js", ui.overrides_index, methods=["GET"]),
        Route("/_overrides/{path:path}", ui.override_file, methods=["GET"]),
        Route("/_vendor/{name:path}", ui.vendor_file, methods=["GET"]),
    ]


class _UI:
    """The handlers, over one snapshot's files; they run in Starlette's threadpool."""

    def __init__(
        self,
        files: Mapping[str, bytes],
        project_root: Path,
        transpiler: Transpiler,
        dev_events: str | None = None,
        version: str | None = None,
    ):
        self.files = files
        self._version = version
        self.dev_events = dev_events
        self.project_root = project_root
        self.overrides = project_root / OVERRIDES_DIR
        self.transpiler = transpiler
        self._hashes: dict[str, str] = {}
        self._vendor: dict[str, tuple[bytes, str]] = {}
        self._page: tuple[bytes, str] | None = None

    def version(self) -> str:
        if self._version is None:
            self._version = snapshot_version(self.files, self._hash)
        return self._version

    # -- the page --------------------------------------------------------------

    def root(self, request: Request) -> Response:
        return RedirectResponse("/app/", status_code=302)

    def index_html(self, request: Request) -> Response:
        page = self.files.get(INDEX_HTML)
        if page is None:
            return _html_page(
                "No UI in this snapshot",
                f"<p>The snapshot being served has no <code>{INDEX_HTML}</code>."
                " Run <code>gen generate</code> (with the ui generator installed) and"
                " restart <code>gen serve</code>.</p>",
                status=404,
            )
        if self._page is None:
            version = self.version()
            text = _preloading_vendor_chunks(page.decode())
            if self.dev_events:
                meta = f'<meta name="reframe-dev" content="{html.escape(self.dev_events)}">'
                text = text.replace("</head>", f"  {meta}\n  </head>", 1)
            text = text.replace('"/_hook/', f'"/_hook/~{version}/')
            body = text.replace('"/_vendor/', f'"/_vendor/~{version}/').encode()
            self._page = (body, hashlib.sha256(body).hexdigest())
        body, etag = self._page
        return _cached(request, body, HTML, etag)

    # -- snapshot files --------------------------------------------------------------

    def hook_file(self, request: Request) -> Response:
        prefix, wanted = _unversioned("/_hook/", request.path_params["path"])
        found, folder = _resolve(wanted, lambda path: path in self.files)
        if found is None:
            return _not_found(f"the snapshot has no file {wanted!r}")
        if folder:
            return RedirectResponse(prefix + quote(found), status_code=302)
        if is_bundle(found):
            answer = self._bundle(request, found)
        else:
            answer = self._module(request, found, self.files[found], lambda d: self._hash(found, d))
        return _forever(answer) if prefix != "/_hook/" else answer

    def _hash(self, path: str, data: bytes) -> str:
        known = self._hashes.get(path)
        if known is None:
            known = self._hashes[path] = hashlib.sha256(data).hexdigest()
        return known

    # -- overrides ---------------------------------------------------------------------

    def overrides_index(self, request: Request) -> Response:
        urls = ["/_overrides/" + quote(path) for path in self._override_modules()]
        body = f"export default {json.dumps(urls, indent=2)};\n".encode()
        return _cached(request, body, JS, hashlib.sha256(body).hexdigest())

    def _override_modules(self) -> list[str]:
        """Every override module's path under ui/overrides, sorted; not types, not hidden."""
        if not self.overrides.is_dir():
            return []
        root = self.overrides.resolve()
        found = []
        for path in root.rglob("*"):
            relative = path.relative_to(root).as_posix()
            if (
                path.suffix in OVERRIDE_MODULES
                and not path.name.endswith(".d.ts")
                and not any(part.startswith(".") for part in relative.split("/"))
                and relative != "index.js"  # the listing's own URL
                and _inside(root, relative)  # what /_overrides/ would serve
            ):
                found.append(relative)
        return sorted(found)

    def override_file(self, request: Request) -> Response:
        wanted = request.path_params["path"]
        if not _safe_relative(wanted):
            return PlainTextResponse(
                f"refused: {wanted!r} is not a path inside {OVERRIDES_DIR}", status_code=400
            )
        root = self.overrides.resolve()
        found, folder = _resolve(wanted, lambda path: _inside(root, path))
        if found is None:
            return _not_found(f"there is no {OVERRIDES_DIR}/{wanted}")
        if folder:
            return RedirectResponse("/_overrides/" + quote(found), status_code=302)
        try:
            data = (root / found).read_bytes()
        except OSError as exc:  # removed between the check and the read
            return _not_found(f"cannot read {OVERRIDES_DIR}/{found}: {exc.strerror}")
        suffix = PurePosixPath(found).suffix
        transpile = suffix in (*TRANSPILED, ".js")
        return self._module(
            request,
            f"{OVERRIDES_DIR}/{found}",
            data,
            lambda d: hashlib.sha256(d).hexdigest(),
            transpile=transpile,
        )

    # -- vendor ------------------------------------------------------------------------

    def vendor_file(self, request: Request) -> Response:
        prefix, name = _unversioned("/_vendor/", request.path_params["name"])
        answer = self._vendor_file(request, name)
        return _forever(answer) if prefix != "/_vendor/" else answer

    def _vendor_file(self, request: Request, name: str) -> Response:
        if not _VENDOR_FILE.match(name):
            return _not_found(f"no vendor module {name!r}")
        cached = self._vendor.get(name)
        if cached is None:
            try:
                folder = vendor.vendor_dir()
            except (vendor.VendorError, EsbuildMissing) as exc:
                return PlainTextResponse(str(exc), status_code=503)
            try:
                data = (folder / name).read_bytes()
            except FileNotFoundError:
                return _not_found(f"no vendor module {name!r}")
            cached = self._vendor[name] = (data, hashlib.sha256(data).hexdigest())
        data, etag = cached
        return _cached(request, data, JS, etag)

    # -- shared ------------------------------------------------------------------------

    def _module(
        self,
        request: Request,
        path: str,
        data: bytes,
        content_hash: Callable[[bytes], str],
        transpile: bool | None = None,
    ) -> Response:
        """Answer `path`'s bytes: transpiled (ETag: the memo key) or as they are."""
        suffix = PurePosixPath(path).suffix
        if transpile is None:
            transpile = suffix in TRANSPILED
        if not transpile:
            kind = STATIC_TYPES.get(suffix)
            if kind is None:
                return _not_found(f"{path} is not a web file ({suffix or 'no extension'})")
            return _cached(request, data, kind, content_hash(data))
        return _compiled(
            request,
            lambda: self.transpiler.key(data, path),
            lambda key: self.transpiler.transpile(data, path, key),
        )

    def _bundle(self, request: Request, entry: str) -> Response:
        inputs = bundle_inputs(self.files, entry)
        return _compiled(
            request,
            lambda: self.transpiler.bundle_key(inputs),
            lambda key: self.transpiler.bundle(inputs, key),
        )


def _compiled(
    request: Request, key_of: Callable[[], str], compile_: Callable[[str], bytes]
) -> Response:
    """Answer a module esbuild makes (ETag: its memo key), or what stopped it."""
    try:
        key = key_of()
        if _matches(request, key):
            return _not_modified(key)
        output = compile_(key)
    except TranspileError as exc:
        return _transpile_failed(request, exc)
    except EsbuildMissing as exc:
        return PlainTextResponse(str(exc), status_code=503)
    return _cached(request, output, JS, key)


# -- paths -------------------------------------------------------------------------


def snapshot_version(
    files: Mapping[str, bytes], hash_of: Callable[[str, bytes], str] | None = None
) -> str:
    """What the versioned URLs are named by: the snapshot's files and the vendor build."""
    digest = hashlib.sha256()
    for path in sorted(files):
        data = files[path]
        known = hash_of(path, data) if hash_of else hashlib.sha256(data).hexdigest()
        digest.update(f"{path}\0{known}\0".encode())
    with contextlib.suppress(vendor.VendorError):  # /_vendor/ answers it with what to run
        digest.update(vendor.build_hash().encode())
    return digest.hexdigest()[:16]


def _preloading_vendor_chunks(page: str) -> str:
    """Add the vendor chunks to the page's module preloads, before the first vendor module.

    Else the browser learns of them only once the vendor entries have arrived: one
    more round of requests before any module runs.
    """
    first = page.find(f'{PRELOAD} href="{vendor.URL_PREFIX}')
    if first < 0:
        return page
    try:
        chunks = vendor.shared_chunks()
    except vendor.VendorError:  # /_vendor/ answers with what to run
        return page
    indent = page[page.rfind("\n", 0, first) + 1 : first]
    links = "".join(f'{PRELOAD} href="{url}">\n{indent}' for url in chunks)
    return page[:first] + links + page[first:]


def _unversioned(root: str, path: str) -> tuple[str, str]:
    """(`root` with the `~<version>/` the path starts with, if any; the rest of the path)."""
    versioned = _VERSIONED.match(path)
    if versioned is None:
        return root, path
    return f"{root}~{versioned.group(1)}/", versioned.group(2)


def _forever(answer: Response) -> Response:
    """A versioned URL's successful answer never changes: let the browser keep it."""
    if answer.status_code in (200, 304) and answer.headers.get("cache-control") != "no-store":
        answer.headers["cache-control"] = IMMUTABLE
    return answer


def _resolve(wanted: str, exists: Callable[[str], bool]) -> tuple[str | None, bool]:
    """Complete an import path like a bundler: exact, with an extension, a folder's index.

    Return the path found (None if none) and whether it is a folder's index.
    """
    wanted = wanted.rstrip("/")
    for suffix in RESOLVE_SUFFIXES:
        if wanted and exists(wanted + suffix):
            return wanted + suffix, False
    for index in RESOLVE_INDEXES:
        candidate = f"{wanted}/{index}" if wanted else index
        if exists(candidate):
            return candidate, True
    return None, False


def _safe_relative(path: str) -> bool:
    """Whether `path` is a plain relative path: no `..`, `.`, empty parts, backslashes."""
    if "\\" in path or "\0" in path or path.startswith("/"):
        return False
    parts = path.rstrip("/").split("/")
    return all(part not in ("", ".", "..") for part in parts)


def _inside(root: Path, relative: str) -> bool:
    """Whether `root/relative` is a file that stays inside `root` once links are resolved."""
    candidate = (root / relative).resolve()
    return candidate.is_relative_to(root) and candidate.is_file()


# -- answers -----------------------------------------------------------------------


def _cached(request: Request, body: bytes, media_type: str, etag: str) -> Response:
    """Answer `body` with a strong ETag, or 304 when the browser has it already."""
    if _matches(request, etag):
        return _not_modified(etag)
    headers = {"ETag": f'"{etag}"', "Cache-Control": NO_CACHE, "X-Content-Type-Options": "nosniff"}
    return Response(body, media_type=media_type, headers=headers)


def _matches(request: Request, etag: str) -> bool:
    """Whether If-None-Match names `etag` (weak comparison, as RFC 9110 asks for it)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or f'"{etag}"' in tags


def _not_modified(etag: str) -> Response:
    return Response(status_code=304, headers={"ETag": f'"{etag}"', "Cache-Control": NO_CACHE})


def _no_icon(request: Request) -> Response:
    """Browsers ask for it on pages that name none (error pages): an empty answer, not a 404."""
    return Response(status_code=204, headers={"cache-control": "max-age=86400"})


def _not_found(message: str) -> Response:
    return PlainTextResponse(f"not found: {message}", status_code=404)


def _html_page(title: str, body: str, status: int = 200) -> Response:
    page = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem;max-width:60rem}"
        "pre{background:#f6f6f6;padding:1rem;overflow:auto;font:14px/1.4 monospace}"
        ".where{color:#b00}</style></head>\n"
        f"<body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )
    return Response(
        page, status_code=status, media_type=HTML, headers={"Cache-Control": "no-store"}
    )


def _transpile_failed(request: Request, error: TranspileError) -> Response:
    """Answer a module that throws the error, or a page showing it to a browser tab."""
    if _prefers_html(request.headers.get("accept", "")):
        return _error_page(error)
    details = json.dumps(error.to_json(), ensure_ascii=False)
    module = (
        f"const error = new Error({json.dumps(str(error), ensure_ascii=False)});\n"
        'error.name = "TranspileError";\n'
        f"error.reframe = {details};\n"
        "throw error;\n"
    )
    return Response(module, media_type=JS, headers={"Cache-Control": "no-store"})


def _error_page(error: TranspileError) -> Response:
    where = f"{error.path}:{error.line}:{error.column}" if error.line else error.path
    parts = [
        f'<p class="where"><strong>{html.escape(where)}</strong></p>',
        f"<p>{html.escape(error.message)}</p>",
    ]
    if error.line:
        gutter = f"{error.line} | "
        # Keep tabs under tabs, so the caret lines up with the column however tabs render.
        lead = "".join(c if c == "\t" else " " for c in error.line_text[: error.column - 1])
        caret = " " * len(gutter) + lead + "^"
        parts.append(f"<pre>{html.escape(gutter + error.line_text)}\n{html.escape(caret)}</pre>")
    parts.append("<p>Fix the file and reload: overrides are read at every request.</p>")
    return _html_page("Cannot transpile an override", "\n".join(parts))


def _prefers_html(accept: str) -> bool:
    """Whether Accept names text/html at least as highly as it accepts JavaScript.

    A browser tab asks `text/html,...,*/*;q=0.8`; `import()` asks `*/*`.
    """
    html_q = js_q = 0.0
    for item in accept.split(","):
        media, *params = (piece.strip() for piece in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.lower()
        if media == "text/html":
            html_q = max(html_q, q)
        if media in ("text/javascript", "application/javascript", "text/*", "*/*"):
            js_q = max(js_q, q)
    return html_q > 0 and html_q >= js_q
