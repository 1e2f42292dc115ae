"""Model-file bytecode is cached in .gen/cache/bytecode, and never goes stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.bytecode import CACHE_DIR
from compiler.compile import CompileError, compile_project
from generators.pipeline import generate


def cache_entries(root: Path) -> set[str]:
    folder = root / CACHE_DIR
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def test_generate_caches_each_model_file_and_a_rerun_reads_the_cache(example_copy: Path) -> None:
    generate(example_copy)
    files = list((example_copy / "domain").glob("*.model.py"))
    files += list((example_copy / "policies").glob("*.policy.py"))
    entries = cache_entries(example_copy)
    assert len(entries) == len(files) == 4
    first = compile_project(example_copy).project
    # A cache hit compiles to the same IR, locations included.
    assert compile_project(example_copy).project == first
    generate(example_copy)
    assert cache_entries(example_copy) == entries


def test_an_edited_model_file_is_recompiled_not_read_from_the_cache(example_copy: Path) -> None:
    generate(example_copy)
    model = example_copy / "domain" / "catalog.model.py"
    model.write_text(model.read_text().replace("max_length(200)", "max_length(250)", 1))
    project = compile_project(example_copy).project
    field = project.field("Product.name")
    assert field is not None and field.max_length == 250


def test_a_corrupt_cache_entry_is_recompiled(example_copy: Path) -> None:
    generate(example_copy)
    before = compile_project(example_copy).project
    for entry in (example_copy / CACHE_DIR).iterdir():
        entry.write_bytes(b"not bytecode")
    assert compile_project(example_copy).project == before


def test_a_failed_compile_writes_no_cache_entry(example_copy: Path) -> None:
    generate(example_copy)
    entries = cache_entries(example_copy)
    model = example_copy / "domain" / "catalog.model.py"
    model.write_text(model.read_text() + '\nentity("Broken", fields={"x": text().nope()})\n')
    with pytest.raises(CompileError):
        generate(example_copy)
    assert cache_entries(example_copy) == entries
