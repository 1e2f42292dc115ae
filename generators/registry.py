"""Find generators through entry points and run them, all or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import entry_points

from compiler import ir
from generators.base import Artifact, Generator
from generators.trace import trace_artifact

GROUP = "reframe.generators"


class GeneratorError(Exception):
    """A generator failed or broke the contract; nothing is written."""


def load_generators() -> list[Generator]:
    """Every registered generator, sorted by name."""
    found = []
    for point in sorted(entry_points(group=GROUP), key=lambda p: p.name):
        try:
            generator = point.load()()
        except Exception as exc:
            raise GeneratorError(
                f"generator {point.name!r} ({point.value}) could not be loaded: {exc}. "
                "Reinstall the package that provides it, or remove it."
            ) from exc
        if not isinstance(generator, Generator):
            raise GeneratorError(
                f"{point.value} is registered as generator {point.name!r} but has no "
                "`name` and `generate(project)`."
            )
        found.append(generator)
    if not found:
        raise GeneratorError(
            f"no generators are registered under {GROUP!r}; reinstall with `make setup`."
        )
    return found


def run_generators(project: ir.Project, generators: Sequence[Generator]) -> list[Artifact]:
    """All artifacts plus `trace.json`, sorted by path; any failure raises."""
    artifacts: dict[str, tuple[str, Artifact]] = {}
    for generator in generators:
        try:
            produced = list(generator.generate(project))
        except Exception as exc:
            raise GeneratorError(
                f"generator {generator.name!r} failed: {type(exc).__name__}: {exc}. "
                "Nothing was written."
            ) from exc
        for artifact in produced:
            if not isinstance(artifact, Artifact):
                raise GeneratorError(
                    f"generator {generator.name!r} returned {artifact!r}, not an Artifact."
                )
            earlier = artifacts.get(artifact.path)
            if earlier is not None:
                raise GeneratorError(
                    f"generators {earlier[0]!r} and {generator.name!r} both produce {artifact.path}."
                )
            artifacts[artifact.path] = (generator.name, artifact)
    ordered = [artifacts[path][1] for path in sorted(artifacts)]
    return sorted([*ordered, trace_artifact(project, ordered)], key=lambda a: a.path)
