"""TypeScript and JSX to browser ES modules, through the esbuild binary npm installed.

`transpile` runs esbuild once over stdin: types are stripped, JSX becomes
`react/jsx-runtime` calls, imports are left as written (an import map and the
server resolve them), and an inline source map points devtools at the file.
A syntax error raises `TranspileError` with the file, line, column and line.

A module named `<name>.bundle.ts` (or `.tsx`) is served as one module instead
(`bundle`): what it imports from its own folder is inlined, every other import
(packages, `../` paths) is kept as written. The UI's runtime is served so, as
one request instead of twenty: the browser spends ~2 ms on each module of a page
even when it comes from its cache (measured, docs/BENCHMARKS.md).

`Transpiler` remembers results in the hook store's memo table, keyed by the
esbuild version, the options and the source's sha256, so a file is transpiled
once however often it is served, across restarts too.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import platform
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hookfs.store import HookStore

_log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
NODE_MODULES = REPO / "node_modules"

#: Names another esbuild executable (same major version expected).
ESBUILD_ENV = "REFRAME_ESBUILD"

#: The esbuild loader for each extension a browser module may be written in.
LOADERS = {
    ".ts": "ts",
    ".mts": "ts",
    ".cts": "ts",
    ".tsx": "tsx",
    ".js": "js",
    ".mjs": "js",
    ".jsx": "jsx",
}

#: Options every transpile shares; the loader and --sourcefile are added per file.
OPTIONS = (
    "--format=esm",
    "--jsx=automatic",
    "--target=es2022",
    "--log-level=error",
    "--color=false",
)

# `✘ [ERROR] message` (`X [ERROR]` where the terminal lacks the glyph), then a blank
# line and `    file:line:column:` with a 1-based line and a 0-based byte column.
_ERROR = re.compile(r"^(?:✘|X) \[ERROR\] (?P<message>.*)$")
_LOCATION = re.compile(r"^ {4}(?P<file>.*):(?P<line>\d+):(?P<column>\d+):$", re.MULTILINE)


class EsbuildMissing(RuntimeError):
    """npm has not installed esbuild; the message says to run `make setup`."""


class TranspileError(Exception):
    """A file esbuild could not read, with where: `line` and `column` count from 1 (0: unknown)."""

    def __init__(self, path: str, line: int, column: int, message: str, line_text: str) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.message = message
        self.line_text = line_text
        where = f"{path}:{line}:{column}" if line else path
        super().__init__(f"{where}: {message}")

    def to_json(self) -> dict[str, object]:
        """The error as the UI's loader reads it (`lineText` in the browser's spelling)."""
        return {
            "file": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "lineText": self.line_text,
        }


# -- the binary --------------------------------------------------------------


def _platform_package() -> str:
    """Name esbuild's npm package for this machine, e.g. `linux-x64`, `darwin-arm64`."""
    system = {"win32": "win32", "darwin": "darwin"}.get(sys.platform, sys.platform)
    if system.startswith("linux"):
        system = "linux"
    machine = platform.machine().lower()
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "i386": "ia32", "i686": "ia32"}
    return f"{system}-{arch.get(machine, machine)}"


@functools.cache
def esbuild_path() -> Path:
    """Return the esbuild executable npm installed; raise EsbuildMissing without one."""
    override = os.environ.get(ESBUILD_ENV)
    if override:
        if not Path(override).is_file():
            raise EsbuildMissing(f"{ESBUILD_ENV}={override} is not a file")
        return Path(override)
    package = NODE_MODULES / "@esbuild" / _platform_package()
    for candidate in (package / "bin" / "esbuild", package / "esbuild.exe"):
        if candidate.is_file():
            return candidate
    raise EsbuildMissing(
        f"esbuild is not installed (looked for {package}/bin/esbuild): run `make setup`,"
        " which runs `npm ci` and installs the esbuild pinned in package-lock.json"
    )


