"""The hook store: every generated file, content-addressed, in one SQLite file.

A project's store lives at `<project>/.gen/store.db`. Blobs are keyed by the
sha256 of their bytes, so identical content is stored once however many
snapshots or paths use it (a file in parts, below, by the hash of its parts'
hashes). A snapshot is an immutable listing of
(path, blob, headers); refs (`head`, `mirrored`, ...) name snapshots.

A file the generators hand over in parts (`Artifact.joined`: `ir.json`,
`trace.json`, one part per entity) is stored as a whole blob whose data is the
list of its parts' hashes, each part a blob of its own: a save under `gen dev`
that changed one entity stores that entity's parts, not a 4 MB file again.

Likewise a snapshot that changed a few files over an earlier one, its `base`,
lists those only (and the paths it `dropped`): a save lists 10 files of 860,
not all of them. A base lists every file, so any listing is at most two reads.
"""

from __future__ import annotations

import hashlib
import json
import operator
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import compress
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import NamedTuple

#: Schema version kept in `PRAGMA user_version`. 2: blobs have a `kind` (whole, part).
#: 3: a snapshot may list only what changed over a `base` snapshot.
SCHEMA_VERSION = 3

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
    tree TEXT NOT NULL,
    base INTEGER REFERENCES snapshots(id)
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
CREATE TABLE IF NOT EXISTS dropped (
    snapshot INTEGER NOT NULL REFERENCES snapshots(id),
    path TEXT NOT NULL,
    PRIMARY KEY (snapshot, path)
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


#: Version 1 to 2: existing blobs are plain. 2 to 3: existing snapshots list every file
#: (the `dropped` table is made by `_SCHEMA`).
_UPGRADE_TO_2 = "ALTER TABLE blobs ADD COLUMN kind INTEGER NOT NULL DEFAULT 0"
_UPGRADE_TO_3 = "ALTER TABLE snapshots ADD COLUMN base INTEGER REFERENCES snapshots(id)"

#: A blob's `kind`: its data is its content; the same, and a part of some whole (never
#: deleted with a memo entry it may also be); a whole, whose data is its parts' hashes.
PLAIN, PART, WHOLE = 0, 1, 2
#: The bytes of one part's hash in a whole's data (sha256, binary).
_DIGEST = 32
#: What a whole's hash is taken of before its data (`_whole_hash`).
_WHOLE_TAG = b"reframe whole v1\0"

#: WAL pages (4 KB) a `for_development` connection lets pile up before it checkpoints.
_DEV_WAL_PAGES = 16_384

#: A snapshot lists only what changed over its base while that is at most this share of
#: its files (else it lists them all and is the next snapshots' base).
_MOST_CHANGED_SHARE = 0.25
#: Snapshots whose listing a connection keeps in memory (`_rows_of`).
_ROWS_KEPT = 4

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


@dataclass(frozen=True, slots=True)
class _Staged:
    """One validated, hashed file waiting to be written.

    Reused commit after commit while its file is the same objects (`KnownHashes`): what
    each commit reads of it is made once, here, and slots keep it small (every commit
    goes through all 860 of them several times)."""

    path: str
    blob: str
    data: bytes
    headers: str
    #: (hash, bytes) of each part, for a file stored in parts; else empty.
    parts: _Parts = ()
    #: For a file stored in parts, what the store keeps for it (`_parts_listing`).
    listing: bytes = b""
    #: As a snapshot lists it (`HookStore._rows_of`).
    row: _Row = field(init=False, repr=False, compare=False)
    #: Its line in the tree's hash (`_tree_hash`): a JSON array; headers are already
    #: canonical JSON, so spliced in.
    tree_line: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "row", (self.blob, len(self.data), self.headers))
        path = json.dumps(self.path, ensure_ascii=False)
        line = f'[{path},"{self.blob}",{self.headers}]\n'.encode()
        object.__setattr__(self, "tree_line", line)


class _Known(NamedTuple):
    """A file as the last commit staged it, and what it was staged from that a file
    handed over must be again to be staged the same (`KnownHashes.staged`)."""

    staged: _Staged
    #: As handed over, empty ones too: the very objects.
    parts: tuple[bytes, ...]
    #: A copy: the mapping handed over may be changed after the commit.
    headers: dict[str, str]


