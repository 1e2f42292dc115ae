"""The hook store keeps generated files content-addressed and mirrors them to disk."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from hookfs import HookStore, MirrorReport, StoreError, mirror
from hookfs.mirror import Seen
from hookfs.store import KnownHashes

Files = list[tuple[str, bytes, Mapping[str, str]]]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HookStore]:
    with HookStore.open(tmp_path) as opened:
        yield opened


def _count(project: Path, table: str) -> int:
    """Count rows straight from the file, independent of the store's own API."""
    conn = sqlite3.connect(project / ".gen" / "store.db")
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def _age(folder: Path) -> None:
    """Backdate every file so a rewrite shows in mtime even on coarse-clock filesystems."""
    for p in folder.rglob("*"):
        if p.is_file():
            os.utime(p, ns=(1_000_000_000, 1_000_000_000))


def _mtimes(folder: Path) -> dict[str, int]:
    return {
        p.relative_to(folder).as_posix(): p.stat().st_mtime_ns
        for p in folder.rglob("*")
        if p.is_file()
    }


BASE: Files = [
    ("api/models.py", b"class Invoice: ...\n", {"origin": "Invoice"}),
    ("api/routes/invoice.py", b"router = ...\n", {"origin": "Invoice", "rule": "routes"}),
    ("README.md", b"# Invoices\n", {}),
]


# -- store ------------------------------------------------------------------


def test_store_file_is_created_under_dot_gen(tmp_path: Path) -> None:
    HookStore.open(tmp_path).close()
    assert (tmp_path / ".gen" / "store.db").is_file()


def test_same_content_is_stored_once(tmp_path: Path, store: HookStore) -> None:
    same = b"shared = True\n"
    store.commit([("a.py", same, {}), ("b/c.py", same, {}), ("d.py", b"other\n", {})], "one")
    two = store.commit([("e.py", same, {})], "two").snapshot

    assert _count(tmp_path, "blobs") == 2
    entry = store.file(two.id, "e.py")
    assert entry is not None
    assert store.read_blob(entry.blob) == same


def test_committing_identical_files_creates_nothing(tmp_path: Path, store: HookStore) -> None:
    first = store.commit(BASE, "generate")
    again = store.commit(list(reversed(BASE)), "generate again")

    assert first.created is True
    assert again.created is False
    assert again.snapshot == first.snapshot
    assert store.head() == first.snapshot
    assert _count(tmp_path, "snapshots") == 1


def test_changed_headers_alone_make_a_new_snapshot(store: HookStore) -> None:
    first = store.commit(BASE, "one")
    path, data, _ = BASE[0]
    second = store.commit([(path, data, {"origin": "Customer"}), *BASE[1:]], "two")

    assert second.created is True
    assert second.snapshot.tree != first.snapshot.tree


def test_identical_listings_share_a_tree_hash(tmp_path: Path) -> None:
    with HookStore.open(tmp_path / "one") as one, HookStore.open(tmp_path / "two") as two:
        tree_one = one.commit(BASE, "a").snapshot.tree
        tree_two = two.commit(list(reversed(BASE)), "b").snapshot.tree
    assert tree_one == tree_two


def test_snapshots_chain_to_their_parent_and_head_moves(store: HookStore) -> None:
    assert store.head() is None

    one = store.commit(BASE, "one").snapshot
    two = store.commit([*BASE, ("new.py", b"x = 1\n", {})], "two").snapshot
    three = store.commit(BASE[:1], "three").snapshot

    assert (one.parent, two.parent, three.parent) == (None, one.id, two.id)
    assert store.head() == three
    assert [s.id for s in store.snapshots()] == [three.id, two.id, one.id]
    assert store.snapshot(two.id).message == "two"
    assert three.created_at.endswith("Z")


