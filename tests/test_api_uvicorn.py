"""`uvicorn generated.api.app:app`: the generated app runs by itself, as the issue promises."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import sqlalchemy as sa
from click.testing import CliRunner

from cli.main import main
from runtime.database import normalize_url

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "invoices"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(base: str, server: subprocess.Popen[str]) -> None:
    """Until the server at `base` answers; fail with its output if it exits or stays silent."""
    for _ in range(200):
        try:
            httpx.get(f"{base}/api/openapi.json", timeout=1)
            return
        except httpx.TransportError:
            if server.poll() is not None:
                raise AssertionError(server.stdout.read() if server.stdout else "exited") from None
            time.sleep(0.1)
    raise AssertionError(f"the server at {base} did not answer in 20 s")


#: The `gen` of this checkout's environment.
GEN = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "gen"


@contextmanager
def running_gen(
    project: Path, command: str, database: str, log: Path
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`gen <command>` (serve, dev) on the project and database, on a free port, answering;
    its output in `log`; stopped after. Yields its base URL and the process."""
    port = free_port()
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(GEN), "--project", str(project), command, "--port", str(port),
             "--database", database],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ},
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base, server)
            yield base, server
        finally:
            server.terminate()
            server.wait(timeout=10)


@contextmanager
def served_example(target: Path, database_url: str) -> Iterator[str]:
    """Copy the example to `target`, `gen generate` it, load its DDL into the (empty)
    database and run `uvicorn generated.api.app:app` there; yield its base URL."""
    shutil.copytree(
        EXAMPLE, target, ignore=shutil.ignore_patterns(".gen", "generated", "migrations")
    )
    generated = CliRunner().invoke(main, ["--project", str(target), "generate"])
    assert generated.exit_code == 0, generated.output
    engine = sa.create_engine(normalize_url(database_url), poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        ddl = (target / "generated" / "db" / "schema.postgres.sql").read_text()
        connection.exec_driver_sql(ddl, execution_options={"no_parameters": True})
    engine.dispose()
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "generated.api.app:app",
            "--port",
            str(port),
            "--no-access-log",
        ],
        cwd=target,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base, server)
        yield base
    finally:
        server.terminate()
        server.communicate(timeout=10)  # also closes its output pipe


def test_the_generated_app_serves_under_plain_uvicorn(tmp_path: Path, fresh_db: str) -> None:
    with served_example(tmp_path / "invoices", fresh_db) as base:
        document = httpx.get(f"{base}/api/openapi.json").json()
        assert document["openapi"].startswith("3.1")
        signed = httpx.post(
            f"{base}/api/auth/signup",
            json={"email": "owner@uvicorn.test", "password": "long enough 1", "tenant": "Uvi"},
        )
        assert signed.status_code == 201, signed.text
        token = {"Authorization": f"Bearer {signed.json()['token']}"}
        made = httpx.post(
            f"{base}/api/customers", json={"name": "A", "email": "a@b.test"}, headers=token
        )
        assert made.status_code == 201, made.text
        listed = httpx.get(f"{base}/api/customers", headers=token).json()
        assert [row["name"] for row in listed["items"]] == ["A"]
