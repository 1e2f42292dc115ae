"""The incremental build graph: generator work remembered with what it read.

A generator marks its per-entity work with `@incremental("rule")`: a function
of `(project, entity, ...)`. While a build runs (`building(...)`), each call
is a node of the graph. The first time, it runs against a view of the project
that records what it reads: entities by name (`project.entity("Customer")`,
the entity it was given), and project-wide parts (`project.app`, and
`project.entities`, which is everything). The result is remembered with the
content hash of each of those reads, under the node's name (rule, arguments)
and the generators' code version. The next build reuses the result when every
read still hashes the same, and runs the function again otherwise: a changed
field of one entity recomputes the nodes that read that entity, not the rest.

Results live in the hook store's memo table (so `gen generate` reuses them
across runs, and `gen dev` keeps them in memory as well). The transpiled TSX
that `gen serve` memoises there is the same graph's last layer: keyed by the
hash of the source it was made from (hookfs/transpile.py).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import pickle
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from compiler import ir
from compiler.relocate import moved_from
from hookfs.store import HookStore

P = ParamSpec("P")
R = TypeVar("R")

#: Bump when what is remembered changes shape.
FORMAT = 1
#: The code a remembered result depends on besides the IR: generators and what they use.
_CODE_FOLDERS = ("generators", "templates", "policy", "compiler/ir")
_REPO = Path(__file__).resolve().parents[1]

#: A read: ("entity", name) or ("project", attribute).
Read = tuple[str, str]
#: What `same_objects` remembers: its objects, its result, the node keys its work called.
_SameObjects = tuple[tuple[object, ...], Any, frozenset[str]]


@dataclass
class Stats:
    """What a build did with its nodes."""

    reused: int = 0
    computed: int = 0
    #: Rule and first argument of every node computed.
    computed_nodes: list[str] = field(default_factory=list)


class Memo:
    """Where remembered results are kept: a dict, and the store's memo table when saved.

    `gen dev` keeps one for the life of the process; `gen generate` reads the store's.
    """

    def __init__(self, store: HookStore | None = None) -> None:
        self.store = store
        self.kept: dict[str, bytes] = {}
        self._unsaved: dict[str, bytes] = {}
        #: Results already unpickled, by key, with the bytes they came from.
        self.decoded: dict[str, tuple[bytes, Any]] = {}
        #: Content hashes of IR entities by identity: an entity the incremental compile
        #: kept (compiler/incremental.py) is the same object, and is not hashed again.
        self.entity_hashes: dict[int, tuple[ir.Entity, str]] = {}
        #: Results of `same_objects` work, by rule and the identities of its objects: the
        #: objects, the result, and the keys of the nodes the work called.
        self.identical: dict[tuple[str, tuple[int, ...]], _SameObjects] = {}

    def get(self, key: str) -> bytes | None:
        found = self.kept.get(key)
        if found is None and self.store is not None:
            found = self.store.memo_get(key)
            if found is not None:
                self.kept[key] = found
        return found

    def put(self, key: str, value: bytes) -> None:
        self.kept[key] = value
        self._unsaved[key] = value

    def save(self) -> None:
        """Write what was computed to the store, in one transaction (after a good build)."""
        if self.store is not None and self._unsaved:
            with contextlib.suppress(sqlite3.Error):  # a cache that cannot be written is skipped
                self.store.memo_put_many(self._unsaved.items())
        self._unsaved.clear()


class Graph:
    """One build's view of the remembered nodes, over one compiled project."""

    def __init__(self, project: ir.Project, memo: Memo) -> None:
        self.project = project
        self.memo = memo
        self.stats = Stats()
        self._hashes: dict[Read, str] = {}
        self._recording: list[set[Read]] = []
        self._identical_now: dict[tuple[str, tuple[int, ...]], _SameObjects] = {}
        #: The keys of the nodes this build called; and of those each `same_objects` work
        #: under way called.
        self._called: set[str] = set()
        self._called_within: list[set[str]] = []

    def hash_of(self, read: Read) -> str:
        known = self._hashes.get(read)
        if known is None:
            known = self._hashes[read] = self._hash(read)
        return known

    def _hash(self, read: Read) -> str:
        kind, name = read
        found = self.project.entity(name) if kind == "entity" else None
        if found is None:
            return _hash(self.project, read)
        seen = self._known_hash(found)
        if seen is None:
            # An entity the compile moved (lines added above it) hashes as the one it was
            # moved from: the hash leaves source lines out.
            twin = moved_from(found)
            seen = self._known_hash(twin) if twin is not None else None
        digest = seen if seen is not None else _hash(self.project, read)
        self.memo.entity_hashes[id(found)] = (found, digest)
        return digest

    def _known_hash(self, entity: ir.Entity) -> str | None:
        seen = self.memo.entity_hashes.get(id(entity))
        return seen[1] if seen is not None and seen[0] is entity else None

    def finish(self) -> None:
        """Keep in memory what this build used only: its entities' hashes, its nodes'
        results, its `same_objects` results (`gen dev` builds again and again)."""
        current = {id(e) for e in self.project.entities}
        current |= {id(twin) for e in self.project.entities if (twin := moved_from(e))}
        for gone in [k for k in self.memo.entity_hashes if k not in current]:
            del self.memo.entity_hashes[gone]
        for kept in (self.memo.kept, self.memo.decoded):
            for unused in [k for k in kept if k not in self._called]:
                del kept[unused]
        self.memo.identical = self._identical_now

    def same_objects(self, rule: str, of: tuple[object, ...], compute: Callable[[], R]) -> R:
        key = (rule, tuple(map(id, of)))
        earlier = self.memo.identical.get(key)
        if earlier is not None and all(a is b for a, b in zip(earlier[0], of, strict=True)):
            self._identical_now[key] = earlier
            # The nodes `compute` called stay in memory, as if called again.
            self._called.update(earlier[2])
            for outer in self._called_within:
                outer |= earlier[2]
            return earlier[1]
        self._called_within.append(set())
        try:
            result = compute()
        finally:
            called = self._called_within.pop()
        for outer in self._called_within:
            outer |= called
        self._identical_now[key] = (of, result, frozenset(called))
        return result

    def call(self, rule: str, function: Callable[..., R], project: Any, args: tuple[Any, ...]) -> R:
        if not self._ours(project):  # another project than this build's: no memo
            return function(project, *args)
        key = _key(rule, args)
        self._called.add(key)
        if self._called_within:
            self._called_within[-1].add(key)
        reads = self._recording[-1] if self._recording else None
        entity = args[0] if args and isinstance(args[0], ir.Entity) else None
        if entity is not None and reads is not None:
            reads.add(("entity", entity.name))
        remembered = self.memo.get(key)
        if remembered is not None:
            found = self._still_valid(key, remembered)
            if found is not None:
                recorded, result = found
                if reads is not None:
                    reads.update(recorded)
                self.stats.reused += 1
                return result
        own: set[Read] = {("entity", entity.name)} if entity is not None else set()
        self._recording.append(own)
        try:
            result = self._earlier_if_equal(key, function(_Recording(self.project, own), *args))
        finally:
            self._recording.pop()
        if reads is not None:
            reads.update(own)
        stamped = {read: self.hash_of(read) for read in own}
        pickled = pickle.dumps((FORMAT, stamped, result), pickle.HIGHEST_PROTOCOL)
        self.memo.put(key, pickled)
        # The next build of this process reuses this very object, not an unpickled copy:
        # what is made of it (a file's parts) stays the same object too.
        self.memo.decoded[key] = (pickled, (FORMAT, stamped, result))
        self.stats.computed += 1
        self.stats.computed_nodes.append(f"{rule} {args[0].name if entity else ''}".strip())
        return result

    def _earlier_if_equal(self, key: str, result: R) -> R:
        """The last build's result of this node if it equals `result`, else `result`: work
        computed again that came out the same (an entity that read a changed one and did
        not use what changed) hands the same objects on, and what is made of them in
        `same_objects` is not made again (early cutoff)."""
        decoded = self.memo.decoded.get(key)
        if decoded is None:
            return result
        earlier = decoded[1][2]
        try:
            same = type(earlier) is type(result) and bool(earlier == result)
        except Exception:  # a value that cannot say: taken as new
            return result
        return earlier if same else result

    def _ours(self, project: Any) -> bool:
        if isinstance(project, _Recording):
            return project._project is self.project
        return project is self.project

    def _still_valid(self, key: str, remembered: bytes) -> tuple[set[Read], Any] | None:
        decoded = self.memo.decoded.get(key)
        if decoded is not None and decoded[0] is remembered:
            version, stamped, result = decoded[1]
        else:
            try:
                version, stamped, result = pickle.loads(remembered)
            except Exception:  # an entry of another format or a broken one: compute again
                return None
            self.memo.decoded[key] = (remembered, (version, stamped, result))
        if version != FORMAT:
            return None
        for read, digest in stamped.items():
            if self.hash_of(read) != digest:
                return None
        return set(stamped), result


