"""Mirror a snapshot of the hook store to a plain folder for reading and diffing.

The store is the source of truth; the mirror (a project's `generated/`) is a
convenience copy. Mirroring touches only what it wrote before: unchanged files
keep their mtime, stale files go only if the user left them as mirrored, and
files the user added are never touched.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import NamedTuple

from hookfs.store import MIRRORED, HookStore

#: A file modified this recently is not noted as seen (see `_note`): on a filesystem whose
#: timestamps are whole seconds or milliseconds (FAT keeps 2 s), or else one whose clock
#: ticks every jiffy (1 to 10 ms on Linux).
_RACY_NS = 2_000_000_000
_RACY_FINE_NS = 100_000_000
#: What a stat of a path that holds no file fails with (as `Path.is_file` ignores them).
_ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})


@dataclass(frozen=True)
class MirrorReport:
    """What one mirror did, each as sorted relative POSIX paths."""

    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]
    kept: tuple[str, ...]


class _Listed(NamedTuple):
    path: str
    blob: str
    size: int


class Seen:
    """What one process wrote or read in a mirror: path -> (blob, size, mtime, inode).

    A file whose stat is still the one noted holds the noted blob: the next mirror (the
    next save under `gen dev`) need not read it again, as git's index does not.
    """

    def __init__(self) -> None:
        self.files: dict[str, tuple[str, int, int, int]] = {}
        #: The blob this process last wrote or found at each path, even one too recently
        #: changed to be noted in `files`: a path that held another blob is written again
        #: without being read (under `gen dev`, the files a save wrote change on the next).
        self.blobs: dict[str, str] = {}


def mirror(
    store: HookStore, snapshot_id: int, target: Path, seen: Seen | None = None
) -> MirrorReport:
    """Make `target` show snapshot `snapshot_id`, then record it as ref `mirrored`.

    `seen`: what earlier mirrors of this process to `target` found (kept by the caller).
    """
    entries = [_Listed(*row) for row in store.listing(snapshot_id)]
    previous = store.get_ref(MIRRORED)
    old_entries = [_Listed(*row) for row in store.listing(previous.id)] if previous else []
    current = {entry.path for entry in entries}
    stale = [entry for entry in old_entries if entry.path not in current]
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    seen = seen or Seen()

    # Remove first: a stale folder may need to make way for a new file of that name.
    removed, kept = _remove_stale(store, stale, target, seen)
    written, unchanged = _write_current(store, entries, target, seen)
    store.set_ref(MIRRORED, snapshot_id)
    return MirrorReport(
        written=tuple(sorted(written)),
        unchanged=tuple(sorted(unchanged)),
        removed=tuple(sorted(removed)),
        kept=tuple(sorted(kept)),
    )


def _write_current(
    store: HookStore, entries: list[_Listed], target: Path, seen: Seen
) -> tuple[list[str], list[str]]:
    """Write every entry whose bytes differ on disk; return (written, unchanged)."""
    written: list[str] = []
    unchanged: list[str] = []
    folders: set[str] = set()  # made (or found) already during this mirror
    root = os.fspath(target)
    for entry in entries:
        dest = os.path.join(root, entry.path)
        if seen.blobs.get(dest, entry.blob) == entry.blob and _matches(dest, entry, seen, store):
            unchanged.append(entry.path)
            continue
        folder = os.path.dirname(dest)
        if folder not in folders:
            os.makedirs(folder, exist_ok=True)
            folders.add(folder)
        _write_atomic(dest, store.read_blob(entry.blob))
        _note(seen, dest, entry, os.lstat(dest))
        written.append(entry.path)
    return written, unchanged


def _remove_stale(
    store: HookStore, stale: list[_Listed], target: Path, seen: Seen
) -> tuple[list[str], list[str]]:
    """Delete stale files still as mirrored; keep ones the user edited. Return (removed, kept)."""
    removed: list[str] = []
    kept: list[str] = []
    for entry in stale:
        dest = target / entry.path
        if _regular_file_stat(dest) is None:
            continue  # already gone (or replaced by something of the user's): nothing to do
        if not _matches(dest, entry, seen, store):
            kept.append(entry.path)
            continue
        dest.unlink()
        seen.files.pop(os.fspath(dest), None)
        seen.blobs.pop(os.fspath(dest), None)
        removed.append(entry.path)
        _prune_empty_parents(dest.parent, target)
    return removed, kept


def _matches(dest: str | Path, entry: _Listed, seen: Seen, store: HookStore) -> bool:
    """Tell whether `dest` is a regular file holding exactly the entry's bytes."""
    stat = _regular_file_stat(dest)
    # Size first: most changed files differ in size, and stat is cheaper than reading.
    if stat is None or stat.st_size != entry.size:
        return False
    if seen.files.get(os.fspath(dest)) == (entry.blob, *_signature(stat)):
        return True  # as this process left it
    with open(dest, "rb") as handle:
        data = handle.read()
    # A file stored in parts is keyed by its parts' hashes, not its bytes': compared whole.
    same = hashlib.sha256(data).hexdigest() == entry.blob or data == store.read_blob(entry.blob)
    if same:
        _note(seen, dest, entry, stat)
    return same


def _signature(stat: os.stat_result) -> tuple[int, int, int]:
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def _note(seen: Seen, dest: str | Path, entry: _Listed, stat: os.stat_result) -> None:
    seen.blobs[os.fspath(dest)] = entry.blob
    # A file changed within the clock's granularity of now could change again unseen
    # with the same stat (git's "racy" entries): it is read next time instead. Sub-
    # millisecond digits in its time mean a filesystem with fine timestamps.
    racy = _RACY_FINE_NS if stat.st_mtime_ns % 1_000_000 else _RACY_NS
    if time.time_ns() - stat.st_mtime_ns > racy:
        seen.files[os.fspath(dest)] = (entry.blob, *_signature(stat))


def _regular_file_stat(path: str | Path) -> os.stat_result | None:
    """The stat of `path` if it is a regular file, not following a symlink (the user's)."""
    try:
        stat = os.lstat(path)
    except OSError as exc:
        if exc.errno in _ABSENT:
            return None
        raise
    return stat if S_ISREG(stat.st_mode) else None


def _write_atomic(dest: str, data: bytes) -> None:
    """Write `data` to `dest`, whose folder exists, so readers see the old file or the new
    one, never half."""
    folder, name = os.path.split(dest)
    tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
    # os.open with 0o666 lets the umask decide permissions, like a plain write would.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _prune_empty_parents(folder: Path, target: Path) -> None:
    """Remove `folder` and its ancestors below `target` while a removal left them empty."""
    while folder != target and target in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (or not ours to remove): stop climbing
        folder = folder.parent
