"""How `gen` commands find a running `gen dev` and hand it `gen migrate make`
(runtime/dev_link.py), and how they do the work themselves when it is not there.

The whole round trip through a real `gen dev` is in tests/test_dev.py; here are the
link file, the token, the fallbacks and the answers, without a server process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from cli.main import main
from cli.migrate import answer_from_dev, make_migration
from generators.db.diff import Answers
from generators.pipeline import Session
from runtime.dev import DevServer
from runtime.dev_link import (
    LINK_FILE,
    MIGRATE_PATH,
    TOKEN_HEADER,
    Link,
    NoAnswer,
    announced,
    code_fingerprint,
    running_dev_server,
)
from tests.test_api_uvicorn import free_port

INVOICES = "domain/invoices.model.py"


def dead_pid() -> int:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    return int(finished.stdout)


def write_link(root: Path, **fields: object) -> None:
    link = {"host": "127.0.0.1", "port": free_port(), "pid": os.getpid(), "token": "t",
            "project": str(root.resolve()), "code": code_fingerprint(), **fields}  # fmt: skip
    (root / LINK_FILE).parent.mkdir(parents=True, exist_ok=True)
    (root / LINK_FILE).write_text(json.dumps(link), encoding="utf-8")
    (root / LINK_FILE).chmod(0o600)


@contextmanager
def dev_answering(
    root: Path, handler: Callable[[dict[str, Any]], dict[str, Any]] | None = None
) -> Iterator[list[str]]:
    """A `DevServer` of `root` answering `gen migrate make` (with `handler`, else as
    `gen dev` does) on a free port, announced in its link file as `gen dev` announces it;
    yields what it says."""
    said: list[str] = []
    server = DevServer(root, "postgresql://unused/none", say=said.append)
    server.answer(MIGRATE_PATH, handler or answer_from_dev(server.session, said.append))
    port = free_port()
    config = uvicorn.Config(server, host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    try:
        while not running.started:
            assert thread.is_alive(), "the server did not start"
            time.sleep(0.01)
        with announced(root, "127.0.0.1", port, server.token, code_fingerprint()):
            yield said
    finally:
        running.should_exit = True
        thread.join(timeout=10)


def gen(root: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--project", str(root), *args])


def test_the_link_file_is_the_users_alone_and_goes_when_gen_dev_stops(tmp_path: Path) -> None:
    with announced(tmp_path, "0.0.0.0", 8123, "secret", code_fingerprint()) as path:
        assert path.stat().st_mode & 0o777 == 0o600
        link = running_dev_server(tmp_path)
        assert link is not None
        assert (link.host, link.port, link.token) == ("127.0.0.1", 8123, "secret")
    assert not path.exists()
    # Another `gen dev` that replaced the file meanwhile keeps it.
    with announced(tmp_path, "127.0.0.1", 8123, "first", code_fingerprint()):
        write_link(tmp_path, token="second")
    assert json.loads(path.read_text())["token"] == "second"


def test_a_link_is_not_used_when_its_process_is_gone_or_runs_other_code(tmp_path: Path) -> None:
    assert running_dev_server(tmp_path) is None  # no file
    write_link(tmp_path)
    assert running_dev_server(tmp_path) is not None
    write_link(tmp_path, pid=dead_pid())
    assert running_dev_server(tmp_path) is None
    write_link(tmp_path, code="another version of reframe")
    assert running_dev_server(tmp_path) is None
    write_link(tmp_path, project=str(tmp_path.parent / "the-original"))  # came with a copy
    assert running_dev_server(tmp_path) is None
    write_link(tmp_path)
    (tmp_path / LINK_FILE).chmod(0o644)  # others could have written it
    assert running_dev_server(tmp_path) is None
    write_link(tmp_path)
    (tmp_path / LINK_FILE).write_text("{not json", encoding="utf-8")
    assert running_dev_server(tmp_path) is None


def test_migrate_make_does_the_work_itself_when_gen_dev_does_not_answer(
    example_copy: Path,
) -> None:
    # A live process (this one) that listens nowhere: the command must not fail for it.
    write_link(example_copy)
    link = running_dev_server(example_copy)
    assert link is not None and link.post(MIGRATE_PATH, {}) is None
    made = gen(example_copy, "migrate", "make", "-m", "first")
    assert made.exit_code == 0, made.output
    assert "Wrote revision 0001:" in made.output
    assert (example_copy / "migrations" / "versions" / "0001_first.py").is_file()


def test_only_a_post_with_the_token_reaches_the_answer(example_copy: Path) -> None:
    server = DevServer(example_copy, "postgresql://unused/none")
    server.answer(MIGRATE_PATH, lambda asked: {"kind": "echo", "asked": asked})
    client = TestClient(server)
    url = MIGRATE_PATH
    assert client.post(url, json={"a": 1}).status_code == 403
    assert client.post(url, json={"a": 1}, headers={TOKEN_HEADER: "guess"}).status_code == 403
    assert client.get(url, headers={TOKEN_HEADER: server.token}).status_code == 405
    headers = {TOKEN_HEADER: server.token}
    assert client.post(url, content=b"[1]", headers=headers).status_code == 400
    # The command of a copy of the project, whose link file came along: not this project.
    elsewhere = {"project": str(example_copy.parent / "copy")}
    assert client.post(url, json=elsewhere, headers=headers).status_code == 409
    ours = {"project": str(example_copy.resolve())}
    answered = client.post(url, json=ours, headers=headers)
    assert answered.json() == {"kind": "echo", "asked": ours}


def test_migrate_make_is_answered_by_gen_dev_and_prints_what_it_would_print_itself(
    example_copy: Path, tmp_path: Path
) -> None:
    alone = tmp_path / "alone"
    shutil.copytree(example_copy, alone)
    by_itself = gen(alone, "migrate", "make", "-m", "first")
    with dev_answering(example_copy) as said:
        answered = gen(example_copy, "migrate", "make", "-m", "first")
        assert said == ["gen migrate make, answered here: 112 step(s), wrote revision 0001"]
        assert answered.exit_code == by_itself.exit_code == 0
        assert answered.output == by_itself.output
        for name in ("0001_first.py", "0001_first.schema.json"):
            made = example_copy / "migrations" / "versions" / name
            assert made.read_bytes() == (alone / "migrations" / "versions" / name).read_bytes()
        model = example_copy / INVOICES
        model.write_text(model.read_text().replace("date().required()", "date().max_length(3)", 1))
        broken = gen(example_copy, "migrate", "make")
        assert broken.exit_code == 1
        assert "domain/invoices.model.py:" in broken.output
        assert len(said) == 1  # a model error is no answer to say


def test_an_answer_lost_after_gen_dev_took_the_request_is_an_error_not_a_second_make(
    example_copy: Path,
) -> None:
    def fails(asked: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("it broke, after writing for all the command knows")

    with dev_answering(example_copy, fails):
        link = running_dev_server(example_copy)
        assert link is not None
        with pytest.raises(NoAnswer, match="HTTP 500"):
            link.post(MIGRATE_PATH, {"project": str(example_copy.resolve())})
        made = gen(example_copy, "migrate", "make", "-m", "first")
    assert made.exit_code == 1
    assert "It may have written a revision: look in migrations/versions/" in made.output
    assert not (example_copy / "migrations").exists()  # the command did not make it again


def test_a_question_is_left_to_the_terminal_and_without_one_names_its_flag(
    example_copy: Path,
) -> None:
    make_migration(example_copy, "first", Answers())
    model = example_copy / INVOICES
    model.write_text(model.read_text().replace('"notes"', '"remarks"'), encoding="utf-8")
    answer = answer_from_dev(Session(example_copy), lambda line: None)
    assert answer({"interactive": True}) == {"kind": "ask"}
    refused = answer({"interactive": False})
    assert refused["kind"] == "error"
    assert "--rename Invoice.notes=remarks" in refused["message"]
    renamed = answer({"rename": ["Invoice.notes=remarks"], "message": "rename"})
    assert renamed["kind"] == "made" and renamed["revision"] == "0002"
    assert [step[0] for step in renamed["steps"]] == [
        "Rename column invoice.notes to remarks (values kept)"
    ]


def test_a_revision_schema_changed_on_disk_is_read_again(example_copy: Path) -> None:
    """gen dev keeps the schemas it read; a file restored from git is not the one it kept."""
    answer = answer_from_dev(Session(example_copy), lambda line: None)
    first = answer({"message": "first"})
    assert first["kind"] == "made" and first["revision"] == "0001"
    assert answer({"message": "again"})["steps"] == []
    schema_path = example_copy / "migrations" / "versions" / "0001_first.schema.json"
    schema = json.loads(schema_path.read_text())
    invoice = next(t for t in schema["tables"] if t["name"] == "invoice")
    invoice["columns"] = [c for c in invoice["columns"] if c["name"] != "notes"]
    schema_path.write_text(json.dumps(schema, indent=2), encoding="utf-8")
    planned = answer({"plan_only": True})
    assert [step[0] for step in planned["steps"]] == ["Add column invoice.notes (varchar(2000))"]


def test_a_link_answers_none_for_a_server_that_refuses(tmp_path: Path) -> None:
    link = Link("127.0.0.1", free_port(), os.getpid(), str(tmp_path), token="t", code="c")
    assert link.post(MIGRATE_PATH, {"message": "x"}) is None