def test_files_round_trip_with_headers_sorted_by_path(store: HookStore) -> None:
    snap = store.commit(BASE, "one").snapshot

    entries = store.files(snap.id)

    assert [e.path for e in entries] == ["README.md", "api/models.py", "api/routes/invoice.py"]
    routes = store.file(snap.id, "api/routes/invoice.py")
    assert routes is not None
    assert dict(routes.headers) == {"origin": "Invoice", "rule": "routes"}
    assert routes.size == len(b"router = ...\n")
    assert dict(entries[0].headers) == {}
    assert store.read(snap.id, "api/models.py") == b"class Invoice: ...\n"


def test_file_of_missing_path_is_none(store: HookStore) -> None:
    snap = store.commit(BASE, "one").snapshot
    assert store.file(snap.id, "nope.py") is None


def test_reading_a_missing_path_names_it(store: HookStore) -> None:
    snap = store.commit(BASE, "one").snapshot
    with pytest.raises(StoreError, match=r"api/missing\.py"):
        store.read(snap.id, "api/missing.py")


def test_unknown_snapshot_names_the_id_and_the_known_range(store: HookStore) -> None:
    store.commit(BASE, "one")
    store.commit(BASE[:1], "two")
    with pytest.raises(StoreError, match=r"no snapshot 9\b.*1\.\.2"):
        store.snapshot(9)


def test_unknown_blob_is_refused(store: HookStore) -> None:
    with pytest.raises(StoreError, match="deadbeef"):
        store.read_blob("deadbeef")


def test_commit_is_all_or_nothing_when_the_files_fail_halfway(
    tmp_path: Path, store: HookStore
) -> None:
    head = store.commit(BASE, "one").snapshot
    blobs_before = _count(tmp_path, "blobs")

    def failing() -> Iterator[tuple[str, bytes, Mapping[str, str]]]:
        yield ("fresh/one.py", b"brand new content\n", {})
        yield ("fresh/two.py", b"more new content\n", {})
        raise RuntimeError("template crashed")

    with pytest.raises(RuntimeError, match="template crashed"):
        store.commit(failing(), "broken")

    assert store.head() == head
    assert _count(tmp_path, "snapshots") == 1
    assert _count(tmp_path, "blobs") == blobs_before
    # The store still works after the failed attempt.
    assert store.commit([("ok.py", b"ok\n", {})], "two").created is True


def test_duplicate_path_is_refused_and_writes_nothing(tmp_path: Path, store: HookStore) -> None:
    with pytest.raises(StoreError, match=r"a\.py"):
        store.commit([("a.py", b"1", {}), ("a.py", b"2", {})], "dup")
    assert store.head() is None
    assert _count(tmp_path, "blobs") == 0


@pytest.mark.parametrize(
    "bad", ["/etc/passwd", "../outside.py", "a/../b.py", "a//b.py", "./a.py", "a\\b.py", ""]
)
def test_paths_must_be_relative_posix_inside_the_project(store: HookStore, bad: str) -> None:
    with pytest.raises(StoreError):
        store.commit([(bad, b"x", {})], "bad")
    assert store.head() is None


def test_a_path_cannot_be_both_file_and_folder(store: HookStore) -> None:
    with pytest.raises(StoreError, match="both a file and"):
        store.commit([("api", b"x", {}), ("api/models.py", b"y", {})], "clash")


def test_refs_point_at_snapshots(store: HookStore) -> None:
    one = store.commit(BASE, "one").snapshot
    store.commit(BASE[:1], "two")

    assert store.get_ref("mirrored") is None
    store.set_ref("mirrored", one.id)
    assert store.get_ref("mirrored") == one
    with pytest.raises(StoreError, match="no snapshot 42"):
        store.set_ref("mirrored", 42)


def test_reopened_store_sees_the_same_head_and_content(tmp_path: Path) -> None:
    with HookStore.open(tmp_path) as store:
        snap = store.commit(BASE, "one").snapshot

    with HookStore.open(tmp_path) as reopened:
        assert reopened.head() == snap
        assert reopened.read(snap.id, "README.md") == b"# Invoices\n"