@functools.cache
def esbuild_version() -> str:
    """Return the version the esbuild executable reports, e.g. `0.28.2`."""
    done = subprocess.run([esbuild_path(), "--version"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


# -- one file ----------------------------------------------------------------


def loader_for(path: str) -> str:
    """Return the esbuild loader for `path`'s extension; raise ValueError for others."""
    suffix = Path(path).suffix.lower()
    try:
        return LOADERS[suffix]
    except KeyError:
        raise ValueError(
            f"{path}: cannot transpile {suffix or 'a file without extension'}"
        ) from None


#: Files a user writes and debugs get an inline source map; generated ones do without (it
#: would triple what the browser parses on every load, for code that reads the same).
SOURCE_MAPPED = ("ui/overrides/",)


def _arguments(path: str) -> list[str]:
    mapped = ["--sourcemap=inline"] if path.startswith(SOURCE_MAPPED) else []
    return [f"--loader={loader_for(path)}", *OPTIONS, *mapped, f"--sourcefile={path}"]


#: How a bundle module is named; see the module's docstring.
BUNDLE_SUFFIXES = (".bundle.ts", ".bundle.tsx")
#: Packages stay imports (the page's import map resolves them).
BUNDLE_OPTIONS = ("--bundle", "--packages=external")


def is_bundle(path: str) -> bool:
    return path.endswith(BUNDLE_SUFFIXES)


@dataclass(frozen=True)
class BundleInputs:
    """What a bundle is made of: its entry, the modules it may inline, and what it may not."""

    entry: str
    modules: Mapping[str, bytes]
    #: Snapshot paths beside the entry's folder and its parents (`client`, `ui/app.ts`):
    #: an import of one stays an import, as written.
    outside: tuple[str, ...]


def bundle_inputs(files: Mapping[str, bytes], entry: str) -> BundleInputs:
    """Split a snapshot's `files` for bundling `entry`: its folder's modules, and the rest."""
    folder = PurePosixPath(entry).parent
    modules: dict[str, bytes] = {}
    outside: set[str] = set()
    for path, data in files.items():
        parts = PurePosixPath(path).parts
        if parts[: len(folder.parts)] == folder.parts:
            if PurePosixPath(path).suffix in LOADERS:
                modules[path] = data
            continue
        shared = 0
        while parts[shared] == folder.parts[shared]:
            shared += 1
        outside.add("/".join(parts[: shared + 1]))
    return BundleInputs(entry, modules, tuple(sorted(outside)))


def _externals(work: str, outside: tuple[str, ...]) -> list[str]:
    # esbuild compares a relative import, once made absolute, with these patterns; an
    # import may leave out the extension (`../app` for ui/app.ts).
    patterns = set()
    for path in outside:
        for name in (path, str(PurePosixPath(path).with_suffix(""))):
            patterns |= {f"--external:{work}/{name}", f"--external:{work}/{name}/*"}
    return sorted(patterns)


def bundle(inputs: BundleInputs) -> bytes:
    """Bundle the entry over its folder's modules into one ES module; raise TranspileError."""
    with tempfile.TemporaryDirectory(prefix="reframe-bundle-") as work:
        for path, data in inputs.modules.items():
            target = Path(work, path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        # Written beside the entry, so that esbuild writes the imports it keeps relative
        # to where the browser loads the bundle from.
        out = Path(work, inputs.entry).with_name(".bundle-output.js")
        done = subprocess.run(
            [
                esbuild_path(),
                inputs.entry,
                *OPTIONS,
                *BUNDLE_OPTIONS,
                *_externals(work, inputs.outside),
                f"--outfile={out}",
            ],
            cwd=work,
            capture_output=True,
            check=False,
        )
        if done.returncode == 0:
            return out.read_bytes()
    log = done.stderr.decode("utf-8", "replace")
    where = _LOCATION.search(log)
    path = where["file"] if where and where["file"] in inputs.modules else inputs.entry
    raise _error(path, inputs.modules.get(path, b""), log)


def transpile(source: bytes, path: str) -> bytes:
    """Turn a TS/TSX/JS/JSX module into browser ESM; raise TranspileError on a bad one."""
    done = subprocess.run(
        [esbuild_path(), *_arguments(path)], input=source, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise _error(path, source, done.stderr.decode("utf-8", "replace"))
    return done.stdout


def _error(path: str, source: bytes, log: str) -> TranspileError:
    """Read esbuild's first error (message, then its location) from its log."""
    lines = log.splitlines()
    for index, text in enumerate(lines):
        found = _ERROR.match(text)
        if found is None:
            continue
        message = found["message"]
        following = [line for line in lines[index + 1 :] if line.strip()][:1]
        where = _LOCATION.match(following[0]) if following else None
        if where is None:
            return TranspileError(path, 0, 0, message, "")
        return _located(path, source, int(where["line"]), int(where["column"]), message)
    return TranspileError(path, 0, 0, log.strip() or "esbuild failed without a message", "")


def _located(path: str, source: bytes, line: int, byte_column: int, message: str) -> TranspileError:
    """Build the error with the source line, its byte column turned into a 1-based one."""
    raw_lines = source.split(b"\n")
    raw = raw_lines[line - 1] if 0 < line <= len(raw_lines) else b""
    raw = raw.rstrip(b"\r")
    column = len(raw[:byte_column].decode("utf-8", "replace")) + 1
    return TranspileError(path, line, column, message, raw.decode("utf-8", "replace"))


# -- remembered ------------------------------------------------------------------


class Transpiler:
    """Transpile through the memo of `project_dir`'s hook store; safe across threads.

    Each thread opens its own store connection (SQLite connections stay in the
    thread that made them); `runs` counts esbuild invocations, not cache hits.
    """

    def __init__(self, project_dir: Path) -> None:
        self.project_dir = Path(project_dir)
        self.runs = 0
        self._local = threading.local()
        self._lock = threading.Lock()

    def key(self, source: bytes, path: str) -> str:
        """Return the memo key: esbuild's version, the options and the source's hash."""
        digest = hashlib.sha256(source).hexdigest()
        inputs = ["transpile", esbuild_version(), *_arguments(path), digest]
        return hashlib.sha256(json.dumps(inputs).encode()).hexdigest()

    def transpile(self, source: bytes, path: str, key: str | None = None) -> bytes:
        """Return the remembered output for (source, path), transpiling on a miss.

        `key` may be passed when the caller computed it already (for an ETag).
        """
        key = key or self.key(source, path)
        return self._remembered(key, path, lambda: transpile(source, path))

    def _remembered(self, key: str, path: str, make: Callable[[], bytes]) -> bytes:
        store = self._store()
        cached = store.memo_get(key)
        if cached is not None:
            return cached
        with self._lock:
            self.runs += 1
        output = make()
        try:
            # One output per path: an edited override or a rebuilt model replaces the last.
            store.memo_put(key, output, slot=f"esbuild:{path}")
        except sqlite3.OperationalError as exc:  # locked for long by a commit: serve it anyway
            _log.warning("could not remember the transpiled %s: %s", path, exc)
        return output

    def bundle_key(self, inputs: BundleInputs) -> str:
        """Return the memo key of a bundle: esbuild's version, the options, every input."""
        hashes = sorted(
            (path, hashlib.sha256(data).hexdigest()) for path, data in inputs.modules.items()
        )
        parts = [
            "bundle",
            esbuild_version(),
            *OPTIONS,
            *BUNDLE_OPTIONS,
            inputs.entry,
            hashes,
            inputs.outside,
        ]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def bundle(self, inputs: BundleInputs, key: str | None = None) -> bytes:
        """Return the remembered bundle, bundling on a miss."""
        key = key or self.bundle_key(inputs)
        return self._remembered(key, inputs.entry, lambda: bundle(inputs))

    def _store(self) -> HookStore:
        store: HookStore | None = getattr(self._local, "store", None)
        if store is None:
            store = HookStore.open(self.project_dir).for_caching()
            self._local.store = store
        return store

    def close(self) -> None:
        """Close this thread's store connection; other threads' close when they end."""
        store: HookStore | None = getattr(self._local, "store", None)
        if store is not None:
            store.close()
            self._local.store = None
