"""`gen serve`: the generated API served from the hook store, on a database it prepares."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
from click.testing import CliRunner

from cli.main import main
from runtime import hook_import
from tests.test_api_uvicorn import free_port, wait_for

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "invoices"
GEN = Path(sys.executable).parent / "gen"


def test_serve_runs_the_snapshot_from_the_store_on_an_empty_database(
    tmp_path: Path, fresh_db: str
) -> None:
    project = tmp_path / "invoices"
    shutil.copytree(
        EXAMPLE, project, ignore=shutil.ignore_patterns(".gen", "generated", "migrations")
    )
    assert CliRunner().invoke(main, ["--project", str(project), "generate"]).exit_code == 0
    # The mirror is for reading only: serving never looks at it.
    shutil.rmtree(project / "generated")
    port = free_port()
    server = subprocess.Popen(
        [str(GEN), "--project", str(project), "serve", "--port", str(port), "--database", fresh_db],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base, server)
        signed = httpx.post(
            f"{base}/api/auth/signup",
            json={"email": "owner@serve.test", "password": "long enough 1", "tenant": "Serve"},
        )
        assert signed.status_code == 201, signed.text
        token = {"Authorization": f"Bearer {signed.json()['token']}"}
        made = httpx.post(
            f"{base}/api/customers", json={"name": "A", "email": "a@b.test"}, headers=token
        )
        assert made.status_code == 201, made.text
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
    assert "Serving snapshot 1" in output
    assert "empty database: created the schema of this snapshot" in output


def test_serve_without_a_generate_says_what_to_run(tmp_path: Path) -> None:
    project = tmp_path / "invoices"
    shutil.copytree(
        EXAMPLE, project, ignore=shutil.ignore_patterns(".gen", "generated", "migrations")
    )
    result = CliRunner().invoke(
        main, ["--project", str(project), "serve", "--database", "postgresql://x/y"]
    )
    assert result.exit_code != 0
    assert "run `gen generate` first" in result.output


def test_mounted_files_import_as_packages_and_read_as_data() -> None:
    files = {
        "pkg/__init__.py": b"",
        "pkg/mod.py": b"from pathlib import Path\nHERE = Path(__file__).parent\nVALUE = 41 + 1\n",
        "data.json": b'{"a": 1}',
    }
    root = hook_import.mount("reframe_hook_test", files)
    try:
        from importlib import import_module

        module = import_module("reframe_hook_test.pkg.mod")
        assert module.VALUE == 42
        assert hook_import.read_file(module.HERE.parent / "data.json") == b'{"a": 1}'
        assert str(module.HERE).startswith(str(root))
    finally:
        hook_import.unmount("reframe_hook_test")


def test_a_new_mount_reuses_the_unchanged_modules_of_the_previous_one() -> None:
    """`gen dev`'s reload: what changed, and what imports it, is run again; the rest is kept."""
    files = {
        "api/__init__.py": b"",
        "api/rows/__init__.py": b"",
        "api/rows/a.py": b"class ARow:\n    version = 1\n",
        "api/rows/b.py": b"class BRow:\n    version = 1\n",
        "api/shapes/__init__.py": b"",
        "api/shapes/a.py": b"from ..rows.a import ARow\n\nclass ARead:\n    row = ARow\n",
        "api/shapes/b.py": b"from ..rows.b import BRow\n\nclass BRead:\n    row = BRow\n",
        "api/app.py": b"from .shapes import a, b\n\nSHAPES = (a.ARead, b.BRead)\n",
    }
    old, new = "reframe_hook_reuse_1", "reframe_hook_reuse_2"
    hook_import.mount(old, files)
    try:
        before = importlib.import_module(f"{old}.api.app")
        changed = {**files, "api/rows/a.py": b"class ARow:\n    version = 2\n"}
        hook_import.mount(new, changed, reuse_from=old)
        after = importlib.import_module(f"{new}.api.app")
        a_read, b_read = after.SHAPES
        assert a_read.row.version == 2  # the changed module and the one importing it: new
        assert a_read is not before.SHAPES[0]
        assert b_read is before.SHAPES[1]  # untouched: the very same class, not run again
        assert after is not before  # app.py imports a changed module: run again
        assert hook_import.reusable_modules(files, changed, hook_import.loaded(old)) == {
            "api.rows.b",
            "api.shapes.b",
        }
    finally:
        hook_import.unmount(new)
        hook_import.unmount(old)


def test_modules_that_read_files_or_import_at_call_time_are_not_reused() -> None:
    """A reused module keeps the old package (`__package__`, `__file__`), unmounted once
    replaced: one that reads a file beside it, or imports from its package inside a
    function, runs again in the new package."""
    files = {
        "api/__init__.py": b"",
        "api/plain.py": b"VALUE = 1\n",
        "api/reads.py": b"from pathlib import Path\nHERE = Path(__file__).parent\n",
        "api/late.py": b"def later():\n    from .plain import VALUE\n    return VALUE\n",
    }
    old, new = "reframe_hook_reuse_3", "reframe_hook_reuse_4"
    hook_import.mount(old, files)
    try:
        for name in ("plain", "reads", "late"):
            importlib.import_module(f"{old}.api.{name}")
        assert hook_import.reusable_modules(files, files, hook_import.loaded(old)) == {"api.plain"}
        hook_import.mount(new, files, reuse_from=old)
        hook_import.unmount(old)  # as `gen dev` does once the new API is loaded
        assert importlib.import_module(f"{new}.api.late").later() == 1
    finally:
        hook_import.unmount(new)
        hook_import.unmount(old)
