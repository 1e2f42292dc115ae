"""How `gen` commands find the project's running `gen dev` and hand it their work.

`gen dev` keeps the compiled model in memory and recompiles only what a save
changed; a new `gen` process would first spend about a second compiling 500
entities from nothing. So while `gen dev` runs, `gen migrate make` asks it
(over its own HTTP port) and prints its answer: the same plan and files, in a
fifth of the time. This is the daemon of Gradle, dmypy or the TypeScript
server, kept to one command and found by one file.

`gen dev` writes `.gen/dev.json` as it starts listening (its address, its
process id, the project folder it serves, a random token, and a fingerprint of
the code it runs) and removes it when it stops. A command uses it only when
the file is its user's alone, the process is alive, serves this very folder
(not the project it was copied from) and runs the same code as the command;
otherwise, or when `gen dev` cannot be reached, the command does the work
itself. Once `gen dev` has the request, the command never does the work again:
`gen dev` may have written, so a lost answer is an error that says so. The
token keeps anything else (another user, a web page posting to localhost) from
making `gen dev` write files.

Only the standard library here (and compiler/source_stamps.py, which is too):
the command asking must not pay for importing the compiler it means to avoid.
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

from compiler.source_stamps import add_source_stamps

LINK_FILE = Path(".gen") / "dev.json"
TOKEN_HEADER = "x-reframe-dev-token"
MIGRATE_PATH = "/_dev/migrate"
#: How long a command waits for `gen dev`'s answer before doing the work itself
#: (a 500-entity rebuild in progress comes first).
ANSWER_SECONDS = 120.0
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]
#: How long a command tries to reach `gen dev` before doing the work itself.
CONNECT_SECONDS = 2.0
#: The code whose behaviour `gen dev` would otherwise answer with: if it differs from
#: the command's (reframe upgraded, or edited, since `gen dev` started), the command runs.
_CODE_FOLDERS = ("cli", "compiler", "generators", "hookfs", "policy", "runtime")


class NoAnswer(Exception):
    """`gen dev` took the request and gave no usable answer: it may have done the work."""


def code_fingerprint() -> str:
    """Size and modification time of every source file of the code that answers."""
    digest = hashlib.sha256()
    for folder in _CODE_FOLDERS:
        add_source_stamps(digest, _PACKAGE_ROOT / folder)
    return digest.hexdigest()


@dataclass(frozen=True)
class Link:
    """A running `gen dev` of this project, as its link file describes it."""

    host: str
    port: int
    pid: int
    project: str
    token: str
    code: str

    def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """`gen dev`'s JSON answer; None when it was not reached or refused the request
        without running it (the caller does the work itself).

        Raises NoAnswer when it took the request and the answer was lost (timed out,
        connection reset, server error): it may have done the work.
        """
        connection = http.client.HTTPConnection(self.host, self.port, timeout=CONNECT_SECONDS)
        try:
            try:
                connection.connect()
            except OSError:
                return None  # not listening (yet, or any more)
            assert connection.sock is not None
            connection.sock.settimeout(ANSWER_SECONDS)
            return _answer_of(connection, path, payload, self.token)
        finally:
            connection.close()


def _answer_of(
    connection: http.client.HTTPConnection, path: str, payload: dict[str, Any], token: str
) -> dict[str, Any] | None:
    try:
        body = json.dumps(payload).encode()
        headers = {"content-type": "application/json", TOKEN_HEADER: token}
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        if 400 <= response.status < 500:
            return None  # refused before anything ran: another project, a stale token
        if response.status != 200:
            raise NoAnswer(f"it answered HTTP {response.status}")
        answer = json.loads(response.read())
    except TimeoutError as exc:
        raise NoAnswer(f"no answer in {ANSWER_SECONDS:g} s (is it stopped?)") from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise NoAnswer(f"the answer was lost ({exc!r})") from exc
    if not isinstance(answer, dict):
        raise NoAnswer("it answered something else than an object")
    return answer


def running_dev_server(project_root: Path) -> Link | None:
    """The `gen dev` of the project at `project_root`, when one runs the same code as this
    process and its link file can be trusted (this user's alone)."""
    path = project_root / LINK_FILE
    try:
        stat = path.stat()
        if stat.st_uid != os.getuid() or stat.st_mode & 0o077:
            return None  # someone else could have written it: its server is not ours to ask
        found = json.loads(path.read_text(encoding="utf-8"))
        link = Link(
            host=str(found["host"]),
            port=int(found["port"]),
            pid=int(found["pid"]),
            project=str(found["project"]),
            token=str(found["token"]),
            code=str(found["code"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if link.project != str(project_root.resolve()):
        return None  # the file came along when the project was copied or moved
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
def announced(project_root: Path, host: str, port: int, token: str, code: str) -> Iterator[Path]:
    """Write the link file while the block runs (readable by this user only); remove it
    after, unless another `gen dev` has replaced it meanwhile.

    `code`: the `code_fingerprint()` of the code this process imported, taken when it
    started (an edit since then is not what it runs).
    """
    path = project_root / LINK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    # A wildcard address listens on loopback too; a command connects there.
    reachable = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    text = json.dumps(
        {
            "host": reachable,
            "port": port,
            "pid": os.getpid(),
            "project": str(project_root.resolve()),
            "token": token,
            "code": code,
        }
    )
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.unlink(missing_ok=True)
    # A new file, never one planted in its place (nor a link's target).
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    with os.fdopen(os.open(partial, flags, 0o600), "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(partial, path)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text(encoding="utf-8")).get("token") == token:
                path.unlink()
