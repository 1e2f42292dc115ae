"""Mirror a snapshot of the hook store to a plain folder for reading and diffing.

The store is the source of truth; the mirror (a project's `generated/`) is a
convenience copy. Mirroring touches only what it wrote before: unchanged files
keep their mtime, stale files go only if the user left them as mirrored, and
files the user added are never touched.

Every write replaces a file whole, so a reader that opens it sees the old file or the
new one, never half. A file this process wrote before (`gen dev` rewrites a few on
every save) is written into a spare: an earlier version's inode, kept in a folder of
the store's (`Spares`), then swapped in; the version it replaces becomes the next
spare. Writing over an existing file is what is cheap: making a file and freeing
another took 4 ms for 3.8 MB on ext4 mounted with `discard`, the spare's way 0.2 ms.
What that gives up: a reader that keeps a file open across two rewrites may read the
second one being written (its inode was the spare); after a power cut (not a crash
of the process) a rewritten file may hold parts of two versions, as nothing is
synced to the disk. Neither lasts: the store is the source of truth, and the next
mirror of a new process compares every file's bytes and writes what differs.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import shutil
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
#: What a link or rename fails with where spares cannot work: another filesystem than the
#: mirror's, or one without hard links (or with a cap on them).
_NO_SPARES = frozenset(
    {errno.EXDEV, errno.EPERM, errno.EACCES, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK}
    | {errno.ENOSYS, errno.EROFS}
)
#: The folder next to the store that holds each process's spares.
SPARES_DIR = "spares"
#: A symlink where a spare should be is not ours to write through (Windows has no flag).
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


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
        #: Where this process's rewrites keep their spares: set by the first mirror.
        self.spares: Spares | None = None

    def close(self) -> None:
        """Remove the spares this process kept (a cache: the next rewrite makes a new one)."""
        if self.spares is not None:
            self.spares.remove()


class Spares:
    """Inodes of earlier versions, kept to write a path's next version into.

    A path's old version becomes its spare; a path that has none takes an idle one of
    about its size (under `gen dev`, each save rewrites the files of the entity edited,
    once). Each `Seen` has its own folder (`<store folder>/spares/<pid>-<random>`): a
    spare is written in place, so two processes must never share one. A process that
    died without `close` leaves its folder; the next to make one removes it.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / f"{os.getpid()}-{secrets.token_hex(4)}"
        #: False once a link or rename showed the filesystem cannot keep spares.
        self.usable = True
        #: Mirrors so far, to tell idle spares from those of files rewritten every save.
        self.mirrors = 0
        #: Path -> (its spare's size, the mirror that kept it), least recently kept first.
        self.kept: dict[str, tuple[int, int]] = {}

    def names(self, dest: str) -> tuple[str, str]:
        """The spare of `dest`, and the name its old version is linked to while swapped."""
        name = hashlib.sha256(os.fsencode(dest)).hexdigest()[:32]
        folder = os.fspath(self.folder)
        return os.path.join(folder, name), os.path.join(folder, f"{name}.keep")

    def take(self, dest: str, size: int) -> str:
        """The spare to write `size` bytes for `dest` into: its own, else an idle one of
        about that size (few blocks to allocate or free), else a name to make one at."""
        if self.kept.pop(dest, None) is None:
            for other, (spare_size, made) in self.kept.items():
                # One kept by this mirror or the last is likely of a file rewritten on
                # every save: left to it.
                if made < self.mirrors - 1 and _similar(size, spare_size):
                    del self.kept[other]
                    return self.names(other)[0]
        return self.names(dest)[0]

    def make_folder(self) -> None:
        if self.folder.is_dir():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        _remove_dead_owners(self.root, self.folder)

    def remove(self) -> None:
        self.kept.clear()
        shutil.rmtree(self.folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.root.rmdir()  # only if no other process keeps spares


def _similar(size: int, other: int) -> bool:
    """Within a factor of two, counting at least a block (4 KB on most filesystems)."""
    small, large = sorted((max(size, 4096), max(other, 4096)))
    return large <= 2 * small


def _remove_dead_owners(root: Path, ours: Path) -> None:
    """Remove spares folders whose process is gone (killed before it could close)."""
    if os.name != "posix":
        return  # os.kill(pid, 0) would end the process on Windows, not ask about it
    for folder in root.iterdir():
        pid, _, _ = folder.name.partition("-")
        if folder != ours and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True  # exists, but another user's (or no pid: left alone)
    return True


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
    if seen.spares is None:
        seen.spares = Spares(Path(store.path).parent / SPARES_DIR)
    seen.spares.mirrors += 1

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


def settle(store: HookStore, target: Path, seen: Seen) -> list[str]:
    """Note the stat of the files the last mirror wrote too recently to trust it (`_note`),
    once they are old enough, reading each to be sure it is as written: for a quiet moment
    of `gen dev`, so that the next save's mirror need not read them (after a start that
    wrote every file, 11 MB at 200 entities). Returns the paths noted."""
    mirrored = store.get_ref(MIRRORED)
    if mirrored is None:
        return []
    root = os.fspath(target)
    noted = []
    for entry in map(_Listed._make, store.listing(mirrored.id)):
        dest = os.path.join(root, entry.path)
        if dest in seen.files or seen.blobs.get(dest) != entry.blob:
            continue  # noted already; or not this process's (the next mirror reads it)
        stat = _regular_file_stat(dest)
        if stat is None or _racy(stat):
            continue  # gone (the next mirror writes it), or still too recent
        if _matches(dest, entry, seen, store):
            noted.append(entry.path)
    return noted


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
        # Before `_matches`, which notes a file it finds: known before, this is a rewrite.
        known = seen.blobs.get(dest)
        rewrite = known is not None
        if (known is None or known == entry.blob) and _matches(dest, entry, seen, store):
            unchanged.append(entry.path)
            continue
        folder = os.path.dirname(dest)
        if folder not in folders:
            os.makedirs(folder, exist_ok=True)
            folders.add(folder)
        data = store.read_blob(entry.blob)
        if rewrite and seen.spares is not None and seen.spares.usable:
            _write_through_spare(dest, data, seen.spares)
        else:
            _write_atomic(dest, data)
        # Taken after the write: a spare swapped in brought its own inode.
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


def _as_noted(dest: str, entry: _Listed, seen: Seen) -> bool:
    """Whether `dest` is the regular file this process noted with the entry's blob, stat
    for stat (`_matches`'s first answer, in one stat: `gen dev` asks for 860 files a save;
    the fields compared one by one, as `_signature` orders them)."""
    noted = seen.files.get(dest)
    if noted is None or noted[0] != entry.blob:
        return False
    try:
        stat = os.lstat(dest)
    except OSError:
        return False
    return (
        S_ISREG(stat.st_mode)
        and noted[1] == stat.st_size
        and noted[2] == stat.st_mtime_ns
        and noted[3] == stat.st_ino
    )


def _matches(dest: str | Path, entry: _Listed, seen: Seen, store: HookStore) -> bool:
    """Tell whether `dest` is a regular file holding exactly the entry's bytes."""
    if _as_noted(os.fspath(dest), entry, seen):
        return True  # as this process left it
    stat = _regular_file_stat(dest)
    # Size first: most changed files differ in size, and stat is cheaper than reading.
    if stat is None or stat.st_size != entry.size:
        return False
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
    # with the same stat (git's "racy" entries): it is read next time instead.
    if not _racy(stat):
        seen.files[os.fspath(dest)] = (entry.blob, *_signature(stat))
    else:  # nor may an earlier version's stand: spares bring earlier inodes back
        seen.files.pop(os.fspath(dest), None)


def _racy(stat: os.stat_result) -> bool:
    """Whether the file changed within its filesystem's clock granularity of now (sub-
    millisecond digits in its time mean a filesystem with fine timestamps)."""
    racy = _RACY_FINE_NS if stat.st_mtime_ns % 1_000_000 else _RACY_NS
    return time.time_ns() - stat.st_mtime_ns <= racy


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
    one, never half: a new file, renamed over `dest`."""
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


def _write_through_spare(dest: str, data: bytes, spares: Spares) -> None:
    """Write `data` to `dest` like `_write_atomic`, into a spare (made if there is none),
    and keep `dest`'s inode as its next spare unless something else links to it. Where
    spares cannot work, write atomically, and from then on without them."""
    old = _regular_file_stat(dest)
    if old is None:
        _write_atomic(dest, data)  # nothing of ours there to keep (gone, or the user's)
        return
    spare = spares.take(dest, len(data))
    own, keep = spares.names(dest)
    try:
        made = _fill_spare(spare, data, spares)
        if made[2] != old.st_gid:
            # A folder that gives its files its group (setgid): a spare, made elsewhere,
            # would not carry it. Written as the folder makes files, from now on.
            spares.usable = False
            _write_atomic(dest, data)
            return
        # Another name (a user's hard link) or another owner: that inode is not ours to
        # write over later; nor one whose mode differs from a new file's.
        keeping = old.st_nlink == 1 and (old.st_mode, old.st_uid) == made[:2]
        if keeping:
            _link_replacing(dest, keep)  # holds the old inode through the swap
        os.replace(spare, dest)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(keep)  # a second name of `dest`'s inode, if the link was made
        if exc.errno in _NO_SPARES:
            spares.usable = False
        _write_atomic(dest, data)
        return
    if keeping:
        with contextlib.suppress(OSError):  # `dest` is written: a spare less costs time only
            os.replace(keep, own)
            spares.kept[dest] = (old.st_size, spares.mirrors)


def _fill_spare(spare: str, data: bytes, spares: Spares) -> tuple[int, int, int]:
    """Write `data` over the spare, made if missing or unfit; return its mode, uid, gid."""
    # 0o666 lets the umask decide a new spare's permissions, like a plain write would.
    flags = os.O_RDWR | os.O_CREAT | _NOFOLLOW
    try:
        fd = os.open(spare, flags, 0o666)
    except FileNotFoundError:
        spares.make_folder()
        fd = os.open(spare, flags, 0o666)
    stat = os.fstat(fd)
    if stat.st_nlink != 1 or not S_ISREG(stat.st_mode):
        # Linked to since it was kept: never written over (the other name stays as is).
        os.close(fd)
        os.unlink(spare)
        fd = os.open(spare, flags | os.O_EXCL, 0o666)
    with os.fdopen(fd, "r+b") as handle:
        handle.write(data)
        handle.truncate()  # a longer earlier version's tail
        stat = os.fstat(handle.fileno())
    return stat.st_mode, stat.st_uid, stat.st_gid


def _link_replacing(source: str, link: str) -> None:
    """Hard-link `link` to `source`, replacing a `link` a crash left."""
    try:
        os.link(source, link, follow_symlinks=False)
    except FileExistsError:
        os.unlink(link)
        os.link(source, link, follow_symlinks=False)


def _prune_empty_parents(folder: Path, target: Path) -> None:
    """Remove `folder` and its ancestors below `target` while a removal left them empty."""
    while folder != target and target in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (or not ours to remove): stop climbing
        folder = folder.parent
