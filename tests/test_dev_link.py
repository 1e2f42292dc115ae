"""How `gen` commands find a running `gen dev` and hand it `gen migrate make`
(runtime/dev_link.py), and how they do the work themselves when it is not there.

The whole round trip through a real `gen dev` is in tests/test_dev.py; here are the
link file, the token, the fallbacks and the answers, without a server process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
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
            "code": code_fingerprint(), **fields}  # fmt: skip
    (root / LINK_FILE).parent.mkdir(parents=True, exist_ok=True)
    (root / LINK_FILE).write_text(json.dumps(link), encoding="utf-8")


def test_the_link_file_is_the_users_alone_and_goes_when_gen_dev_stops(tmp_path: Path) -> None:
    with announced(tmp_path, "0.0.0.0", 8123, "secret") as path:
        assert path.stat().st_mode & 0o777 == 0o600
        link = running_dev_server(tmp_path)
        assert link is not None
        assert (link.host, link.port, link.token) == ("127.0.0.1", 8123, "secret")
    assert not path.exists()
    # Another `gen dev` that replaced the file meanwhile keeps it.
    with announced(tmp_path, "127.0.0.1", 8123, "first"):
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
    (tmp_path / LINK_FILE).write_text("{not json", encoding="utf-8")
    assert running_dev_server(tmp_path) is None


def test_migrate_make_does_the_work_itself_when_gen_dev_does_not_answer(
    example_copy: Path,
) -> None:
    # A live process (this one) that listens nowhere: the command must not fail for it.
    write_link(example_copy)
    link = running_dev_server(example_copy)
    assert link is not None and link.post(MIGRATE_PATH, {}) is None
    made = CliRunner().invoke(
        main, ["--project", str(example_copy), "migrate", "make", "-m", "first"]
    )
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
    answered = client.post(url, json={"a": 1}, headers=headers)
    assert answered.json() == {"kind": "echo", "asked": {"a": 1}}


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
    link = Link(host="127.0.0.1", port=free_port(), pid=os.getpid(), token="t", code="c")
    assert link.post(MIGRATE_PATH, {"message": "x"}) is None
