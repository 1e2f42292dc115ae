"""Rewrites by one process (`gen dev`'s saves) go through spare inodes, on a real filesystem:
still atomic, never through a user's hard link, and falling back where spares cannot work."""

from __future__ import annotations

import errno
import importlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from hookfs import HookStore, mirror
from hookfs.mirror import Seen
from hookfs.writer import Written

V1 = b"one\n" * 25_000  # 100 KB: several blocks, so an in-place write shows
V2 = b"two!\n" * 25_000
V3 = b"three\n" * 20_000
V4 = b"four\n" * 22_000
SMALL = b"readme\n"
#: The module (`hookfs.mirror` itself names the function, as `hookfs` exports it).
mirror_module = importlib.import_module("hookfs.mirror")

Files = list[tuple[str, bytes, Mapping[str, str]]]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HookStore]:
    with HookStore.open(tmp_path) as opened:
        yield opened


def _save(store: HookStore, target: Path, seen: Seen, content: bytes) -> None:
    """Commit `ir.json` with `content` (and a README that stays), then mirror it."""
    files: Files = [("ir.json", content, {}), ("README.md", SMALL, {})]
    mirror(store, store.commit(files, "save").snapshot.id, target, seen)


def _spares_root(store: HookStore) -> Path:
    return store.path.parent / "spares"


def _spare_files(store: HookStore) -> list[Path]:
    root = _spares_root(store)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _listing(target: Path) -> list[str]:
    return sorted(p.relative_to(target).as_posix() for p in target.rglob("*"))


def test_a_rewrite_writes_into_a_spare_and_keeps_the_old_inode_as_the_next(
    tmp_path: Path, store: HookStore
) -> None:
    target, seen = tmp_path / "generated", Seen()
    dest = target / "ir.json"
    _save(store, target, seen, V1)
    first = os.lstat(dest).st_ino

    _save(store, target, seen, V2)  # no spare yet: one is made, V1's inode kept

    assert dest.read_bytes() == V2
    second = os.lstat(dest).st_ino
    assert second != first
    [spare] = _spare_files(store)
    assert os.lstat(spare).st_ino == first  # not freed: the next write's spare
    assert _listing(target) == ["README.md", "ir.json"]  # nothing of the spares in view

    _save(store, target, seen, V3)  # written over V1's inode, V2's kept

    assert dest.read_bytes() == V3
    assert os.lstat(dest).st_ino == first
    assert [os.lstat(p).st_ino for p in _spare_files(store)] == [second]
    assert _listing(target) == ["README.md", "ir.json"]


def test_a_reader_of_the_old_file_reads_it_whole_after_a_rewrite(
    tmp_path: Path, store: HookStore
) -> None:
    target, seen = tmp_path / "generated", Seen()
    for content in (V1, V2):  # from here on a spare exists: V1's inode
        _save(store, target, seen, content)

    with open(target / "ir.json", "rb") as reader:
        assert reader.read(4) == V2[:4]
        _save(store, target, seen, V3)
        rest = reader.read()

    assert V2[:4] + rest == V2
    assert (target / "ir.json").read_bytes() == V3


def test_a_file_with_another_hard_link_is_never_written_over(
    tmp_path: Path, store: HookStore
) -> None:
    """The user's link keeps V1: the rewrites that follow never take its inode as a spare."""
    target, seen = tmp_path / "generated", Seen()
    _save(store, target, seen, V1)
    mine = tmp_path / "mine.json"
    os.link(target / "ir.json", mine)

    _save(store, target, seen, V2)
    assert os.lstat(mine).st_nlink == 1  # no name of ours left on it: not a spare
    for content in (V3, V4):
        _save(store, target, seen, content)

    assert mine.read_bytes() == V1
    assert os.lstat(mine).st_nlink == 1
    assert (target / "ir.json").read_bytes() == V4


def test_a_spare_linked_to_after_it_was_kept_is_not_written_over(
    tmp_path: Path, store: HookStore
) -> None:
    target, seen = tmp_path / "generated", Seen()
    for content in (V1, V2):
        _save(store, target, seen, content)
    [spare] = _spare_files(store)
    other = tmp_path / "other"
    os.link(spare, other)

    _save(store, target, seen, V3)

    assert other.read_bytes() == V1
    assert (target / "ir.json").read_bytes() == V3


