"""The hook store: every generated file, content-addressed, in one SQLite file.

A project's store lives at `<project>/.gen/store.db`. Blobs are keyed by the
sha256 of their bytes, so identical content is stored once however many
snapshots or paths use it. A snapshot is an immutable listing of
(path, blob, headers); refs (`head`, `mirrored`, ...) name snapshots.

A file the generators hand over in parts (`Artifact.joined`: `ir.json`,
`trace.json`, one part per entity) is stored as a whole blob whose data is the
list of its parts' hashes, each part a blob of its own: a save under `gen dev`
that changed one entity stores that entity's parts, not a 4 MB file again.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import NamedTuple

#: Schema version kept in `PRAGMA user_version`. 2: blobs have a `kind` (whole, part).
SCHEMA_VERSION = 2

#: Folder, relative to the project, holding the store.
STORE_DIR = ".gen"
STORE_FILE = "store.db"

HEAD = "head"
MIRRORED = "mirrored"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (
    hash TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    data BLOB NOT NULL,
    kind INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY,
    parent INTEGER REFERENCES snapshots(id),
    created_at TEXT NOT NULL,
    message TEXT NOT NULL,
    tree TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    snapshot INTEGER NOT NULL REFERENCES snapshots(id),
    path TEXT NOT NULL,
    blob TEXT NOT NULL REFERENCES blobs(hash),
    headers TEXT NOT NULL,
    PRIMARY KEY (snapshot, path)
);
CREATE TABLE IF NOT EXISTS refs (
    name TEXT PRIMARY KEY,
    snapshot INTEGER NOT NULL REFERENCES snapshots(id)
);
"""

# Derived content (transpiled TypeScript, ...) by a key naming its inputs; added after
# version 1 without a bump: created on every open, so older stores gain it.
_MEMO_SCHEMA = """
CREATE TABLE IF NOT EXISTS memo (
    key TEXT PRIMARY KEY,
    blob TEXT NOT NULL REFERENCES blobs(hash)
);
CREATE INDEX IF NOT EXISTS memo_by_blob ON memo (blob);
CREATE INDEX IF NOT EXISTS files_by_blob ON files (blob);
CREATE TABLE IF NOT EXISTS memo_recent (
    slot TEXT NOT NULL,
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (slot, key)
);
"""


#: Version 1 to 2: existing blobs are plain.
_UPGRADE_TO_2 = "ALTER TABLE blobs ADD COLUMN kind INTEGER NOT NULL DEFAULT 0"

#: A blob's `kind`: its data is its content; the same, and a part of some whole (never
#: deleted with a memo entry it may also be); a whole, whose data is its parts' hashes.
PLAIN, PART, WHOLE = 0, 1, 2
#: The bytes of one part's hash in a whole's data (sha256, binary).
_DIGEST = 32

#: How many entries a memo slot keeps (`memo_put`).
_KEPT_PER_SLOT = 2


class StoreError(Exception):
    """The store cannot do what was asked; the message says why."""


class NewFile(NamedTuple):
    """A file to commit: its path, bytes and headers, and optionally the parts its bytes
    are the concatenation of (stored each once; see the module docstring)."""

    path: str
    data: bytes
    headers: Mapping[str, str]
    parts: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class FileEntry:
    """One file of a snapshot: where it goes, its content's hash and size, its headers."""

    path: str
    blob: str
    size: int
    # Excluded from the hash so entries stay hashable; still compared by ==.
    headers: Mapping[str, str] = field(hash=False)


@dataclass(frozen=True)
class Snapshot:
    """One committed state of all generated files."""

    id: int
    parent: int | None
    created_at: str
    message: str
    tree: str


@dataclass(frozen=True)
class CommitResult:
    """The snapshot a commit landed on; `created` is False when it equalled head."""

    snapshot: Snapshot
    created: bool