class KnownHashes:
    """What one process's last commit staged, by path.

    `gen dev` builds again and again, and what did not change is the very same object
    each time (the build graph's results): a file whose bytes and parts are last time's
    objects, its headers equal, is not checked nor hashed again (one lookup, a few
    identity checks: 860 files a save, 10 of them changed). A file in parts that changed
    hashes the parts that are not one of its own parts of last time.

    Known objects are held until the next commit is done: an id compared is never that
    of another object that took a freed one's place.
    """

    def __init__(self) -> None:
        self._files: dict[str, _Known] = {}
        self._files_now: dict[str, _Known] = {}
        #: Whether each path the commit under way staged was one of the last commit's.
        self._paths_known = True

    def staged(self, new: NewFile) -> _Staged:
        """`new` checked and hashed: last time's when it is last time's objects."""
        known = self._files.get(new.path)
        if known is None:
            self._paths_known = False
        elif (
            new.data is known.staged.data
            and (new.parts is known.parts or _same_objects(new.parts, known.parts))
            and new.headers == known.headers
        ):
            self._files_now[new.path] = known
            return known.staged
        staged = _staged_file(new, known)
        self._files_now[new.path] = _Known(staged, tuple(new.parts), dict(new.headers))
        return staged

    def had_paths(self) -> bool:
        """Whether the last commit had every path staged since `commit_begins` (they were
        checked then)."""
        return self._paths_known

    def commit_begins(self) -> None:
        """Forget what a commit that failed had noted."""
        self._files_now, self._paths_known = {}, True

    def commit_done(self) -> None:
        """Keep what the last commit used, forget the rest."""
        self._files, self._files_now = self._files_now, {}


#: A file as a snapshot lists it: its blob, size and headers (canonical JSON).
_Row = tuple[str, int, str]
#: No file (`HookStore._insert_blobs`).
_NO_ROW: _Row = ("", 0, "")


#: A file in parts as stored: the (hash, bytes) of each part.
_Parts = tuple[tuple[str, bytes], ...]
#: A part's hash, of its (hash, bytes).
_HASH = operator.itemgetter(0)