def test_what_a_crash_left_in_the_spares_folder_is_overwritten(
    tmp_path: Path, store: HookStore
) -> None:
    """A longer spare is cut to the new bytes; a `keep` link left behind is replaced."""
    target, seen = tmp_path / "generated", Seen()
    for content in (V1, V2):
        _save(store, target, seen, content)
    [spare] = _spare_files(store)
    with open(spare, "ab") as handle:
        handle.write(b"garbage" * 50_000)
    Path(f"{spare}.keep").write_bytes(b"left by a crash")
    spare_inode = os.lstat(spare).st_ino

    _save(store, target, seen, V3)

    assert (target / "ir.json").read_bytes() == V3
    assert os.lstat(target / "ir.json").st_ino == spare_inode  # the spare was still used
    assert not Path(f"{spare}.keep").exists()


def test_without_hard_links_the_mirror_writes_atomically_from_then_on(
    tmp_path: Path, store: HookStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on a filesystem without hard links, or spares on another one than `generated/`."""
    links: list[str] = []

    def no_link(src: str, dst: str, **_: object) -> None:
        links.append(dst)
        raise OSError(errno.EXDEV, "Invalid cross-device link", src, None, dst)

    monkeypatch.setattr(os, "link", no_link)
    target, seen = tmp_path / "generated", Seen()

    for content in (V1, V2, V3, V4):
        _save(store, target, seen, content)
        assert (target / "ir.json").read_bytes() == content

    assert len(links) == 1  # tried once, then no more
    assert _listing(target) == ["README.md", "ir.json"]
    assert not [p for p in _spare_files(store) if p.name.endswith(".keep")]


def test_an_unusable_spares_folder_does_not_stop_the_mirror(
    tmp_path: Path, store: HookStore
) -> None:
    _spares_root(store).write_bytes(b"a file where the folder would go")
    target, seen = tmp_path / "generated", Seen()

    for content in (V1, V2, V3):
        _save(store, target, seen, content)
        assert (target / "ir.json").read_bytes() == content

    assert _listing(target) == ["README.md", "ir.json"]


def test_an_idle_spare_is_taken_by_a_path_with_none(tmp_path: Path, store: HookStore) -> None:
    """Under `gen dev`, each save rewrites the files of the entity edited: those of one
    edited before lend their spares, not those of the last save (likely rewritten on
    every save, like ir.json)."""
    target, seen = tmp_path / "generated", Seen()

    def save(a: bytes, b: bytes, c: bytes) -> None:
        files: Files = [("a.py", a, {}), ("b.py", b, {}), ("c.py", c, {})]
        mirror(store, store.commit(files, "save").snapshot.id, target, seen)

    save(b"a1" * 3000, b"b1" * 3000, b"c1" * 3000)
    a1 = os.lstat(target / "a.py").st_ino
    save(b"a2" * 3000, b"b1" * 3000, b"c1" * 3000)  # a.py keeps a1
    save(b"a2" * 3000, b"b2" * 3000, b"c1" * 3000)  # a1 kept by the last save: left
    assert os.lstat(target / "b.py").st_ino != a1
    save(b"a2" * 3000, b"b2" * 3000, b"c2" * 3000)  # idle now: c.py takes it

    assert os.lstat(target / "c.py").st_ino == a1
    assert (target / "c.py").read_bytes() == b"c2" * 3000
    assert (target / "a.py").read_bytes() == b"a2" * 3000


def test_an_idle_spare_of_another_size_is_not_taken(tmp_path: Path, store: HookStore) -> None:
    """Written into, a 400 KB spare would have most of its blocks freed for a 6 KB file."""
    target, seen = tmp_path / "generated", Seen()

    def save(a: bytes, big: bytes) -> None:
        files: Files = [("a.py", a, {}), ("big.json", big, {})]
        mirror(store, store.commit(files, "save").snapshot.id, target, seen)

    save(b"a1" * 3000, V1 * 4)
    g1 = os.lstat(target / "big.json").st_ino
    save(b"a1" * 3000, V2 * 4)  # big.json keeps g1
    for _ in range(3):
        save(b"a1" * 3000, V2 * 4)  # g1 idle
    save(b"a2" * 3000, V2 * 4)

    assert os.lstat(target / "a.py").st_ino != g1
    assert g1 in {os.lstat(p).st_ino for p in _spare_files(store)}
    assert (target / "a.py").read_bytes() == b"a2" * 3000


def test_the_signature_noted_after_a_rewrite_is_the_swapped_in_inodes(
    tmp_path: Path, store: HookStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mirror_module, "_RACY_FINE_NS", -1)  # note even what was just written
    monkeypatch.setattr(mirror_module, "_RACY_NS", -1)
    target, seen = tmp_path / "generated", Seen()
    dest = target / "ir.json"
    for content in (V1, V2, V3):
        _save(store, target, seen, content)
        stat = os.lstat(dest)
        assert seen.files[str(dest)][1:] == (stat.st_size, stat.st_mtime_ns, stat.st_ino)

    # An edit in place, of the same size, is noticed and written back.
    dest.write_bytes(V3.replace(b"three", b"thrEE"))
    os.utime(dest, ns=(2_000_000_000, 2_000_000_000))
    _save(store, target, seen, V3)
    assert dest.read_bytes() == V3


def test_a_process_that_writes_each_path_once_keeps_no_spares(
    tmp_path: Path, store: HookStore
) -> None:
    """`gen generate`: a new `Seen` each run, so nothing is a rewrite."""
    target = tmp_path / "generated"
    for content in (V1, V2, V3):
        _save(store, target, Seen(), content)
        assert (target / "ir.json").read_bytes() == content

    assert not _spares_root(store).exists()


def test_close_removes_the_spares(tmp_path: Path, store: HookStore) -> None:
    target, written = tmp_path / "generated", Written()
    for content in (V1, V2, V3):
        _save(store, target, written.seen, content)
    assert _spare_files(store)

    written.close()

    assert not _spares_root(store).exists()
    assert (target / "ir.json").read_bytes() == V3
    _save(store, target, written.seen, V4)  # a later rewrite makes a spare again
    assert (target / "ir.json").read_bytes() == V4


def test_spares_of_a_process_that_died_are_removed_by_the_next(
    tmp_path: Path, store: HookStore
) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    leftover = _spares_root(store) / f"{int(dead.stdout)}-0badf00d"
    leftover.mkdir(parents=True)
    (leftover / "spare").write_bytes(V1)
    alive = _spares_root(store) / f"{os.getpid()}-0000cafe"
    alive.mkdir()
    target, seen = tmp_path / "generated", Seen()

    for content in (V1, V2):
        _save(store, target, seen, content)

    assert not leftover.exists()
    assert alive.is_dir()


def _other_group() -> int:
    """A group this process can give a folder that is not its own (root: any)."""
    others = [g for g in os.getgroups() if g != os.getgid()]
    if os.geteuid() == 0:
        others.append(os.getgid() + 1)
    if not others:
        pytest.skip("this user has no other group to give a folder")
    return others[0]


def test_files_in_a_folder_that_gives_its_group_keep_it_when_rewritten(
    tmp_path: Path, store: HookStore
) -> None:
    """A setgid folder gives its files its group; a spare, made in the store's folder,
    would not: such a folder's files are written there, as a plain write does."""
    target, seen = tmp_path / "generated", Seen()
    target.mkdir()
    group = _other_group()
    os.chown(target, -1, group)
    os.chmod(target, 0o2775)
    for content in (V1, V2, V3):
        _save(store, target, seen, content)
        assert os.lstat(target / "ir.json").st_gid == group
    assert (target / "ir.json").read_bytes() == V3


def test_files_written_too_recently_to_trust_are_noted_when_quiet_after_a_read(
    tmp_path: Path, store: HookStore
) -> None:
    """A file just written is read by the next mirror (its stat could hide an edit made in
    the same clock tick); `settle`, in a quiet moment, reads it then and notes its stat.
    An edit made before is found, and the next mirror writes the file again."""
    target, seen = tmp_path / "generated", Seen()
    _save(store, target, seen, V1)
    assert not seen.files  # too recent to trust
    (target / "README.md").write_bytes(SMALL.upper())  # same size, by hand
    time.sleep(0.2)  # past the window of a filesystem with fine timestamps

    noted = mirror_module.settle(store, target, seen)

    assert noted == ["ir.json"]
    report = mirror(store, store.get_ref("mirrored").id, target, seen)
    assert report.written == ("README.md",) and (target / "README.md").read_bytes() == SMALL