@dataclass(frozen=True)
class _Staged:
    """One validated, hashed file waiting to be written."""

    path: str
    blob: str
    data: bytes
    headers: str
    #: (hash, bytes) of each part, for a file stored in parts; else empty.
    parts: tuple[tuple[str, bytes], ...] = ()


class KnownHashes:
    """What one process's commits hashed, by the identity of the bytes objects.

    `gen dev` builds again and again, and what did not change is the very same object
    each time (the build graph's results): it is not hashed again. Holds what the last
    commit used only.
    """

    def __init__(self) -> None:
        self._blobs: dict[int, tuple[str, bytes]] = {}
        self._blobs_now: dict[int, tuple[str, bytes]] = {}
        #: A file in parts: its parts last time, and what `of_whole` made of them.
        self._wholes: dict[str, tuple[tuple[bytes, ...], _Whole]] = {}
        self._wholes_now: dict[str, tuple[tuple[bytes, ...], _Whole]] = {}
        self._headers: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
        self._headers_now: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}

    def of(self, data: bytes) -> str:
        return self._pair(data)[0]

    def _pair(self, data: bytes) -> tuple[str, bytes]:
        """(hash, data), the same tuple as last time for the same object."""
        key = id(data)
        known = self._blobs.get(key)
        if known is None or known[1] is not data:
            known = (_sha256(data), data)
        self._blobs_now[key] = known
        return known

    def of_whole(
        self, path: str, data: bytes, parts: tuple[bytes, ...]
    ) -> tuple[str, tuple[tuple[str, bytes], ...]]:
        """The hash of `data`, `parts` joined, and the (hash, bytes) of each part it is
        stored in (`_stored_parts`): known when the parts are last time's objects."""
        known = self._wholes.get(path)
        if known is not None and _same_objects(known[0], parts):
            found = known[1]
        else:
            pieces = _stored_parts(path, data, parts)
            hashed = tuple(map(self._pair, pieces))
            found = (_sha256_of(pieces) if pieces else _sha256(data), hashed)
        self._wholes_now[path] = (parts, found)
        return found

    def headers_json(self, path: str, headers: Mapping[str, str]) -> str:
        key = (path, tuple(headers.items()))
        found = self._headers.get(key)
        if found is None:
            found = _headers_json(path, headers)
        self._headers_now[key] = found
        return found

    def commit_begins(self) -> None:
        """Forget what a commit that failed had noted."""
        self._blobs_now, self._wholes_now, self._headers_now = {}, {}, {}

    def commit_done(self) -> None:
        """Keep what the last commit used, forget the rest."""
        self._blobs, self._blobs_now = self._blobs_now, {}
        self._wholes, self._wholes_now = self._wholes_now, {}
        self._headers, self._headers_now = self._headers_now, {}


#: A file in parts as stored: its hash, and the (hash, bytes) of each part (none: plain).
_Whole = tuple[str, tuple[tuple[str, bytes], ...]]