def _same_objects(a: tuple[bytes, ...], b: tuple[bytes, ...]) -> bool:
    return len(a) == len(b) and all(map(operator.is_, a, b))


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
        #: The files of the snapshots this connection read or committed last, by id: path
        #: -> (blob, size, headers JSON) (`_rows_of`). The mirror asks for the one it
        #: mirrors and the one it mirrored before; a commit for head's base.
        self._rows: dict[int, dict[str, _Row]] = {}

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

    def for_development(self) -> HookStore:
        """Make this connection's commits cheap for `gen dev`, a snapshot per save, and
        return it: no sync to disk per commit (two a save took 16 ms at 200 entities) and
        the WAL copied back into the store only when `checkpoint` is called, as `gen dev`
        does when quiet, or once it holds `_DEV_WAL_PAGES`.

        What a save commits is made from the model files again on the next start: a
        power cut may lose the last saves' snapshots, never corrupt the store (WAL)."""
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(f"PRAGMA wal_autocheckpoint={_DEV_WAL_PAGES}")
        return self

    def checkpoint(self) -> None:
        """Copy what the WAL holds into the store's file, without waiting for readers."""
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

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
        rows = self._rows_of(snapshot_id)
        return [_entry((path, *rows[path])) for path in sorted(rows)]

    def listing(self, snapshot_id: int) -> list[tuple[str, str, int]]:
        """(path, blob, size) of each file of a snapshot, sorted by path: `files` without
        the headers, which the mirror does not need."""
        rows = self._rows_of(snapshot_id)
        return [(path, *rows[path][:2]) for path in sorted(rows)]

    def file(self, snapshot_id: int, path: str) -> FileEntry | None:
        """Return one file of a snapshot, or None if the snapshot lacks `path`."""
        known = self._rows.get(snapshot_id)
        if known is not None:
            row = known.get(path)
            return _entry((path, *row)) if row else None
        base = self._base_of(snapshot_id)
        found = self._own_row(snapshot_id, path)
        if found is None and base is not None and not self._dropped(snapshot_id, path):
            found = self._own_row(base, path)
        return _entry((path, *found)) if found else None

    def read(self, snapshot_id: int, path: str) -> bytes:
        """Return the bytes of `path` in a snapshot; raise StoreError if absent."""
        entry = self.file(snapshot_id, path)
        if entry is None:
            raise StoreError(f"snapshot {snapshot_id} has no file {path!r}")
        return self.read_blob(entry.blob)

    def _rows_of(self, snapshot_id: int) -> dict[str, _Row]:
        """path -> (blob, size, headers JSON) of every file of a snapshot: its own rows
        over its base's, less what it dropped. Raises StoreError if there is none."""
        known = self._rows.get(snapshot_id)
        if known is None:
            base = self._base_of(snapshot_id)
            known = dict(self._rows_of(base)) if base is not None else {}
            for (path,) in self._conn.execute(
                "SELECT path FROM dropped WHERE snapshot = ?", (snapshot_id,)
            ):
                known.pop(path, None)
            known.update(self._own_rows(snapshot_id))
        # Kept as the newest: a base, asked for by every commit, is not read again.
        self._keep_rows(snapshot_id, known)
        return known

    def _keep_rows(self, snapshot_id: int, rows: dict[str, _Row]) -> None:
        self._rows.pop(snapshot_id, None)
        self._rows[snapshot_id] = rows  # the newest last
        while len(self._rows) > _ROWS_KEPT:
            del self._rows[next(iter(self._rows))]

    def _base_of(self, snapshot_id: int) -> int | None:
        row = self._conn.execute(
            "SELECT base FROM snapshots WHERE id = ?", (snapshot_id,)
        ).fetchone()
        if row is None:
            raise StoreError(f"no snapshot {snapshot_id}; {self._known_range()}")
        return int(row[0]) if row[0] is not None else None

    def _own_rows(self, snapshot_id: int) -> dict[str, _Row]:
        rows = self._conn.execute(
            "SELECT f.path, f.blob, b.size, f.headers FROM files f"
            " JOIN blobs b ON b.hash = f.blob WHERE f.snapshot = ?",
            (snapshot_id,),
        )
        return {path: (blob, size, headers) for path, blob, size, headers in rows}

    def _own_row(self, snapshot_id: int, path: str) -> _Row | None:
        row = self._conn.execute(
            "SELECT f.blob, b.size, f.headers FROM files f"
            " JOIN blobs b ON b.hash = f.blob WHERE f.snapshot = ? AND f.path = ?",
            (snapshot_id, path),
        ).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def _dropped(self, snapshot_id: int, path: str) -> bool:
        return bool(
            self._conn.execute(
                "SELECT 1 FROM dropped WHERE snapshot = ? AND path = ?", (snapshot_id, path)
            ).fetchone()
        )

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
        # The writer hands over NewFiles: not made again, 860 a save.
        news = (item if isinstance(item, NewFile) else NewFile(*item) for item in files)
        staged = _stage(news, hashes)
        tree = _tree_hash(staged)
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            head = self.head()
            if head is not None and head.tree == tree:
                conn.execute("ROLLBACK")
                result = CommitResult(head, created=False)
                # Head's files are stored, parts and all: the next commit (the first save
                # of `gen dev`) stores only the parts that are new.
                self._parts_stored.update(d for s in staged.values() for d, _ in s.parts)
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
        self._committed = {s.blob: s.data for s in staged.values()}
        self._keep_rows(result.snapshot.id, {path: s.row for path, s in staged.items()})
        return result

    def _insert(
        self, staged: Mapping[str, _Staged], tree: str, head: Snapshot | None, message: str
    ) -> Snapshot:
        """Write blobs, the snapshot row, its files and head; caller owns the transaction."""
        conn = self._conn
        base, listed, dropped = self._changes(staged, head)
        self._insert_blobs(listed, head)
        parent = head.id if head else None
        created_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        cursor = conn.execute(
            "INSERT INTO snapshots (parent, created_at, message, tree, base)"
            " VALUES (?, ?, ?, ?, ?)",
            (parent, created_at, message, tree, base),
        )
        snapshot_id = cursor.lastrowid
        assert snapshot_id is not None  # always set after an INSERT
        conn.executemany(
            "INSERT INTO files (snapshot, path, blob, headers) VALUES (?, ?, ?, ?)",
            ((snapshot_id, s.path, s.blob, s.headers) for s in listed),
        )
        conn.executemany(
            "INSERT INTO dropped (snapshot, path) VALUES (?, ?)",
            ((snapshot_id, path) for path in dropped),
        )
        conn.execute(
            "INSERT INTO refs (name, snapshot) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET snapshot = excluded.snapshot",
            (HEAD, snapshot_id),
        )
        return Snapshot(snapshot_id, parent, created_at, message, tree)

    def _changes(
        self, staged: Mapping[str, _Staged], head: Snapshot | None
    ) -> tuple[int | None, list[_Staged], list[str]]:
        """(base, files to list, paths dropped) of a new snapshot of `staged`: over head's
        base (or head, if it has none) when few files changed, else every file and no base."""
        if head is None:
            return None, list(staged.values()), []
        base = self._base_of(head.id) or head.id
        rows = self._rows_of(base)
        listed = [s for s in staged.values() if rows.get(s.path) != s.row]
        dropped = sorted(rows.keys() - staged.keys())
        if len(listed) + len(dropped) > _MOST_CHANGED_SHARE * len(staged):
            return None, list(staged.values()), []
        return base, listed, dropped

    def _insert_blobs(self, listed: list[_Staged], head: Snapshot | None) -> None:
        """Store the blobs of the files a new snapshot lists that are new. What it does not
        list is its base's, so stored; of what it lists (what changed since the base: tens
        of files, not 860), most is where head has it too."""
        at_head = self._rows_of(head.id) if head else {}
        new = [s for s in listed if at_head.get(s.path, _NO_ROW)[0] != s.blob]
        self._conn.executemany(
            "INSERT OR IGNORE INTO blobs (hash, size, data) VALUES (?, ?, ?)",
            ((s.blob, len(s.data), s.data) for s in new if not s.parts),
        )
        for whole in (s for s in new if s.parts):
            self._insert_whole(whole)

    def _insert_whole(self, whole: _Staged) -> None:
        """Store a file in parts: each part once (marked a part: a memo entry of the same
        bytes must not take it along when it goes), then the whole as their hashes."""
        conn = self._conn
        if conn.execute("SELECT 1 FROM blobs WHERE hash = ?", (whole.blob,)).fetchone():
            return  # stored already (as a whole, or plain): same content
        # Parts this connection stored are there still: no memo entry takes a part along.
        parts = dict(whole.parts)  # at C speed: most are stored, a few are new
        new = {digest: parts[digest] for digest in sorted(parts.keys() - self._parts_stored)}
        conn.executemany(
            "INSERT INTO blobs (hash, size, data, kind) VALUES (?, ?, ?, 1)"
            " ON CONFLICT (hash) DO UPDATE SET kind = 1 WHERE kind = 0",
            ((digest, len(data), data) for digest, data in new.items()),
        )
        conn.execute(
            "INSERT INTO blobs (hash, size, data, kind) VALUES (?, ?, ?, 2)",
            (whole.blob, len(whole.data), whole.listing),
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
        if found in (1, 2):
            conn.execute(_UPGRADE_TO_3)
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


def _stage(files: Iterable[NewFile], hashes: KnownHashes) -> dict[str, _Staged]:
    """Validate and hash every file, by path, sorted; raise StoreError on the first bad
    one."""
    staged: dict[str, _Staged] = {}
    for new in files:
        if new.path in staged:
            raise StoreError(f"path {new.path!r} appears twice in one commit")
        staged[new.path] = hashes.staged(new)
    if not hashes.had_paths():  # else the last commit checked them all
        _check_no_file_folder_clash(staged)
    return {path: staged[path] for path in sorted(staged)}


def _staged_file(new: NewFile, known: _Known | None) -> _Staged:
    """`new` checked and hashed; `known`: its path's last, whose hashes are kept for what
    is the same objects."""
    path, data, headers, parts = new
    _check_path(path)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise StoreError(f"{path}: content must be bytes, not {type(data).__name__}")
    raw = bytes(data)
    headers_json = _headers_json(path, headers)
    blob, hashed, listing = _content_hash(path, raw, tuple(parts), known)
    return _Staged(path, blob, raw, headers_json, hashed, listing)


def _content_hash(
    path: str, raw: bytes, parts: tuple[bytes, ...], known: _Known | None
) -> tuple[str, _Parts, bytes]:
    """(blob, parts as stored, their listing) of `raw` in `parts`: a plain file's hash, or
    a whole's (`_stored_parts`), made from `known`'s for what is the same objects."""
    if known is not None and _same_content(known, raw, parts):
        before = known.staged
        return before.blob, before.parts, before.listing
    replaced = _replaced_in_place(path, raw, parts, known) if known else None
    if replaced is not None:
        hashed, listing = replaced
    else:
        pieces = _stored_parts(path, raw, parts) if len(parts) > 1 else ()
        if not pieces:
            return _sha256(raw), (), b""
        hashed = _hashed_parts(pieces, known.staged.parts if known else ())
        listing = _parts_listing(hashed)
    return _whole_hash(listing), hashed, listing


def _same_content(known: _Known, raw: bytes, parts: tuple[bytes, ...]) -> bool:
    """Whether `raw`, in `parts`, is stored as `known` was: the same parts objects, and the
    same bytes object or, for a file stored in parts, as long (`_stored_parts` checks no
    more; its content is its parts)."""
    before = known.staged
    if not _same_objects(parts, known.parts):
        return False
    return raw is before.data or (bool(before.parts) and len(raw) == len(before.data))


def _replaced_in_place(
    path: str, raw: bytes, parts: tuple[bytes, ...], known: _Known
) -> tuple[_Parts, bytes] | None:
    """A file in parts that is `known`'s but for some parts replaced, in place, by others
    not empty (what a save that changed a few entities makes): its parts as stored and
    their listing, made from `known`'s looking at the replaced parts only (9 files of 200
    to 600 parts each a save). None when it is not so: parts added, removed or empty move
    where the others are stored.

    A replaced part that is equal bytes keeps its hash: comparing is far cheaper than
    hashing, and the build graph may make equal parts again."""
    before, olds = known.staged, known.parts
    if len(parts) < 2 or len(parts) != len(olds) or len(before.parts) != len(olds):
        return None  # (last time's: stored in parts, none empty)
    replaced = list(compress(range(len(parts)), map(operator.is_not, parts, olds)))
    if not all(parts[at] for at in replaced):
        return None
    # `_stored_parts`' check, from last time's: their lengths added up to its content.
    grown = sum(len(parts[at]) - len(olds[at]) for at in replaced)
    if len(raw) != len(before.data) + grown:
        raise StoreError(f"{path}: its parts do not add up to its content")
    hashed = list(before.parts)
    listing = bytearray(before.listing)
    for at in replaced:
        part = parts[at]
        digest = hashed[at][0] if part == olds[at] else _sha256(part)
        hashed[at] = (digest, part)  # the new object: the next save finds it the same
        listing[at * _DIGEST : (at + 1) * _DIGEST] = bytes.fromhex(digest)
    return tuple(hashed), bytes(listing)


def _hashed_parts(pieces: tuple[bytes, ...], before: _Parts) -> _Parts:
    """(hash, bytes) of each of `pieces`, hashed unless it is one of `before`, the same
    file's parts last time (parts seldom move between files: no other file's are looked
    at), by identity: `before` holds its objects alive, so no other has their id, and
    `is` makes sure."""
    by_id = {id(pair[1]): pair for pair in before}
    return tuple(_pair(by_id.get(id(piece)), piece) for piece in pieces)


def _pair(known: tuple[str, bytes] | None, piece: bytes) -> tuple[str, bytes]:
    """`known` if it is `piece`'s, else `piece` hashed."""
    return known if known is not None and known[1] is piece else (_sha256(piece), piece)


def _stored_parts(path: str, data: bytes, parts: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """The parts a file is stored in: its non-empty ones, if two or more (each part is then
    shorter than the whole, so reading a whole never comes back to itself); else none.

    `data` must be the parts joined (`Artifact.joined` makes it so); their length is
    checked, not their bytes (joining them again took 7 ms of a save at 200 entities)."""
    pieces = tuple(filter(None, parts))  # the non-empty ones
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


def _whole_hash(listing: bytes) -> str:
    """A file in parts is keyed by what the store keeps for it, the list of its parts'
    hashes (`_parts_listing`), tagged so that no plain blob's bytes can claim that key: a
    save that changed one part hashes 32 bytes a part, not the 4 MB file again."""
    return _sha256(_WHOLE_TAG + listing)


def _parts_listing(parts: _Parts) -> bytes:
    """A whole's data: its parts' hashes, binary, in order."""
    return bytes.fromhex("".join(map(_HASH, parts)))  # one call, not one a part


def _tree_hash(staged: Mapping[str, _Staged]) -> str:
    """Hash the sorted (path, blob, headers) listing: equal files, equal tree."""
    return _sha256(b"".join(s.tree_line for s in staged.values()))


# -- row mapping ------------------------------------------------------------


def _snapshot(row: tuple[int, int | None, str, str, str]) -> Snapshot:
    return Snapshot(id=row[0], parent=row[1], created_at=row[2], message=row[3], tree=row[4])


def _entry(row: tuple[str, str, int, str]) -> FileEntry:
    headers = MappingProxyType(json.loads(row[3]))
    return FileEntry(path=row[0], blob=row[1], size=row[2], headers=headers)