def test_store_uses_wal_and_schema_version_three(tmp_path: Path) -> None:
    HookStore.open(tmp_path).close()
    conn = sqlite3.connect(tmp_path / ".gen" / "store.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    finally:
        conn.close()


def test_a_newer_store_version_is_refused(tmp_path: Path) -> None:
    HookStore.open(tmp_path).close()
    conn = sqlite3.connect(tmp_path / ".gen" / "store.db")
    conn.execute("PRAGMA user_version = 4")
    conn.close()

    with pytest.raises(StoreError, match=r"version 4.*upgrade"):
        HookStore.open(tmp_path)


def test_a_version_one_store_is_upgraded_and_keeps_its_snapshots(tmp_path: Path) -> None:
    (tmp_path / ".gen").mkdir()
    conn = sqlite3.connect(tmp_path / ".gen" / "store.db")
    conn.executescript(VERSION_ONE_STORE)
    conn.close()

    with HookStore.open(tmp_path) as store:
        assert store.read(1, "README.md") == b"# Invoices\n"
        two = store.commit([("ir.json", b"[1,2]", {}, (b"[1,", b"2]"))], "two").snapshot
        assert store.read(two.id, "ir.json") == b"[1,2]"
    assert _count(tmp_path, "files") == 2


# -- snapshots listing what changed -------------------------------------------------------


def _files_of(count: int, changed: Mapping[int, bytes] | None = None) -> Files:
    changed = changed or {}
    return [
        (f"api/routes/e{n:03}.py", changed.get(n, b"router = %d\n" % n), {"origin": f"E{n}"})
        for n in range(count)
    ]


def test_a_snapshot_that_changed_a_few_files_lists_those_only(
    tmp_path: Path, store: HookStore
) -> None:
    one = store.commit(_files_of(40), "one").snapshot
    two = store.commit(_files_of(40, {3: b"changed\n"}), "two").snapshot
    three = store.commit(_files_of(39, {3: b"changed\n", 5: b"also\n"}), "three").snapshot

    assert _count(tmp_path, "files") == 40 + 1 + 2  # not 40 + 40 + 39
    with HookStore.open(tmp_path) as reopened:  # read from the file, not this connection
        for snap, files in (
            (one, _files_of(40)),
            (two, _files_of(40, {3: b"changed\n"})),
            (three, _files_of(39, {3: b"changed\n", 5: b"also\n"})),
        ):
            assert [(e.path, reopened.read(snap.id, e.path)) for e in reopened.files(snap.id)] == [
                (path, data) for path, data, _ in sorted(files)
            ]
            assert [row[0] for row in reopened.listing(snap.id)] == sorted(p for p, *_ in files)
        assert reopened.file(three.id, "api/routes/e039.py") is None  # dropped in three
        assert reopened.file(two.id, "api/routes/e039.py") is not None
        with pytest.raises(StoreError, match=r"snapshot 3 has no file 'api/routes/e039\.py'"):
            reopened.read(three.id, "api/routes/e039.py")
        entry = reopened.file(three.id, "api/routes/e001.py")  # from the base
        assert entry is not None and entry.headers == {"origin": "E1"}


def test_a_snapshot_that_changed_many_files_lists_them_all(
    tmp_path: Path, store: HookStore
) -> None:
    store.commit(_files_of(40), "one")
    many = {n: b"new %d\n" % n for n in range(20)}
    two = store.commit(_files_of(40, many), "two").snapshot

    assert _count(tmp_path, "files") == 80
    assert store.read(two.id, "api/routes/e000.py") == b"new 0\n"
    # The next snapshot lists what changed over the last full one: 1 file, not 21.
    store.commit(_files_of(40, {**many, 30: b"x\n"}), "three")
    assert _count(tmp_path, "files") == 81


#: A store as Reframe wrote it before blobs had a kind: one snapshot of README.md.
VERSION_ONE_STORE = """
CREATE TABLE blobs (hash TEXT PRIMARY KEY, size INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE snapshots (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES snapshots(id),
    created_at TEXT NOT NULL, message TEXT NOT NULL, tree TEXT NOT NULL);
CREATE TABLE files (snapshot INTEGER NOT NULL REFERENCES snapshots(id), path TEXT NOT NULL,
    blob TEXT NOT NULL REFERENCES blobs(hash), headers TEXT NOT NULL,
    PRIMARY KEY (snapshot, path));
CREATE TABLE refs (name TEXT PRIMARY KEY, snapshot INTEGER NOT NULL REFERENCES snapshots(id));
INSERT INTO blobs VALUES
    ('a00de18c698e0e58964aaac0f7ccd2b58a1dcc342ecb66f3282c4678fbf8ae28', 11, X'2320496e766f696365730a');
INSERT INTO snapshots VALUES (1, NULL, '2026-01-01T00:00:00.000Z', 'one', 'tree');
INSERT INTO files VALUES
    (1, 'README.md', 'a00de18c698e0e58964aaac0f7ccd2b58a1dcc342ecb66f3282c4678fbf8ae28', '{}');
INSERT INTO refs VALUES ('head', 1);
PRAGMA user_version = 1;
"""


# -- files in parts ---------------------------------------------------------------------


def _whole(*parts: bytes) -> tuple[str, bytes, Mapping[str, str], tuple[bytes, ...]]:
    return ("ir.json", b"".join(parts), {"x-rule": "ir"}, parts)


def stored_bytes(project: Path) -> int:
    conn = sqlite3.connect(project / ".gen" / "store.db")
    try:
        return int(conn.execute("SELECT SUM(LENGTH(data)) FROM blobs").fetchone()[0])
    finally:
        conn.close()


def test_a_file_in_parts_reads_back_whole(tmp_path: Path, store: HookStore) -> None:
    parts = (b'{"entities":[', b'{"name":"Invoice"}', b",", b'{"name":"Customer"}', b"]}")
    snap = store.commit([*BASE, _whole(*parts)], "one").snapshot

    content = b"".join(parts)
    assert store.read(snap.id, "ir.json") == content
    entry = store.file(snap.id, "ir.json")
    assert entry is not None and entry.size == len(content)
    assert store.read_blob(entry.blob) == content
    with HookStore.open(tmp_path) as reopened:  # from the file, not this connection's commit
        assert reopened.read(snap.id, "ir.json") == content
        assert reopened.read_blob(entry.blob) == content


def test_a_changed_part_stores_that_part_not_the_file_again(
    tmp_path: Path, store: HookStore
) -> None:
    entities = [b'{"name":"Entity%04d","fields":"%s"},' % (n, b"x" * 2000) for n in range(50)]
    store.commit([_whole(b"[", *entities, b"]")], "one")
    before = stored_bytes(tmp_path)

    entities[7] = b'{"name":"Entity0007","fields":"changed"},'
    two = store.commit([_whole(b"[", *entities, b"]")], "two").snapshot

    grown = stored_bytes(tmp_path) - before
    assert 0 < grown < 2 * 2000  # the new part and the list of parts, not 100 KB again
    assert store.read(two.id, "ir.json") == b"[" + b"".join(entities) + b"]"
    assert store.read(two.id - 1, "ir.json") != store.read(two.id, "ir.json")


def test_parts_that_do_not_add_up_to_the_content_are_refused(store: HookStore) -> None:
    with pytest.raises(StoreError, match=r"ir\.json: its parts"):
        store.commit([("ir.json", b"[1,2]", {}, (b"[1,", b"2]]"))], "bad")
    assert store.head() is None


def test_a_memo_entry_going_does_not_take_a_part_of_a_file_along(store: HookStore) -> None:
    store.memo_put("k", b"shared bytes")
    snap = store.commit([_whole(b"shared bytes", b" and more")], "one").snapshot
    store.memo_put("k", b"something else")  # the memo's old blob would go, but a file needs it

    assert store.read(snap.id, "ir.json") == b"shared bytes and more"


def test_a_memo_entry_equal_to_a_file_in_parts_reads_back(store: HookStore) -> None:
    store.commit([_whole(b"abc", b"def")], "one")
    store.memo_put("k", b"abcdef")
    assert store.memo_get("k") == b"abcdef"


def test_a_part_equal_to_another_file_in_parts_reads_back(store: HookStore) -> None:
    snap = store.commit([_whole(b"ab", b"cd")], "one").snapshot
    two = store.commit([("x.json", b"abcdef", {}, (b"abcd", b"ef"))], "two").snapshot
    assert store.read(two.id, "x.json") == b"abcdef"
    assert store.read(snap.id, "ir.json") == b"abcd"


def test_known_hashes_hash_an_unchanged_object_once(store: HookStore) -> None:
    hashes = KnownHashes()
    part = b"p" * 100_000
    calls: list[int] = []
    real = hashlib.sha256

    def counting(data: bytes = b"") -> Any:
        calls.append(len(data))
        return real(data)

    def commit(files: list[Any], message: str) -> list[int]:
        calls.clear()
        hashlib.sha256 = counting  # type: ignore[assignment]
        try:
            store.commit(files, message, hashes)
        finally:
            hashlib.sha256 = real  # type: ignore[assignment]
        return sorted(calls)

    store.commit([_whole(b"[", part, b"]")], "one", hashes)
    # The new glue is hashed, the whole as the list of its three parts' hashes, and the
    # tree (one line a file); the 100 KB part and the "[" (the same objects) are not
    # hashed again, nor read whole.
    listing = len(b"reframe whole v1\0") + 3 * 32
    tree = len('["ir.json","<64 hex digits>",{"x-rule":"ir"}]\n') - len("<64 hex digits>") + 64
    assert commit([_whole(b"[", part, b"] ")], "two") == [2, tree, listing]
    # The same objects again: nothing but the tree's hash (nothing changed, no snapshot).
    assert commit([_whole(b"[", part, b"] ")], "three") == [tree]


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / ".gen").mkdir()
    (tmp_path / ".gen" / "store.db").write_bytes(b"not a database at all, just text" * 10)
    with pytest.raises(StoreError, match=r"store\.db"):
        HookStore.open(tmp_path)