_current: contextvars.ContextVar[Graph | None] = contextvars.ContextVar("graph", default=None)


@contextlib.contextmanager
def building(graph: Graph) -> Iterator[Graph]:
    """Make `graph` the one `@incremental` functions use while the block runs."""
    token = _current.set(graph)
    try:
        yield graph
    finally:
        _current.reset(token)


def incremental(rule: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Remember a generator function of `(project, entity, ...)` by what it reads.

    Outside `building(...)` the function simply runs: generators stay pure functions.
    Its result must be picklable, and depend only on its arguments and what it reads
    of `project` (the IR is frozen; no other state). A reused result is shared between
    builds of one process (`gen dev`): callers read it, never change it.
    """

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def remembered(*args: P.args, **kwargs: P.kwargs) -> R:
            graph = _current.get()
            if graph is None or kwargs or not args:
                return function(*args, **kwargs)
            project, rest = args[0], tuple(args[1:])
            return graph.call(rule, function, project, rest)

        return remembered

    return decorate


def same_objects(rule: str, of: tuple[object, ...], compute: Callable[[], R]) -> R:
    """`compute()`, or what it gave in an earlier build of this process for the very same
    objects `of` (frozen: IR nodes the incremental compile kept, artifacts of reused nodes).

    For work on whole-project files that reads what `@incremental` nodes must not (source
    lines: `trace.json`, `ir.json`), and for work too small to be worth a node's hashing.
    `compute` depends on `of` alone. Outside `building(...)` it simply runs.
    """
    graph = _current.get()
    return compute() if graph is None else graph.same_objects(rule, of, compute)


class _Recording:
    """The project as a node reads it: every lookup is noted."""

    def __init__(self, project: ir.Project, reads: set[Read]) -> None:
        self._project = project
        self._reads = reads

    def entity(self, name: str) -> ir.Entity | None:
        self._reads.add(("entity", name))
        return self._project.entity(name)

    def field(self, qualified: str) -> ir.FieldNode | None:
        self._reads.add(("entity", qualified.partition(".")[0]))
        return self._project.field(qualified)

    def element(self, ref: str) -> ir.Entity | ir.FieldNode | None:
        self._reads.add(("entity", ref.partition(".")[0]))
        return self._project.element(ref)

    def __getattr__(self, name: str) -> Any:
        self._reads.add(("project", name))
        return getattr(self._project, name)


#: Where a node was declared, as an entity's JSON spells it: `"loc":{"file":...,"line":N}`.
_LOC = re.compile(r'"loc":\{"file":"(?:[^"\\]|\\.)*","line":\d+\},?')


def _hash(project: ir.Project, read: Read) -> str:
    kind, name = read
    if kind == "entity":
        found = project.entity(name)
        # Without source lines: a field added above an entity moves its lines, and only
        # trace.json and ir.json, which are not nodes, say where things are declared.
        return _digest(_LOC.sub("", found.model_dump_json()) if found else "<none>")
    value = getattr(project, name)
    if name == "entities":  # every entity, in order
        return _digest("\0".join(_hash(project, ("entity", e.name)) for e in value))
    if isinstance(value, tuple):
        return _digest("\0".join(_dump(item) for item in value))
    return _digest(_dump(value))


def _dump(value: Any) -> str:
    dump = getattr(value, "model_dump_json", None)
    return dump() if dump is not None else repr(value)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _key(rule: str, args: tuple[Any, ...]) -> str:
    named = [a.name if isinstance(a, ir.Entity) else repr(a) for a in args]
    return _digest("\0".join(["graph", str(FORMAT), code_version(), rule, *named]))


@functools.cache
def code_version() -> str:
    """A hash of the generators' sources (and what they use): a new version recomputes all."""
    digest = hashlib.sha256()
    for folder in _CODE_FOLDERS:
        for path in sorted((_REPO / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(_REPO).as_posix().encode() + b"\0")
                digest.update(path.read_bytes())
    return digest.hexdigest()
