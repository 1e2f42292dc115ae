"""React, ReactDOM and React Query as browser ES modules, built once from node_modules.

React ships CommonJS only, so each React specifier gets a small entry module
that imports the package's default and re-exports every key by name (the keys
are read by requiring the package in node, production mode); React Query is
ESM and re-exported with `export *`. All entries go through ONE esbuild call
with bundling and code splitting, so React's code lands in a shared chunk that
every entry imports: one React instance, whatever imports it.

The build lives in `node_modules/.reframe-vendor/<hash>/`, the hash naming
package-lock.json and this recipe: `npm ci` wipes it, a lockfile change makes a
new one. It is built into a temporary folder and renamed into place, so two
processes building at once never see half a build. `python -m hookfs.vendor`
builds it (`make setup` does).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from hookfs.transpile import NODE_MODULES, REPO, esbuild_path

LOCKFILE = REPO / "package-lock.json"
VENDOR_ROOT = NODE_MODULES / ".reframe-vendor"

#: Bump when the build below changes, so existing builds are not reused.
RECIPE = "1"

#: The URL prefix the server publishes the build under (hookfs/web.py).
URL_PREFIX = "/_vendor/"

#: esbuild's metafile, reduced: {output file: {bytes, imports, inputs}}.
MANIFEST = "manifest.json"

#: Output file (without `.js`) for each bare specifier; CommonJS ones get named re-exports.
ENTRIES: dict[str, tuple[str, bool]] = {
    "react": ("react", True),
    "react-jsx-runtime": ("react/jsx-runtime", True),
    "react-dom": ("react-dom", True),
    "react-dom-client": ("react-dom/client", True),
    "react-query": ("@tanstack/react-query", False),
}

#: Bare specifier -> URL, for the `<script type="importmap">` of the UI's index.html.
IMPORT_MAP: dict[str, str] = {
    specifier: f"{URL_PREFIX}{name}.js" for name, (specifier, _) in ENTRIES.items()
}

_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_RESERVED = frozenset({"default", "delete", "export", "import", "new", "this", "var"})
_lock = threading.Lock()


class VendorError(RuntimeError):
    """The vendor build cannot be made; the message says what to run."""


@dataclass(frozen=True)
class Built:
    """A finished build: its folder, how long it took (0 when it existed) and file sizes."""

    folder: Path
    seconds: float
    sizes: dict[str, int]


def import_map_json() -> str:
    """Return the import map as the JSON an index.html's `<script type="importmap">` holds."""
    return json.dumps({"imports": IMPORT_MAP}, indent=2, sort_keys=True)


def build_hash() -> str:
    """Return the hash naming the build of the current lockfile and recipe."""
    if not LOCKFILE.is_file():
        raise VendorError(f"{LOCKFILE} is missing: the Node packages are pinned there")
    digest = hashlib.sha256(LOCKFILE.read_bytes())
    digest.update(f"\0recipe {RECIPE}".encode())
    return digest.hexdigest()[:16]


def vendor_dir() -> Path:
    """Return the built folder for the current lockfile, building it when missing."""
    return ensure_built().folder


def ensure_built() -> Built:
    """Return the build for the current lockfile, building (and timing) it when missing."""
    folder = VENDOR_ROOT / build_hash()
    if _complete(folder):
        return Built(folder, 0.0, _sizes(folder))
    with _lock:  # threads of one process build once; processes race to the rename
        if _complete(folder):
            return Built(folder, 0.0, _sizes(folder))
        started = time.perf_counter()
        _build_into(folder)
        seconds = time.perf_counter() - started
    _prune(keep=folder)
    return Built(folder, seconds, _sizes(folder))


def shared_chunks() -> list[str]:
    """URLs of the build's shared chunks (React's code): the entries import them.

    Their names are esbuild's content hashes, known only once built, so the page
    is told about them when it is served (hookfs/web.py), not when generated.
    """
    return [f"{URL_PREFIX}{name}" for name in ensure_built().sizes if name.startswith("chunk-")]


def _complete(folder: Path) -> bool:
    return all((folder / f"{name}.js").is_file() for name in ENTRIES)


def _sizes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(folder.glob("*.js"))}


