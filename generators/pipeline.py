"""Model files -> IR -> artifacts -> hook store: what `gen generate` does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compiler.compile import Compiled, compile_project, fewer_gc_pauses
from generators.base import Artifact
from generators.registry import load_generators, run_generators
from hookfs.writer import WriteReport, write_snapshot


@dataclass(frozen=True)
class Built:
    compiled: Compiled
    artifacts: list[Artifact]


def build(project_dir: Path) -> Built:
    """Compile and generate in memory; raises CompileError or GeneratorError."""
    with fewer_gc_pauses():
        compiled = compile_project(project_dir)
        artifacts = run_generators(compiled.project, load_generators())
    return Built(compiled=compiled, artifacts=artifacts)


def generate(project_dir: Path, message: str = "gen generate") -> tuple[Built, WriteReport]:
    """Build, then write one snapshot and mirror it. Nothing is written on failure."""
    built = build(project_dir)
    report = write_snapshot(project_dir, built.artifacts, message)
    built.compiled.loaded.bytecode.save()
    return built, report
