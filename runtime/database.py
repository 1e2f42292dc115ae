"""Which PostgreSQL a project talks to, and the embedded one it gets when it names none."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pgserver.postgres_server import PostgresServer

#: The SQLAlchemy driver every Reframe database URL uses.
DRIVER = "postgresql+psycopg"

#: Where the embedded server keeps its data, relative to the project root.
PGDATA = Path(".gen") / "pgdata"

_PLAIN_SCHEMES = ("postgres", "postgresql")


def resolve_database_url(explicit: str | None, config_url: str | None, project_root: Path) -> str:
    """Return the database URL to use: `--database`, then gen.toml's, else the embedded one.

    An empty string counts as not given. `postgres://` and `postgresql://` URLs get the
    psycopg driver; a URL that already names a PostgreSQL driver is kept as written.
    """
    chosen = explicit or config_url
    if chosen:
        return normalize_url(chosen)
    return embedded_database(project_root)


def normalize_url(url: str) -> str:
    """Give a plain `postgres://` or `postgresql://` URL the psycopg driver.

    Raise ValueError for a URL that is not a PostgreSQL one.
    """
    scheme, separator, rest = url.partition("://")
    if not separator or not scheme.startswith("postgres"):
        raise ValueError(f"not a PostgreSQL URL (expected postgresql://...): {url!r}")
    if scheme in _PLAIN_SCHEMES:
        return f"{DRIVER}://{rest}"
    return url


def embedded_database(project_root: Path) -> str:
    """Start, or attach to, the project's embedded PostgreSQL 16 and return its URL.

    The server comes from the `pgserver` package, keeps its data in
    `<project_root>/.gen/pgdata` and listens on a Unix socket only, as user `postgres`
    with trust authentication; the URL names the `postgres` database. Calling again, from
    this process or another one, attaches to the running server. Measured as root:
    creating the data folder and starting takes ~1.3 s, restarting a stopped server
    ~0.4 s, attaching to a running one ~0.2 s, calling again in the same process ~0 s.

    The server does not outlive its users: pgserver records every process that attached
    (in `pgdata/.handle_pids.json`) and, at exit, the last of them stops the server. A
    process killed without running its exit handlers (SIGKILL) stays on that list for
    good: from then on the server outlives every process, until it is stopped by hand
    (`kill $(head -1 .gen/pgdata/postmaster.pid)`) and the list file is deleted.

    Run as root, pgserver runs PostgreSQL as a system user `pgserver` (creating it with
    `useradd` if needed), hands it the data folder and gives everyone read and execute
    permission on the folders above it.
    """
    pgdata = (project_root / PGDATA).resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    info = _get_server(pgdata).get_postmaster_info()
    return _server_url(info.socket_dir, info.port, info.hostname)


def _get_server(pgdata: Path) -> PostgresServer:
    """Start or attach to the server of `pgdata`, importing pgserver only now (it is slow to
    import) and without its warning about an unset XDG_RUNTIME_DIR (it falls back to /tmp).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
        from pgserver.postgres_server import get_server

    return get_server(pgdata)


def _server_url(socket_dir: Path | None, port: int | None, hostname: str | None) -> str:
    """Return the URL of a server listening on a socket folder, or else on host and port."""
    from sqlalchemy.engine import URL  # ~0.25 s to import: only when it is needed

    if socket_dir is not None:
        query = {"host": str(socket_dir)} | ({"port": str(port)} if port else {})
        url = URL.create(DRIVER, username="postgres", database="postgres", query=query)
    else:
        url = URL.create(DRIVER, username="postgres", host=hostname, port=port, database="postgres")
    return url.render_as_string(hide_password=False)
