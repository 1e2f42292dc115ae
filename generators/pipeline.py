"""Model files -> IR -> artifacts -> hook store: what `gen generate` does."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from compiler import ir
from compiler.compile import fewer_gc_pauses
from compiler.incremental import Recompiler
from compiler.ir_cache import IrCache, compile_or_reuse, keeper
from generators.base import Artifact, Generator
from generators.registry import load_generators, run_generators
from hookfs.graph import Graph, Memo, Stats, building
from hookfs.store import HookStore
from hookfs.writer import WriteReport, Written, write_snapshot

R = TypeVar("R")

#: Builds after which a session collects (`quiet_collector`) even if never quiet.
MOST_UNCOLLECTED = 20


@dataclass(frozen=True)
class Built:
    project: ir.Project
    artifacts: list[Artifact]
    #: Keeps the compile's caches (IR, bytecode); only once the run succeeded.
    save_caches: Callable[[], None]
    #: What the build graph reused and computed (hookfs/graph.py).
    stats: Stats = field(default_factory=Stats)


def build(project_dir: Path, memo: Memo | None = None) -> Built:
    """Compile and generate in memory; raises CompileError or GeneratorError.

    `memo`: results of earlier builds to reuse (hookfs/graph.py); none, everything runs.
    """
    with fewer_gc_pauses():
        compiled = compile_or_reuse(project_dir)
        return _generated(compiled.project, compiled.save, memo or Memo())


def _generated(
    project: ir.Project,
    save_caches: Callable[[], None],
    memo: Memo,
    generators: Sequence[Generator] | None = None,
) -> Built:
    graph = Graph(project, memo)
    with building(graph):
        artifacts = run_generators(project, generators or load_generators())
    graph.finish()
    return Built(project, artifacts, save_caches, graph.stats)


def generate(
    project_dir: Path, message: str = "gen generate", memo: Memo | None = None
) -> tuple[Built, WriteReport]:
    """Build, then write one snapshot and mirror it. Nothing is written on failure.

    Without `memo`, the results of earlier builds are read from the project's store.
    """
    with _memo_of(project_dir, memo) as used:
        # The IR and the artifacts stay alive while they are written: a full collection
        # then would only rescan them (it took 0.1 to 0.3 s of a 500-entity write).
        with fewer_gc_pauses():
            built = build(project_dir, used)
            report = write_snapshot(project_dir, built.artifacts, message)
        built.save_caches()
        used.save()
    return built, report


@contextlib.contextmanager
def _memo_of(project_dir: Path, memo: Memo | None) -> Iterator[Memo]:
    if memo is not None:
        yield memo
        return
    store = HookStore.open(project_dir).for_caching()
    try:
        yield Memo(store)
    finally:
        store.close()


class Session:
    """Builds of one project in one process (`gen dev`): each save redoes what it changed.

    It keeps the incremental compiler (compiler/incremental.py) and the build graph's
    results, unpickled, with the hashes of the entities they read; the store's memo
    is written as well, so the next `gen generate` or `gen dev` reuses them too.
    """

    def __init__(self, project_dir: Path, quiet_collector: bool = False) -> None:
        """`quiet_collector`: for the process `gen dev` is. Builds run without the cyclic
        collector, which would walk what they keep (200,000 objects at 200 entities) once or
        twice a save, 10 to 110 ms; what a build keeps is then frozen, out of later
        collections' way, until `collect_garbage` (when the process is idle). A build
        itself leaves no cycles (measured), but others may: reloaded API modules."""
        self.project_dir = project_dir
        self.quiet_collector = quiet_collector
        #: Builds since the last `collect_garbage`.
        self.uncollected = 0
        self.compiler = Recompiler(project_dir)
        self.memo = Memo()
        self.written = Written()
        #: Keeps the last good build's IR and bytecode (`keep_caches`), once.
        self._unkept: Callable[[], None] | None = None
        #: The compiler and the memo serve one caller at a time: a build, or `model_now`.
        self._lock = threading.Lock()
        #: The project's store, open between builds (`_open_store`); the generators, loaded.
        self._store: HookStore | None = None
        self._generators: list[Generator] | None = None

    def close(self) -> None:
        """Close the store this session keeps open, remove the mirror's spares, and give
        what builds froze back to the collector. A build under way is waited for a second
        at most: unclosed, the store loses nothing (its WAL is read again by the next
        connection), and the next spares made remove these."""
        if not self._lock.acquire(timeout=1):
            return
        try:
            if self._store is not None:
                self._store.close()
                self._store = None
            self.written.close()
            if self.uncollected:
                gc.unfreeze()
                self.uncollected = 0
        finally:
            self._lock.release()

    def _open_store(self) -> HookStore:
        """The store, kept open from build to build (opening and closing it each time took
        10 ms of a save); opened again when its file was removed or replaced."""
        if self._store is not None and not self._store.still_there():
            self._store.close()
            self._store = None
        if self._store is None:
            self._store = HookStore.open(self.project_dir, any_thread=True).for_development()
        return self._store

    def generate(
        self,
        message: str = "gen dev",
        while_writing: Callable[[list[Artifact]], None] | None = None,
    ) -> tuple[Built, WriteReport]:
        """Like `generate`: build, write one snapshot, mirror it; nothing written on failure.

        `while_writing(artifacts)` runs in a thread while the snapshot is written (what
        waits on other processes, such as esbuild, then overlaps the write).
        """
        with self._lock, self._collector_paused():
            return self._generate(message, while_writing)

    @contextlib.contextmanager
    def _collector_paused(self) -> Iterator[None]:
        if not self.quiet_collector or not gc.isenabled():
            yield
            return
        if self.uncollected >= MOST_UNCOLLECTED:  # never quiet for long: collect now
            self._collect()
        gc.disable()
        try:
            yield
        finally:
            gc.freeze()
            gc.enable()
            self.uncollected += 1

    def collect_garbage(self) -> None:
        """Collect what the builds since the last call froze (see `quiet_collector`): 0.1 s
        at 200 entities, for a quiet moment; checkpoint the store's WAL, which the builds
        leave to such a moment (`HookStore.for_development`); and note the stat of the
        files the last mirror wrote, now old enough to trust (`Written.settle`)."""
        with self._lock:
            self._collect()
            if self._store is not None:
                self._store.checkpoint()
                self.written.settle(self.project_dir, self._store)

    def _collect(self) -> None:
        if self.uncollected:
            gc.unfreeze()
            gc.collect()
            self.uncollected = 0

    def _generate(
        self, message: str, while_writing: Callable[[list[Artifact]], None] | None
    ) -> tuple[Built, WriteReport]:
        store = self._open_store()
        self.memo.store = store
        self._generators = self._generators or load_generators()
        try:
            with fewer_gc_pauses():
                cache = IrCache(self.project_dir)  # keyed by the inputs this compile reads
                compiled = self.compiler.compile()
                built = _generated(compiled.project, self.keep_caches, self.memo, self._generators)
                alongside = None
                if while_writing is not None:
                    alongside = threading.Thread(target=while_writing, args=(built.artifacts,))
                    alongside.start()
                try:
                    report = write_snapshot(
                        self.project_dir, built.artifacts, message, self.written, store
                    )
                finally:
                    if alongside is not None:
                        alongside.join()
            self.memo.save()
        finally:
            self.memo.store = None
        self._unkept = keeper(cache, compiled)
        return built, report

    def model_now(self, use: Callable[[ir.Project], R]) -> R:
        """`use(project)` on the model the project's files hold now: compiled incrementally
        (the next build reuses it), `use`'s `@incremental` work remembered with the builds'
        (a table's lowering). Raises CompileError. Writes nothing."""
        with self._lock, fewer_gc_pauses():
            project = self.compiler.compile().project
            with building(Graph(project, self.memo)):
                return use(project)

    def keep_caches(self) -> None:
        """Keep what `compile_or_reuse` keeps of the last good build: its IR, for the next
        command (`gen migrate make`), and the model files' bytecode. `gen dev` calls it once
        the pages and the API have the build: it is not on their way."""
        keep, self._unkept = self._unkept, None
        if keep is not None:
            keep()