def _build_into(folder: Path) -> None:
    """Build in a private temporary folder, then rename it to `folder` (first one wins)."""
    VENDOR_ROOT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=VENDOR_ROOT))
    try:
        sources, out = work / "src", work / "out"
        sources.mkdir()
        for name, text in _entry_modules().items():
            (sources / f"{name}.js").write_text(text, encoding="utf-8")
        _esbuild(sources, out, work / "meta.json")
        _write_manifest(work / "meta.json", sources, out)
        try:
            os.rename(out, folder)
        except OSError:
            if not _complete(folder):  # not another process's finished build: a real failure
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _entry_modules() -> dict[str, str]:
    """Write one entry module per output file: named re-exports of CommonJS packages."""
    keys = _commonjs_keys([spec for spec, commonjs in ENTRIES.values() if commonjs])
    modules = {}
    for name, (specifier, commonjs) in ENTRIES.items():
        if not commonjs:
            modules[name] = f"export * from {json.dumps(specifier)};\n"
            continue
        names = [key for key in keys[specifier] if _IDENTIFIER.match(key) and key not in _RESERVED]
        modules[name] = (
            f"import mod from {json.dumps(specifier)};\n"
            "export default mod;\n"
            f"export const {{ {', '.join(names)} }} = mod;\n"
        )
    return modules


def _commonjs_keys(specifiers: list[str]) -> dict[str, list[str]]:
    """Ask node for each CommonJS package's export keys, as production code has them."""
    node = shutil.which("node")
    if node is None:
        raise VendorError("node is not on PATH: install Node 20 and run `make setup`")
    script = (
        "const out = {};"
        "for (const s of JSON.parse(process.argv[1])) out[s] = Object.keys(require(s)).sort();"
        "process.stdout.write(JSON.stringify(out));"
    )
    done = subprocess.run(
        [node, "-e", script, json.dumps(specifiers)],
        cwd=REPO,
        env={**os.environ, "NODE_ENV": "production"},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise VendorError(
            f"cannot load {', '.join(specifiers)} from {NODE_MODULES}: run `make setup`"
            f" (npm ci).\n{done.stderr.strip()}"
        )
    keys: dict[str, list[str]] = json.loads(done.stdout)
    return keys


def _esbuild(sources: Path, out: Path, metafile: Path) -> None:
    """Bundle every entry in one call: split, minified, production React."""
    entries = [str(sources / f"{name}.js") for name in ENTRIES]
    command = [
        str(esbuild_path()),
        *entries,
        "--bundle",
        "--splitting",
        "--format=esm",
        "--platform=browser",
        "--target=es2022",
        "--minify",
        '--define:process.env.NODE_ENV="production"',
        f"--outdir={out}",
        "--entry-names=[name]",
        "--chunk-names=chunk-[hash]",
        f"--metafile={metafile}",
        "--log-level=warning",
        "--color=false",
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise VendorError(f"esbuild could not build the vendor modules:\n{done.stderr.strip()}")


def _write_manifest(metafile: Path, sources: Path, out: Path) -> None:
    """Keep esbuild's metafile as `manifest.json`: per output file, its size, imports, inputs.

    Outputs are named by file name, inputs relative to node_modules (entries: `entry:<name>`),
    not by the temporary folder they were built in.
    """
    meta = json.loads(metafile.read_text(encoding="utf-8"))
    manifest = {}
    for path, output in meta["outputs"].items():
        manifest[Path(path).name] = {
            "bytes": output["bytes"],
            "imports": sorted(Path(i["path"]).name for i in output["imports"]),
            "inputs": sorted(_input_name(i, sources) for i in output["inputs"]),
        }
    text = json.dumps(manifest, indent=1, sort_keys=True)
    (out / MANIFEST).write_text(text + "\n", encoding="utf-8")


def _input_name(path: str, sources: Path) -> str:
    """Name an esbuild input (relative to the repository) without the temporary folder."""
    absolute = REPO / path
    if absolute.parent == sources:
        return f"entry:{absolute.name}"
    return absolute.relative_to(NODE_MODULES).as_posix()


def _prune(keep: Path) -> None:
    """Remove builds of earlier lockfiles (never a build in progress)."""
    for old in VENDOR_ROOT.iterdir():
        if old != keep and old.is_dir() and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)


def main() -> None:
    """Build (or find) the vendor modules and say where and how big they are."""
    try:
        built = ensure_built()
    except (VendorError, RuntimeError) as exc:
        raise SystemExit(f"error: {exc}") from None
    took = f"built in {built.seconds * 1000:.0f} ms" if built.seconds else "up to date"
    total = sum(built.sizes.values())
    print(f"vendor modules {took}: {built.folder} ({len(built.sizes)} files, {total:,} bytes)")


if __name__ == "__main__":
    main()