def _same_objects(a: tuple[bytes, ...], b: tuple[bytes, ...]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


class HookStore:
    """A content-addressed store of generated files in one SQLite file."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._file_id = _file_id(path)
        #: The blobs of this connection's last commit, by hash: the mirror that follows
        #: reads them from here, not back from the file (20 MB for 500 entities).
        self._committed: dict[str, bytes] = {}
        #: Parts this connection stored, and those of the commit under way (`_insert_whole`).
        self._parts_stored: set[str] = set()
        self._parts_unconfirmed: set[str] = set()
        #: The `listing` of this connection's last two commits, by snapshot id: the mirror
        #: asks for the one it mirrors and the one it mirrored before.
        self._listings: dict[int, list[tuple[str, str, int]]] = {}

    # -- lifecycle ---------------------------------------------------------

    @classmethod
    def open(cls, project_dir: Path, any_thread: bool = False) -> HookStore:
        """Open the store of `project_dir`, creating it on first use.

        `any_thread`: the connection may be used from other threads than this one, one
        at a time (the caller makes sure: `gen dev`'s session, under its lock).
        """
        db_path = Path(project_dir) / STORE_DIR / STORE_FILE
        db_path.parent.mkdir(parents=True, exist_ok=True)
        # Transactions are explicit (BEGIN IMMEDIATE), so no implicit ones.
        conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=not any_thread)
        try:
            _prepare(conn, db_path)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"cannot open hook store {db_path}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return cls(conn, db_path)

    def for_caching(self) -> HookStore:
        """Make this connection's commits cheap (no sync to disk each time) and return it.

        For connections that only write the memo, a cache: with the WAL, a crash can lose
        the last such writes but never corrupts the store or a snapshot.
        """
        self._conn.execute("PRAGMA synchronous=NORMAL")
        return self

    def close(self) -> None:
        """Close the connection; closing twice is harmless."""
        self._conn.close()

    def still_there(self) -> bool:
        """Whether the store's file is still the one this connection opened (not removed,
        nor replaced, as by a `rm -rf .gen` while `gen dev` runs)."""
        return _file_id(self.path) == self._file_id

    def __enter__(self) -> HookStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- refs and snapshots -------------------------------------------------

    def head(self) -> Snapshot | None:
        """Return the snapshot `head` names, or None before the first commit."""
        return self.get_ref(HEAD)

    def get_ref(self, name: str) -> Snapshot | None:
        """Return the snapshot ref `name` points to, or None if it is unset."""
        row = self._conn.execute(
            "SELECT s.id, s.parent, s.created_at, s.message, s.tree"
            " FROM refs r JOIN snapshots s ON s.id = r.snapshot WHERE r.name = ?",
            (name,),
        ).fetchone()
        return _snapshot(row) if row else None

    def set_ref(self, name: str, snapshot_id: int) -> None:
        """Point ref `name` at an existing snapshot."""
        self.snapshot(snapshot_id)  # fail with a clear message, not a FK error
        self._conn.execute(
            "INSERT INTO refs (name, snapshot) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET snapshot = excluded.snapshot",
            (name, snapshot_id),
        )

    def snapshot(self, snapshot_id: int) -> Snapshot:
        """Return snapshot `snapshot_id`; raise StoreError if there is none."""
        row = self._conn.execute(
            "SELECT id, parent, created_at, message, tree FROM snapshots WHERE id = ?",
            (snapshot_id,),
        ).fetchone()
        if row is None:
            raise StoreError(f"no snapshot {snapshot_id}; {self._known_range()}")
        return _snapshot(row)

    def snapshots(self) -> list[Snapshot]:
        """Return all snapshots, newest first."""
        rows = self._conn.execute(
            "SELECT id, parent, created_at, message, tree FROM snapshots ORDER BY id DESC"
        ).fetchall()
        return [_snapshot(row) for row in rows]

    # -- files and blobs ----------------------------------------------------

    def files(self, snapshot_id: int) -> list[FileEntry]:
        """Return the files of a snapshot, sorted by path."""
        self.snapshot(snapshot_id)
        rows = self._conn.execute(
            "SELECT f.path, f.blob, b.size, f.headers FROM files f"
            " JOIN blobs b ON b.hash = f.blob WHERE f.snapshot = ? ORDER BY f.path",
            (snapshot_id,),
        ).fetchall()
        return [_entry(row) for row in rows]

    def listing(self, snapshot_id: int) -> list[tuple[str, str, int]]:
        """(path, blob, size) of each file of a snapshot, sorted by path: `files` without
        the headers, which the mirror does not need."""
        if snapshot_id in self._listings:
            return list(self._listings[snapshot_id])
        self.snapshot(snapshot_id)
        return self._conn.execute(
            "SELECT f.path, f.blob, b.size FROM files f"
            " JOIN blobs b ON b.hash = f.blob WHERE f.snapshot = ? ORDER BY f.path",
            (snapshot_id,),
        ).fetchall()

    def file(self, snapshot_id: int, path: str) -> FileEntry | None:
        """Return one file of a snapshot, or None if the snapshot lacks `path`."""
        self.snapshot(snapshot_id)
        row = self._conn.execute(
            "SELECT f.path, f.blob, b.size, f.headers FROM files f"
            " JOIN blobs b ON b.hash = f.blob WHERE f.snapshot = ? AND f.path = ?",
            (snapshot_id, path),
        ).fetchone()
        return _entry(row) if row else None

    def read(self, snapshot_id: int, path: str) -> bytes:
        """Return the bytes of `path` in a snapshot; raise StoreError if absent."""
        self.snapshot(snapshot_id)
        row = self._conn.execute(
            "SELECT b.data, b.kind FROM files f JOIN blobs b ON b.hash = f.blob"
            " WHERE f.snapshot = ? AND f.path = ?",
            (snapshot_id, path),
        ).fetchone()
        if row is None:
            raise StoreError(f"snapshot {snapshot_id} has no file {path!r}")
        return self._content(row[0], row[1])

    def read_blob(self, blob_hash: str) -> bytes:
        """Return the bytes stored under `blob_hash`; raise StoreError if unknown."""
        committed = self._committed.get(blob_hash)
        if committed is not None:
            return committed
        row = self._conn.execute(
            "SELECT data, kind FROM blobs WHERE hash = ?", (blob_hash,)
        ).fetchone()
        if row is None:
            raise StoreError(f"no blob {blob_hash!r} in the store")
        return self._content(row[0], row[1])

    def _content(self, data: bytes, kind: int) -> bytes:
        """A blob's content from its row: its data, or for a whole its parts joined."""
        if kind != WHOLE:
            return bytes(data)
        hashes = [bytes(data[i : i + _DIGEST]).hex() for i in range(0, len(data), _DIGEST)]
        # A part is shorter than its whole (see `_stage`): reading it ends.
        return b"".join(self.read_blob(part) for part in hashes)

    # -- memo ---------------------------------------------------------------

    def memo_get(self, key: str) -> bytes | None:
        """Return the bytes remembered under `key`, or None."""
        row = self._conn.execute(
            "SELECT b.data, b.kind FROM memo m JOIN blobs b ON b.hash = m.blob WHERE m.key = ?",
            (key,),
        ).fetchone()
        return self._content(row[0], row[1]) if row else None

    def memo_put(self, key: str, data: bytes, slot: str | None = None) -> None:
        """Remember `data` under `key` (its blob is shared with equal content).

        `slot`: what the entry is the latest output of (a module's path): the slot keeps
        its two newest entries and forgets the rest, so that outputs of sources edited
        again and again (bundles of a model saved under `gen dev`: 1 MB each at 200
        entities) do not pile up.
        """
        self.memo_put_many([(key, data)], slot)

    def memo_put_many(self, items: Iterable[tuple[str, bytes]], slot: str | None = None) -> None:
        """Remember each `(key, data)`, all in one transaction.

        What a key held before is deleted when nothing else uses it: a build graph node
        computed again replaces its result, and the store does not grow with each save.
        `slot`: see `memo_put` (one item).
        """
        items = list(items)
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            replaced: set[str] = set()
            if slot is not None:
                replaced |= self._free_slot(slot, [key for key, _ in items])
            for key, data in items:
                raw = bytes(data)
                blob = _sha256(raw)
                before = conn.execute("SELECT blob FROM memo WHERE key = ?", (key,)).fetchone()
                if before is not None and before[0] != blob:
                    replaced.add(before[0])
                conn.execute(
                    "INSERT OR IGNORE INTO blobs (hash, size, data) VALUES (?, ?, ?)",
                    (blob, len(raw), raw),
                )
                conn.execute(
                    "INSERT INTO memo (key, blob) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET blob = excluded.blob",
                    (key, blob),
                )
            conn.executemany(
                "DELETE FROM blobs WHERE hash = ? AND kind = 0"
                " AND NOT EXISTS (SELECT 1 FROM memo WHERE blob = blobs.hash)"
                " AND NOT EXISTS (SELECT 1 FROM files WHERE blob = blobs.hash)",
                [(old,) for old in replaced],
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _free_slot(self, slot: str, key: list[str]) -> set[str]:
        """Make `key` (one) the newest entry of `slot`; forget the slot's entries older than
        the one before it. Return their blobs.

        Two are kept: the pages of the snapshot being served and of the one they are told
        of (or a `gen serve` beside `gen dev`) may ask for both, and would evict each other.
        """
        assert len(key) == 1, "a slot takes one entry at a time"
        conn = self._conn
        newest = conn.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM memo_recent WHERE slot = ?", (slot,)
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO memo_recent (slot, key, seq) VALUES (?, ?, ?)"
            " ON CONFLICT (slot, key) DO UPDATE SET seq = excluded.seq",
            (slot, key[0], newest + 1),
        )
        old = [
            row[0]
            for row in conn.execute(
                "SELECT key FROM memo_recent WHERE slot = ? ORDER BY seq DESC LIMIT -1 OFFSET ?",
                (slot, _KEPT_PER_SLOT),
            )
        ]
        blobs: set[str] = set()
        for gone in old:
            found = conn.execute("SELECT blob FROM memo WHERE key = ?", (gone,)).fetchone()
            if found:
                blobs.add(found[0])
            conn.execute("DELETE FROM memo WHERE key = ?", (gone,))
            conn.execute("DELETE FROM memo_recent WHERE slot = ? AND key = ?", (slot, gone))
        return blobs

    # -- writing ------------------------------------------------------------

    def commit(
        self,
        files: Iterable[NewFile | tuple[str, bytes, Mapping[str, str]]],
        message: str,
        hashes: KnownHashes | None = None,
    ) -> CommitResult:
        """Record `files` as a new snapshot on top of head and move head to it.

        All or nothing: if anything fails, the store is left as it was. If the
        files equal head's exactly, nothing is written and head is returned.
        `hashes`: what this process's earlier commits hashed (`gen dev`).
        """
        if not isinstance(message, str):
            raise StoreError(f"commit message must be a string, not {type(message).__name__}")
        hashes = hashes or KnownHashes()
        hashes.commit_begins()
        # Hash before taking the write lock so readers and writers wait less.
        staged = _stage((NewFile(*item) for item in files), hashes)
        tree = _tree_hash(staged)
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            head = self.head()
            if head is not None and head.tree == tree:
                conn.execute("ROLLBACK")
                result = CommitResult(head, created=False)
            else:
                snapshot = self._insert(staged, tree, head, message)
                conn.execute("COMMIT")
                self._parts_stored |= self._parts_unconfirmed
                result = CommitResult(snapshot, created=True)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            self._parts_unconfirmed = set()
        hashes.commit_done()
        # Stored now (or already, under head): content-addressed, so they never change.
        self._committed = {s.blob: s.data for s in staged}
        listing = [(s.path, s.blob, len(s.data)) for s in staged]
        last = {k: v for k, v in self._listings.items() if k != result.snapshot.id}
        self._listings = {**dict(list(last.items())[-1:]), result.snapshot.id: listing}
        return result

    def _insert(
        self, staged: list[_Staged], tree: str, head: Snapshot | None, message: str
    ) -> Snapshot:
        """Write blobs, the snapshot row, its files and head; caller owns the transaction."""
        conn = self._conn
        # Head's blobs are stored: a rebuild that changed a few files hands over only those.
        stored = {
            row[0]
            for row in conn.execute(
                "SELECT blob FROM files WHERE snapshot = ?", (head.id if head else -1,)
            )
        }
        new = [s for s in staged if s.blob not in stored]
        conn.executemany(
            "INSERT OR IGNORE INTO blobs (hash, size, data) VALUES (?, ?, ?)",
            ((s.blob, len(s.data), s.data) for s in new if not s.parts),
        )
        for whole in (s for s in new if s.parts):
            self._insert_whole(whole)
        parent = head.id if head else None
        created_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        cursor = conn.execute(
            "INSERT INTO snapshots (parent, created_at, message, tree) VALUES (?, ?, ?, ?)",
            (parent, created_at, message, tree),
        )
        snapshot_id = cursor.lastrowid
        assert snapshot_id is not None  # always set after an INSERT
        conn.executemany(
            "INSERT INTO files (snapshot, path, blob, headers) VALUES (?, ?, ?, ?)",
            ((snapshot_id, s.path, s.blob, s.headers) for s in staged),
        )
        conn.execute(
            "INSERT INTO refs (name, snapshot) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET snapshot = excluded.snapshot",
            (HEAD, snapshot_id),
        )
        return Snapshot(snapshot_id, parent, created_at, message, tree)

    def _insert_whole(self, whole: _Staged) -> None:
        """Store a file in parts: each part once (marked a part: a memo entry of the same
        bytes must not take it along when it goes), then the whole as their hashes."""
        conn = self._conn
        if conn.execute("SELECT 1 FROM blobs WHERE hash = ?", (whole.blob,)).fetchone():
            return  # stored already (as a whole, or plain): same content
        # Parts this connection stored are there still: no memo entry takes a part along.
        new = {d: data for d, data in whole.parts if d not in self._parts_stored}
        conn.executemany(
            "INSERT INTO blobs (hash, size, data, kind) VALUES (?, ?, ?, 1)"
            " ON CONFLICT (hash) DO UPDATE SET kind = 1 WHERE kind = 0",
            ((digest, len(data), data) for digest, data in new.items()),
        )
        listing = b"".join(bytes.fromhex(digest) for digest, _ in whole.parts)
        conn.execute(
            "INSERT INTO blobs (hash, size, data, kind) VALUES (?, ?, ?, 2)",
            (whole.blob, len(whole.data), listing),
        )
        self._parts_unconfirmed.update(new)

    def _known_range(self) -> str:
        """Describe which snapshot ids exist, for error messages."""
        low, high = self._conn.execute("SELECT MIN(id), MAX(id) FROM snapshots").fetchone()
        if low is None:
            return "the store has no snapshots yet"
        return f"known snapshots are {low}..{high}"


# -- opening ----------------------------------------------------------------


def _prepare(conn: sqlite3.Connection, db_path: Path) -> None:
    """Check the schema version, switch to WAL and create the schema if new."""
    # Check before anything writes, so a newer store is never touched.
    version = _check_version(conn, db_path)
    # WAL lets a server read while the CLI commits.
    _switch_to_wal(conn)
    conn.execute("PRAGMA foreign_keys=ON")
    if version == SCHEMA_VERSION and _has_memo_schema(conn):
        return  # the usual open: nothing to write, no write lock taken
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-check under the lock: another process may have created it meanwhile.
        found = _check_version(conn, db_path)
        if found == 1:
            conn.execute(_UPGRADE_TO_2)
        if found < SCHEMA_VERSION:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        for statement in _MEMO_SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def _switch_to_wal(conn: sqlite3.Connection) -> None:
    """WAL mode, once per store; connections opening a new store at once may find it busy."""
    for _ in range(100):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            time.sleep(0.05)
    conn.execute("PRAGMA journal_mode=WAL")  # still busy after 5 s: let it say so


def _has_memo_schema(conn: sqlite3.Connection) -> bool:
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    return {"memo", "memo_by_blob", "files_by_blob", "memo_recent"} <= names


def _check_version(conn: sqlite3.Connection, db_path: Path) -> int:
    """Return the store's schema version; refuse one newer than this code knows."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"hook store {db_path} has schema version {version}, but this Reframe only"
            f" understands version {SCHEMA_VERSION}; upgrade Reframe to use it"
        )
    return version


# -- staging and hashing ----------------------------------------------------


def _stage(files: Iterable[NewFile], hashes: KnownHashes) -> list[_Staged]:
    """Validate and hash every file; raise StoreError on the first bad one."""
    staged: dict[str, _Staged] = {}
    for path, data, headers, parts in files:
        _check_path(path)
        if path in staged:
            raise StoreError(f"path {path!r} appears twice in one commit")
        if not isinstance(data, bytes | bytearray | memoryview):
            raise StoreError(f"{path}: content must be bytes, not {type(data).__name__}")
        raw = bytes(data)
        headers_json = hashes.headers_json(path, headers)
        if len(parts) > 1:
            blob, hashed = hashes.of_whole(path, raw, parts)
            staged[path] = _Staged(path, blob, raw, headers_json, hashed)
        else:
            staged[path] = _Staged(path, hashes.of(raw), raw, headers_json)
    _check_no_file_folder_clash(staged)
    return [staged[path] for path in sorted(staged)]


def _stored_parts(path: str, data: bytes, parts: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """The parts a file is stored in: its non-empty ones, if two or more (each part is then
    shorter than the whole, so reading a whole never comes back to itself); else none.

    `data` must be the parts joined (`Artifact.joined` makes it so); their length is
    checked, not their bytes (joining them again took 7 ms of a save at 200 entities)."""
    pieces = tuple(part for part in parts if part)
    if len(pieces) < 2:
        return ()
    if sum(map(len, pieces)) != len(data):
        raise StoreError(f"{path}: its parts do not add up to its content")
    return pieces


def _check_path(path: object) -> None:
    """Refuse anything but a normalised relative POSIX path inside the project."""
    if not isinstance(path, str) or not path:
        raise StoreError(f"file path must be a non-empty string, not {path!r}")
    if path.startswith("/") or "\\" in path or "\0" in path:
        raise StoreError(f"file path must be relative and POSIX-style: {path!r}")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise StoreError(f"file path must be normalised, without '.', '..' or '//': {path!r}")


def _check_no_file_folder_clash(staged: Mapping[str, _Staged]) -> None:
    """Refuse `a` next to `a/b`: such a snapshot could never be mirrored to disk."""
    for path in staged:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder in staged:
                raise StoreError(f"path {folder!r} is both a file and the folder of {path!r}")


def _headers_json(path: str, headers: Mapping[str, str]) -> str:
    """Serialise headers canonically (sorted keys, no spaces) so equal headers hash equal."""
    items = dict(headers)
    for key, value in items.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise StoreError(f"{path}: headers must map str to str, got {key!r}: {value!r}")
    return json.dumps(items, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_of(parts: tuple[bytes, ...]) -> str:
    """The hash of the parts joined, of what the store keeps and gives back."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


def _tree_hash(staged: list[_Staged]) -> str:
    """Hash the sorted (path, blob, headers) listing: equal files, equal tree."""
    digest = hashlib.sha256()
    # One JSON array per line; headers are already canonical JSON, so splice them in.
    for s in staged:
        path = json.dumps(s.path, ensure_ascii=False)
        digest.update(f'[{path},"{s.blob}",{s.headers}]\n'.encode())
    return digest.hexdigest()


# -- row mapping ------------------------------------------------------------


def _snapshot(row: tuple[int, int | None, str, str, str]) -> Snapshot:
    return Snapshot(id=row[0], parent=row[1], created_at=row[2], message=row[3], tree=row[4])


def _entry(row: tuple[str, str, int, str]) -> FileEntry:
    headers = MappingProxyType(json.loads(row[3]))
    return FileEntry(path=row[0], blob=row[1], size=row[2], headers=headers)
