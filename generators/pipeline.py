"""Model files -> IR -> artifacts -> hook store: what `gen generate` does."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from compiler import ir
from compiler.compile import fewer_gc_pauses
from compiler.ir_cache import compile_or_reuse
from generators.base import Artifact
from generators.registry import load_generators, run_generators
from hookfs.graph import Graph, Memo, Stats, building
from hookfs.store import HookStore
from hookfs.writer import WriteReport, write_snapshot


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
        graph = Graph(compiled.project, memo or Memo())
        with building(graph):
            artifacts = run_generators(compiled.project, load_generators())
    return Built(compiled.project, artifacts, compiled.save, graph.stats)


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
