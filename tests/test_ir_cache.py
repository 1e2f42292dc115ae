"""The IR of the last generate is reused by the next command, and never goes stale."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli.migrate import make_migration
from compiler.compile import CompileError, compile_project
from compiler.ir_cache import CACHE_DIR, IrCache, compile_or_reuse
from generators.db.diff import Answers
from generators.pipeline import generate


def name_max_length(root: Path) -> int | None:
    field = compile_or_reuse(root).project.field("Product.name")
    assert field is not None
    return field.max_length


def test_the_next_command_reuses_the_ir_generate_compiled(example_copy: Path) -> None:
    generate(example_copy)
    cache = IrCache(example_copy)
    assert compile_or_reuse(example_copy).project == compile_project(example_copy).project
    # Proof that it is read, not compiled: a doctored entry under the same key comes back.
    stored = compile_project(example_copy).project
    doctored = stored.replace(app=stored.app.replace(name="doctored"))
    cache.save(doctored)
    assert compile_or_reuse(example_copy).project.app.name == "doctored"


def test_an_edit_that_keeps_size_and_modification_time_is_seen(example_copy: Path) -> None:
    generate(example_copy)
    model = example_copy / "domain" / "catalog.model.py"
    stat = model.stat()
    model.write_text(model.read_text().replace("max_length(200)", "max_length(300)", 1))
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert model.stat().st_size == stat.st_size
    assert name_max_length(example_copy) == 300


def test_a_change_to_a_project_module_the_model_imports_is_seen(example_copy: Path) -> None:
    (example_copy / "limits.py").write_text("NAME_MAX = 250\n")
    model = example_copy / "domain" / "catalog.model.py"
    source = model.read_text().replace("max_length(200)", "max_length(NAME_MAX)", 1)
    model.write_text("from limits import NAME_MAX\n" + source)
    generate(example_copy)
    assert name_max_length(example_copy) == 250
    (example_copy / "limits.py").write_text("NAME_MAX = 260\n")
    assert name_max_length(example_copy) == 260


def test_migrations_and_generated_output_are_not_inputs(example_copy: Path) -> None:
    generate(example_copy)
    key = IrCache(example_copy).key
    made = make_migration(example_copy, "initial", Answers())
    assert made.revision is not None and made.revision.path.is_file()
    assert IrCache(example_copy).key == key


def test_a_failed_compile_stores_nothing(example_copy: Path) -> None:
    generate(example_copy)
    entries = sorted((example_copy / CACHE_DIR).iterdir())
    model = example_copy / "domain" / "catalog.model.py"
    model.write_text(model.read_text() + '\nentity("Broken", fields={"x": text().nope()})\n')
    with pytest.raises(CompileError):
        generate(example_copy)
    assert sorted((example_copy / CACHE_DIR).iterdir()) == entries


def test_a_corrupt_entry_is_compiled_again(example_copy: Path) -> None:
    generate(example_copy)
    for entry in (example_copy / CACHE_DIR).iterdir():
        entry.write_text('{"app": "not an IR"}')
    assert compile_or_reuse(example_copy).project == compile_project(example_copy).project


def test_one_entry_is_kept(example_copy: Path) -> None:
    generate(example_copy)
    model = example_copy / "domain" / "catalog.model.py"
    model.write_text(model.read_text().replace("max_length(200)", "max_length(300)", 1))
    generate(example_copy)
    assert [p.name for p in (example_copy / CACHE_DIR).iterdir()] == [
        f"{IrCache(example_copy).key}.json"
    ]


def test_gen_dev_keeps_its_ir_under_the_inputs_it_compiled(example_copy: Path) -> None:
    """`gen dev` keeps a save's IR once the pages and the API have it, seconds later: a file
    saved meanwhile must not get that IR as its own (a stale one for `gen migrate make`)."""
    from generators.pipeline import Session

    session = Session(example_copy)
    built, _ = session.generate()
    compiled_inputs = IrCache(example_copy).key
    model = example_copy / "domain" / "customers.model.py"
    model.write_text(model.read_text().replace("max_length(200)", "max_length(150)", 1))
    session.keep_caches()
    assert IrCache(example_copy).load() is None  # the edited inputs: nothing kept for them
    kept = IrCache(example_copy)
    kept.key = compiled_inputs
    assert kept.load() == built.project  # the IR, under the inputs it came from