# -- mirror -----------------------------------------------------------------


def test_first_mirror_writes_every_file(tmp_path: Path, store: HookStore) -> None:
    snap = store.commit(BASE, "one").snapshot
    target = tmp_path / "generated"

    report = mirror(store, snap.id, target)

    assert report == MirrorReport(
        written=("README.md", "api/models.py", "api/routes/invoice.py"),
        unchanged=(),
        removed=(),
        kept=(),
    )
    assert (target / "api/routes/invoice.py").read_bytes() == b"router = ...\n"
    assert store.get_ref("mirrored") == snap
    assert not [p for p in target.rglob("*.tmp")]


def test_mirroring_again_rewrites_nothing(tmp_path: Path, store: HookStore) -> None:
    snap = store.commit(BASE, "one").snapshot
    target = tmp_path / "generated"
    mirror(store, snap.id, target)
    _age(target)
    before = _mtimes(target)

    report = mirror(store, snap.id, target)

    assert report.written == ()
    assert report.unchanged == ("README.md", "api/models.py", "api/routes/invoice.py")
    assert _mtimes(target) == before


def test_mirror_rewrites_only_changed_files(tmp_path: Path, store: HookStore) -> None:
    target = tmp_path / "generated"
    mirror(store, store.commit(BASE, "one").snapshot.id, target)
    _age(target)
    changed = [("README.md", b"# Invoices\n", {}), *BASE[:2]]
    changed[1] = ("api/models.py", b"class Invoice: total: int\n", {})

    report = mirror(store, store.commit(changed, "two").snapshot.id, target)

    assert report.written == ("api/models.py",)
    assert (target / "api/models.py").read_bytes() == b"class Invoice: total: int\n"
    assert (target / "README.md").stat().st_mtime_ns == 1_000_000_000


