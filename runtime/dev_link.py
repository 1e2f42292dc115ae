"""How `gen` commands find the project's running `gen dev` and hand it their work.

`gen dev` keeps the compiled model in memory and recompiles only what a save
changed; a new `gen` process would first spend about a second compiling 500
entities from nothing. So while `gen dev` runs, `gen migrate make` asks it
(over its own HTTP port) and prints its answer: the same plan and files, in a
fifth of the time. This is the daemon of Gradle, dmypy or the TypeScript
server, kept to one command and found by one file.

`gen dev` writes `.gen/dev.json` once it listens (its address, its process
id, a random token, and a fingerprint of the code it runs) and removes it when
it stops. A command uses it only when the process is alive and runs the same
code as the command itself; otherwise, or when the answer does not come, the
command does the work itself. The token keeps anything else (another user, a
web page posting to localhost) from making `gen dev` write files.

Only the standard library here: the command asking must not pay for importing
the compiler it means to avoid.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LINK_FILE = Path(".gen") / "dev.json"
TOKEN_HEADER = "x-reframe-dev-token"
MIGRATE_PATH = "/_dev/migrate"
#: How long a command waits for `gen dev`'s answer before doing the work itself
#: (a 500-entity rebuild in progress comes first).
ANSWER_SECONDS = 120.0
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]
#: The code whose behaviour `gen dev` would otherwise answer with: if it differs from
#: the command's (reframe upgraded, or edited, since `gen dev` started), the command runs.
_CODE_FOLDERS = ("cli", "compiler", "generators", "runtime", "policy")


def code_fingerprint() -> str:
    """Size and modification time of every source file of the code that answers."""
    digest = hashlib.sha256()
    for folder in _CODE_FOLDERS:
        for path in sorted((_PACKAGE_ROOT / folder).rglob("*.py")):
            stat = path.stat()
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Link:
    """A running `gen dev` of this project, as its link file describes it."""

    host: str
    port: int
    pid: int
    token: str
    code: str

    def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """`gen dev`'s JSON answer, or None when it cannot be had (gone, busy past the wait)."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=ANSWER_SECONDS)
        try:
            body = json.dumps(payload).encode()
            headers = {"content-type": "application/json", TOKEN_HEADER: self.token}
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            if response.status != 200:
                return None
            answer = json.loads(response.read())
        except (OSError, http.client.HTTPException, ValueError):
            return None
        finally:
            connection.close()
        return answer if isinstance(answer, dict) else None


def running_dev_server(project_root: Path) -> Link | None:
    """The project's `gen dev`, when one runs the same code as this process."""
    try:
        found = json.loads((project_root / LINK_FILE).read_text(encoding="utf-8"))
        link = Link(
            host=str(found["host"]),
            port=int(found["port"]),
            pid=int(found["pid"]),
            token=str(found["token"]),
            code=str(found["code"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(link.pid) or link.code != code_fingerprint():
        return None
    return link


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's: its token is not ours to read anyway
        return False
    return True


def new_token() -> str:
    return secrets.token_urlsafe(32)


@contextlib.contextmanager
def announced(project_root: Path, host: str, port: int, token: str) -> Iterator[Path]:
    """Write the link file while the block runs (readable by this user only); remove it
    after, unless another `gen dev` has replaced it meanwhile."""
    path = project_root / LINK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    # A wildcard address listens on loopback too; a command connects there.
    reachable = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    text = json.dumps(
        {
            "host": reachable,
            "port": port,
            "pid": os.getpid(),
            "token": token,
            "code": code_fingerprint(),
        }
    )
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(partial, path)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text(encoding="utf-8")).get("token") == token:
                path.unlink()
