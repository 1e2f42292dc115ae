"""Import generated Python straight from a hook-store snapshot: no files written, no build.

`mount(package, files)` makes the snapshot's files importable as `package`:
`files["api/app.py"]` is the module `package.api.app`, folders are packages
(with or without `__init__.py`). Modules get a virtual `__file__` under
`/reframe-hook/<package>/`, so code that finds its data next to itself
(`Path(__file__).parent.parent / "ir.json"`) reads it through `read_file`,
which serves those paths from the snapshot too. Tracebacks name the
snapshot's paths.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from types import ModuleType

HOOK_ROOT = PurePosixPath("/reframe-hook")
_MOUNTED: dict[str, Mapping[str, bytes]] = {}


def mount(package: str, files: Mapping[str, bytes], reuse_from: str | None = None) -> PurePosixPath:
    """Make `files` importable under `package`; return their virtual root.

    `reuse_from`: a package mounted before (`gen dev`'s previous snapshot). Its imported
    modules whose source is the same here, and whose imports inside the package are all
    reused too, are this package's as well: they are not run again. A 200-entity API
    then reloads the modules of the entities a change touched, not all of them.
    """
    if not package.isidentifier():
        raise ValueError(f"not a package name: {package!r}")
    _MOUNTED[package] = dict(files)
    if not any(isinstance(f, _HookFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _HookFinder())
    if reuse_from is not None and reuse_from in _MOUNTED:
        for module in reusable_modules(_MOUNTED[reuse_from], files, loaded(reuse_from)):
            sys.modules[f"{package}.{module}"] = sys.modules[f"{reuse_from}.{module}"]
    return HOOK_ROOT / package


def loaded(package: str) -> set[str]:
    """The modules of `package` that were imported, by dotted name inside it."""
    prefix = package + "."
    # A copy: request threads may be importing meanwhile.
    return {name[len(prefix) :] for name in list(sys.modules) if name.startswith(prefix)}


def reusable_modules(
    before: Mapping[str, bytes], after: Mapping[str, bytes], imported: set[str]
) -> set[str]:
    """Modules (dotted, inside the package) that may be taken from `before` as they are.

    A module qualifies when it was imported, its source is unchanged, it is not a package
    `__init__` (those stay fresh, with the new package's search path), it reads no file
    next to it (`__file__`: the data may have changed), it imports from its package at
    module level only (a reused module keeps the old package's `__package__`, which is
    unmounted once replaced), and every module of the package it imports qualifies too.
    """
    sources = {_dotted(path): path for path in after if path.endswith(".py")}
    candidates = {
        name
        for name, path in sources.items()
        if name in imported
        and not path.endswith("__init__.py")
        and before.get(path) == after[path]
        and b"__file__" not in after[path]
    }
    imports = {name: _package_imports(name, after[sources[name]]) for name in candidates}
    needs = {name: found & set(sources) for name, found in imports.items() if found is not None}
    candidates = set(needs)
    while True:
        dropped = {n for n in candidates if not needs[n] <= candidates}
        if not dropped:
            return candidates
        candidates -= dropped


def _dotted(path: str) -> str:
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


#: `_package_imports` results by module and the digest of its source.
_IMPORTS: dict[tuple[str, bytes], frozenset[str] | None] = {}
_IMPORTS_KEPT = 4096


def _package_imports(module: str, source: bytes) -> frozenset[str] | None:
    """What `module` imports from its package (relative imports), dotted: modules, and
    names that may be modules (`from . import x`); keep those that are. None when it
    imports from its package below module level (inside a function: at call time).

    Remembered by the source's digest: `gen dev` asks again for every module on each
    reload (parsing them all took 0.7 s at 200 entities), and most are unchanged."""
    key = (module, hashlib.sha256(source).digest())
    if key not in _IMPORTS:
        if len(_IMPORTS) >= _IMPORTS_KEPT:
            _IMPORTS.clear()
        _IMPORTS[key] = _parsed_package_imports(module, source)
    return _IMPORTS[key]


def _parsed_package_imports(module: str, source: bytes) -> frozenset[str] | None:
    found: set[str] = set()
    base = module.split(".")[:-1]  # the package `module` is in
    tree = ast.parse(source)
    top_level = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            if id(node) not in top_level:
                return None
            anchor = base[: len(base) - node.level + 1]  # `.` is `base`, `..` its parent
            target = [*anchor, *(node.module.split(".") if node.module else [])]
            found.add(".".join(target))
            found.update(".".join([*target, alias.name]) for alias in node.names)
    return frozenset(found)


def unmount(package: str) -> None:
    _MOUNTED.pop(package, None)
    for name in [m for m in list(sys.modules) if m == package or m.startswith(package + ".")]:
        del sys.modules[name]


def read_file(path: Path | PurePosixPath) -> bytes:
    """The bytes at `path`: from a mounted snapshot when it is under HOOK_ROOT, else from disk."""
    posix = PurePosixPath(path.as_posix())
    if posix.is_relative_to(HOOK_ROOT):
        package, *rest = posix.relative_to(HOOK_ROOT).parts
        files = _MOUNTED.get(package)
        relative = "/".join(rest)
        if files is None or relative not in files:
            raise FileNotFoundError(str(path))
        return files[relative]
    return Path(path).read_bytes()


class _HookFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, rest = fullname.partition(".")
        files = _MOUNTED.get(package)
        if files is None:
            return None
        relative = rest.replace(".", "/")
        root = HOOK_ROOT / package
        init = f"{relative}/__init__.py" if relative else "__init__.py"
        folder = f"{relative}/" if relative else ""
        if f"{relative}.py" in files and relative:
            return self._spec(fullname, files[f"{relative}.py"], root / f"{relative}.py", None)
        if init in files or any(name.startswith(folder) for name in files):
            source = files.get(init, b"")
            location = str(root / relative) if relative else str(root)
            return self._spec(fullname, source, root / init, [location])
        return None

    @staticmethod
    def _spec(
        fullname: str, source: bytes, origin: PurePosixPath, search: list[str] | None
    ) -> importlib.machinery.ModuleSpec:
        loader = _HookLoader(source, str(origin))
        spec = importlib.machinery.ModuleSpec(
            fullname, loader, origin=str(origin), is_package=search is not None
        )
        if search is not None:
            spec.submodule_search_locations = search
        spec.has_location = True
        return spec


class _HookLoader(importlib.abc.Loader):
    def __init__(self, source: bytes, origin: str) -> None:
        self.source, self.origin = source, origin

    def exec_module(self, module: ModuleType) -> None:
        module.__file__ = self.origin
        exec(compile(self.source, self.origin, "exec", dont_inherit=True), module.__dict__)

    def get_data(self, path: str) -> bytes:
        return read_file(PurePosixPath(path))