def test_a_process_that_saw_a_file_notices_an_edit_of_the_same_size(
    tmp_path: Path, store: HookStore
) -> None:
    """`Seen` (what `gen dev` keeps between saves) skips reading files whose stat it knows;
    an edit changes the stat, even one that keeps the size."""
    snap = store.commit(BASE, "one").snapshot
    target = tmp_path / "generated"
    seen = Seen()
    mirror(store, snap.id, target, seen)
    _age(target)  # older than the racy window: noted as seen by the next mirror
    assert mirror(store, snap.id, target, seen).written == ()
    assert str(target / "README.md") in seen.files

    (target / "README.md").write_bytes(b"# Invoicez\n")  # the same size
    os.utime(target / "README.md", ns=(2_000_000_000, 2_000_000_000))
    report = mirror(store, snap.id, target, seen)

    assert report.written == ("README.md",)
    assert (target / "README.md").read_bytes() == b"# Invoices\n"


def test_a_file_changed_within_its_timestamps_granularity_is_read_again(
    tmp_path: Path, store: HookStore
) -> None:
    """A file whose time is that recent could be edited again with the same stat: not
    noted. How recent: 2 s where times are whole milliseconds (or seconds), 0.1 s where
    they are finer (a jiffy of the kernel's clock)."""
    snap = store.commit(BASE, "one").snapshot
    target = tmp_path / "generated"
    seen = Seen()
    mirror(store, snap.id, target, seen)
    fine, coarse = target / "README.md", target / "api/models.py"
    assert str(fine) not in seen.files  # just written
    half_a_second_ago = (time.time_ns() // 1_000_000 - 500) * 1_000_000
    os.utime(fine, ns=(half_a_second_ago + 123, half_a_second_ago + 123))
    os.utime(coarse, ns=(half_a_second_ago, half_a_second_ago))

    assert mirror(store, snap.id, target, seen).written == ()
    assert str(fine) in seen.files
    assert str(coarse) not in seen.files


def test_mirror_overwrites_a_generated_file_the_user_edited(
    tmp_path: Path, store: HookStore
) -> None:
    snap = store.commit(BASE, "one").snapshot
    target = tmp_path / "generated"
    mirror(store, snap.id, target)
    (target / "README.md").write_bytes(b"# my edit\n")

    report = mirror(store, snap.id, target)

    assert report.written == ("README.md",)
    assert (target / "README.md").read_bytes() == b"# Invoices\n"


def test_mirror_tells_a_file_in_parts_from_a_same_size_edit_of_it(
    tmp_path: Path, store: HookStore
) -> None:
    parts = (b'{"entities":[', b'{"name":"Invoice"}', b"]}")
    snap = store.commit([*BASE, _whole(*parts)], "one").snapshot
    target = tmp_path / "generated"
    mirror(store, snap.id, target)
    _age(target)
    before = _mtimes(target)

    # A new process (nothing seen): the file is read and found to hold the parts joined.
    assert mirror(store, snap.id, target, Seen()).written == ()
    assert _mtimes(target) == before
    # Edited by hand, keeping its size: told apart, and written back.
    (target / "ir.json").write_bytes(b"".join(parts).replace(b"Invoice", b"Invoicf"))
    assert mirror(store, snap.id, target, Seen()).written == ("ir.json",)
    assert (target / "ir.json").read_bytes() == b"".join(parts)


def test_a_path_written_with_another_blob_is_written_again_unread(
    tmp_path: Path, store: HookStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "generated"
    seen = Seen()
    mirror(store, store.commit(BASE, "one").snapshot.id, target, seen)  # noted as racy
    changed = [*BASE[:2], ("README.md", b"# Invoicez\n", {})]  # same size, new bytes
    two = store.commit(changed, "two").snapshot
    opened: list[str] = []
    real_open = open

    def tracking_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", tracking_open)
    report = mirror(store, two.id, target, seen)

    assert report.written == ("README.md",)
    assert (target / "README.md").read_bytes() == b"# Invoicez\n"
    # What this process wrote there before is another blob: not read to be compared.
    assert str(target / "README.md") not in opened


def test_dropped_file_is_removed_with_its_emptied_folder(tmp_path: Path, store: HookStore) -> None:
    target = tmp_path / "generated"
    mirror(store, store.commit(BASE, "one").snapshot.id, target)
    (target / "empty_by_user").mkdir()

    two = store.commit(BASE[:1] + BASE[2:], "drop routes").snapshot
    report = mirror(store, two.id, target)

    assert report.removed == ("api/routes/invoice.py",)
    assert not (target / "api/routes").exists()
    # `api/` still holds models.py; a folder the removal did not empty stays.
    assert (target / "api/models.py").is_file()
    assert (target / "empty_by_user").is_dir()


def test_stale_file_edited_by_the_user_is_kept(tmp_path: Path, store: HookStore) -> None:
    target = tmp_path / "generated"
    mirror(store, store.commit(BASE, "one").snapshot.id, target)
    (target / "api/routes/invoice.py").write_bytes(b"router = my_router\n")

    report = mirror(store, store.commit(BASE[:1], "drop").snapshot.id, target)

    assert report.kept == ("api/routes/invoice.py",)
    assert report.removed == ("README.md",)
    assert (target / "api/routes/invoice.py").read_bytes() == b"router = my_router\n"


def test_users_own_files_survive_every_mirror(tmp_path: Path, store: HookStore) -> None:
    target = tmp_path / "generated"
    target.mkdir()
    own = target / "api" / "notes.txt"
    own.parent.mkdir()
    own.write_bytes(b"mine\n")
    top = target / "TODO"
    top.write_bytes(b"also mine\n")

    reports = [
        mirror(store, store.commit(BASE, "one").snapshot.id, target),
        mirror(store, store.commit(BASE[2:], "shrink").snapshot.id, target),
        mirror(store, store.commit([("other.py", b"o\n", {})], "swap").snapshot.id, target),
    ]

    assert own.read_bytes() == b"mine\n"
    assert top.read_bytes() == b"also mine\n"
    # api/ held the user's file, so removing generated files from it must not delete it.
    assert reports[1].removed == ("api/models.py", "api/routes/invoice.py")
    assert not (target / "api/routes").exists()
    assert all("api/notes.txt" not in r.written + r.unchanged + r.removed + r.kept for r in reports)
    assert sorted(_mtimes(target)) == ["TODO", "api/notes.txt", "other.py"]


def test_a_file_may_replace_a_folder_that_was_mirrored(tmp_path: Path, store: HookStore) -> None:
    target = tmp_path / "generated"
    mirror(store, store.commit([("api/models.py", b"m\n", {})], "folder").snapshot.id, target)

    report = mirror(store, store.commit([("api", b"now a file\n", {})], "file").snapshot.id, target)

    assert report.removed == ("api/models.py",)
    assert report.written == ("api",)
    assert (target / "api").read_bytes() == b"now a file\n"


def test_emptying_the_mirror_keeps_the_target_folder(tmp_path: Path, store: HookStore) -> None:
    target = tmp_path / "generated"
    mirror(store, store.commit([("only.py", b"x\n", {})], "one").snapshot.id, target)

    report = mirror(store, store.commit([], "nothing").snapshot.id, target)

    assert report.removed == ("only.py",)
    assert target.is_dir()
    assert list(target.iterdir()) == []
