"""The incremental build graph: generator work remembered with what it read.

A generator marks its per-entity work with `@incremental("rule")`: a function
of `(project, entity, ...)`. While a build runs (`building(...)`), each call
is a node of the graph. The first time, it runs against a view of the project
that records what it reads: entities by name (`project.entity("Customer")`,
the entity it was given), what a reference needs of one (its names and key,
`project.ref_target("Customer")`: a field added to Customer does not reach
what only refers to it), and project-wide parts (`project.app`, and
`project.entities`, which is everything). The result is remembered with the
content hash of each of those reads, under the node's name (rule, arguments)
and the generators' code version. The next build reuses the result when every
read still hashes the same, and runs the function again otherwise: a changed
field of one entity recomputes the nodes that read that entity, not the rest.
Within one process (`gen dev`), a node the last build found valid is valid
without comparing anything unless it read something that may have changed
since: an entity the compile made anew or dropped, or a project-wide part
(`Graph._suspect_reads`; salsa's "red-green" validation).

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

#: A read: ("entity", name), ("ref", name) (`Project.ref_target`) or ("project", attribute).
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


#: The `verified_at` of a node no build of this process checked (read back from the store).
#: Not 0: builds count from 1, and each trusts what the one before it checked.
_UNCHECKED = -1


class _Node:
    """A remembered node, unpickled: the bytes it came from, the hashes of what it read, its
    result, and the last build (`Graph.build`) that found those hashes still right."""

    __slots__ = ("pickled", "result", "stamped", "verified_at")

    def __init__(self, pickled: bytes, stamped: dict[Read, str], result: Any, verified_at: int):
        self.pickled = pickled
        self.stamped = stamped
        self.result = result
        self.verified_at = verified_at


class Memo:
    """Where remembered results are kept: a dict, and the store's memo table when saved.

    `gen dev` keeps one for the life of the process; `gen generate` reads the store's.
    """

    def __init__(self, store: HookStore | None = None) -> None:
        self.store = store
        self.kept: dict[str, bytes] = {}
        self._unsaved: dict[str, bytes] = {}
        #: Results already unpickled, by key, with the bytes they came from.
        self.decoded: dict[str, _Node] = {}
        #: Node keys by rule and argument names: a key is a hash, and `gen dev` asks for
        #: the same 800 of them every save (the code version is fixed for a process).
        self.keys: dict[tuple[str, ...], str] = {}
        #: Content hashes of IR entities by identity: an entity the incremental compile
        #: kept (compiler/incremental.py) is the same object, and is not hashed again.
        self.entity_hashes: dict[int, tuple[ir.Entity, str]] = {}
        #: Results of `same_objects` work, by rule and the identities of its objects: the
        #: objects, the result, and the keys of the nodes the work called.
        self.identical: dict[tuple[object, ...], _SameObjects] = {}
        #: The builds over this memo so far (`Graph.build`), and the hash of each read as
        #: the last of them found it.
        self.builds = 0
        self.digests: dict[Read, str] = {}

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
        #: This build's number over its memo: a node the last build found valid, and that
        #: read nothing of `_suspects`, is valid as it is (`_reusable`).
        memo.builds += 1
        self.build = memo.builds
        self._suspects = self._suspect_reads()
        self._recording: list[set[Read]] = []
        self._identical_now: dict[tuple[object, ...], _SameObjects] = {}
        #: The keys of the nodes this build called; and of those each `same_objects` work
        #: under way called.
        self._called: set[str] = set()
        self._called_within: list[set[str]] = []

    def hash_of(self, read: Read) -> str:
        known = self._hashes.get(read)
        if known is None:
            known = self._hashes[read] = self._hash(read)
            if self._latest():
                self.memo.digests[read] = known
        return known

    def _latest(self) -> bool:
        """Whether no build over the memo began after this one: only the latest notes what
        the next one trusts (`Memo.digests`, `_Node.verified_at`)."""
        return self.build == self.memo.builds

    def _suspect_reads(self) -> set[Read]:
        """The reads that may hash otherwise than in the last build ("red-green", as salsa
        does): an entity the compile kept, or moved, is known by identity to hash as it did,
        without hashing it; one made anew, one gone, and project-wide parts are suspect."""
        last = self.memo.digests
        suspects: set[Read] = set()
        current: set[Read] = set()
        for entity in self.project.entities:
            read, as_target = ("entity", entity.name), ("ref", entity.name)
            current |= {read, as_target}
            known = self._known_hash(entity)
            if known is None and (twin := moved_from(entity)) is not None:
                known = self._known_hash(twin)
                if known is not None:  # as `_hash` notes it
                    self.memo.entity_hashes[id(entity)] = (entity, known)
            if known is None or known != last.get(read):
                suspects |= {read, as_target}
                # Only a hash taken in this build may be trusted by the next: a build that
                # reads neither (`model_now`'s) must not leave last one's for an entity that
                # comes back as it was then.
                last.pop(read, None)
                last.pop(as_target, None)
        gone = last.keys() - current
        for read in gone:  # a node that reads one hashes it again, and notes it again
            del last[read]
        return suspects | gone

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
        for gone in self.memo.entity_hashes.keys() - current:
            del self.memo.entity_hashes[gone]
        for kept in (self.memo.kept, self.memo.decoded):
            for unused in kept.keys() - self._called:
                del kept[unused]
        keys = self.memo.keys
        if len(keys) > 2 * len(self.memo.kept) + 100:  # renamed entities' keys: now and then
            self.memo.keys = {names: key for names, key in keys.items() if key in self._called}
        self.memo.identical = self._identical_now

    def same_objects(self, rule: str, of: tuple[object, ...], compute: Callable[[], R]) -> R:
        # An entry keeps its objects alive, so an object of `of` with the identity of one of
        # them is that very object: the key alone says the objects are the same.
        key = (rule, *map(id, of))
        earlier = self.memo.identical.get(key)
        if earlier is not None:
            self._identical_now[key] = earlier
            if earlier[2]:  # the nodes `compute` called stay in memory, as if called again
                self._called |= earlier[2]
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
        if project is not self.project and not self._ours(project):  # another project: no memo
            return function(project, *args)
        key = self._key_of(rule, args)
        self._called.add(key)
        if self._called_within:
            self._called_within[-1].add(key)
        found = self._reusable(key)
        if found is None:
            return self._compute(key, rule, function, args)
        if self._recording:  # a node computed calls this one: it reads what this one read
            self._recording[-1].update(found.stamped)
        self.stats.reused += 1
        return found.result

    def _key_of(self, rule: str, args: tuple[Any, ...]) -> str:
        if len(args) == 1 and isinstance(args[0], ir.Entity):  # most nodes: one entity's
            names: tuple[str, ...] = (rule, args[0].name)
        else:
            names = (rule, *[a.name if isinstance(a, ir.Entity) else repr(a) for a in args])
        key = self.memo.keys.get(names)
        if key is None:
            key = self.memo.keys[names] = _key(rule, args)
        return key

    def _reusable(self, key: str) -> _Node | None:
        """The node remembered under `key` if what it read hashes as it did, else None."""
        remembered = self.memo.kept.get(key) or self.memo.get(key)
        if remembered is None:
            return None
        node = self.memo.decoded.get(key)
        if node is None or node.pickled is not remembered:
            node = self._decode(key, remembered)
            if node is None:
                return None
        verified = node.verified_at
        if verified == self.build:  # checked earlier in this build
            return node
        if verified != self.build - 1 or not node.stamped.keys().isdisjoint(self._suspects):
            # Not checked in the last build (a `same_objects` hit kept it without calling
            # it, or it was not needed), or it read something that may have changed since:
            # compare the hashes, which is right whatever happened in between.
            hashes = self._hashes
            for read, digest in node.stamped.items():
                if (hashes.get(read) or self.hash_of(read)) != digest:
                    return None
        if self.build == self.memo.builds:  # `_latest()`, on every node's way
            node.verified_at = self.build
        return node

    def _decode(self, key: str, remembered: bytes) -> _Node | None:
        try:
            version, stamped, result = pickle.loads(remembered)
        except Exception:  # an entry of another format or a broken one: compute again
            return None
        if version != FORMAT:
            return None
        node = self.memo.decoded[key] = _Node(remembered, stamped, result, _UNCHECKED)
        return node

    def _compute(self, key: str, rule: str, function: Callable[..., R], args: tuple[Any, ...]) -> R:
        entity = args[0] if args and isinstance(args[0], ir.Entity) else None
        own: set[Read] = {("entity", entity.name)} if entity is not None else set()
        self._recording.append(own)
        try:
            result = self._earlier_if_equal(key, function(_Recording(self.project, own), *args))
        finally:
            self._recording.pop()
        if self._recording:
            self._recording[-1].update(own)
        stamped = {read: self.hash_of(read) for read in own}
        pickled = pickle.dumps((FORMAT, stamped, result), pickle.HIGHEST_PROTOCOL)
        self.memo.put(key, pickled)
        # The next build of this process reuses this very object, not an unpickled copy:
        # what is made of it (a file's parts) stays the same object too.
        self.memo.decoded[key] = _Node(
            pickled, stamped, result, self.build if self._latest() else _UNCHECKED
        )
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
        earlier = decoded.result
        try:
            same = type(earlier) is type(result) and bool(earlier == result)
        except Exception:  # a value that cannot say: taken as new
            return result
        return earlier if same else result

    def _ours(self, project: Any) -> bool:
        if isinstance(project, _Recording):
            return project._project is self.project
        return project is self.project


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

    With `of` empty, it keeps an object from build to build of the process: the state a
    whole-project generator keeps of what its last build made (`ir.json`'s `_Dumped`,
    `trace.json`'s `_State`), which must give what a fresh one would.
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

    def ref_target(self, name: str) -> ir.RefTarget | None:
        self._reads.add(("ref", name))  # only what a reference needs: not the whole entity
        return self._project.ref_target(name)

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
    if kind == "ref":
        target = project.ref_target(name)
        if target is None:
            return _digest("<none>")
        key = _LOC.sub("", target.key.model_dump_json())
        return _digest("\0".join([target.name, target.table, target.uid, key]))
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
