"""Mirror a snapshot of the hook store to a plain folder for reading and diffing.

The store is the source of truth; the mirror (a project's `generated/`) is a
convenience copy. Mirroring touches only what it wrote before: unchanged files
keep their mtime, stale files go only if the user left them as mirrored, and
files the user added are never touched.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from hookfs.store import MIRRORED, FileEntry, HookStore


@dataclass(frozen=True)
class MirrorReport:
    """What one mirror did, each as sorted relative POSIX paths."""

    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]
    kept: tuple[str, ...]


def mirror(store: HookStore, snapshot_id: int, target: Path) -> MirrorReport:
    """Make `target` show snapshot `snapshot_id`, then record it as ref `mirrored`."""
    entries = store.files(snapshot_id)
    previous = store.get_ref(MIRRORED)
    old_entries = store.files(previous.id) if previous else []
    current = {entry.path for entry in entries}
    stale = [entry for entry in old_entries if entry.path not in current]
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)

    # Remove first: a stale folder may need to make way for a new file of that name.
    removed, kept = _remove_stale(stale, target)
    written, unchanged = _write_current(store, entries, target)
    store.set_ref(MIRRORED, snapshot_id)
    return MirrorReport(
        written=tuple(sorted(written)),
        unchanged=tuple(sorted(unchanged)),
        removed=tuple(sorted(removed)),
        kept=tuple(sorted(kept)),
    )


def _write_current(
    store: HookStore, entries: list[FileEntry], target: Path
) -> tuple[list[str], list[str]]:
    """Write every entry whose bytes differ on disk; return (written, unchanged)."""
    written: list[str] = []
    unchanged: list[str] = []
    for entry in entries:
        dest = target / entry.path
        if _matches(dest, entry):
            unchanged.append(entry.path)
            continue
        _write_atomic(dest, store.read_blob(entry.blob))
        written.append(entry.path)
    return written, unchanged


def _remove_stale(stale: list[FileEntry], target: Path) -> tuple[list[str], list[str]]:
    """Delete stale files still as mirrored; keep ones the user edited. Return (removed, kept)."""
    removed: list[str] = []
    kept: list[str] = []
    for entry in stale:
        dest = target / entry.path
        if not _is_regular_file(dest):
            continue  # already gone (or replaced by something of the user's): nothing to do
        if not _matches(dest, entry):
            kept.append(entry.path)
            continue
        dest.unlink()
        removed.append(entry.path)
        _prune_empty_parents(dest.parent, target)
    return removed, kept


def _matches(dest: Path, entry: FileEntry) -> bool:
    """Tell whether `dest` is a regular file holding exactly the entry's bytes."""
    if not _is_regular_file(dest):
        return False
    # Size first: most changed files differ in size, and stat is cheaper than reading.
    if dest.stat().st_size != entry.size:
        return False
    return hashlib.sha256(dest.read_bytes()).hexdigest() == entry.blob


def _is_regular_file(path: Path) -> bool:
    """Tell whether `path` is a regular file, not following a symlink (the user's)."""
    return path.is_file() and not path.is_symlink()


def _write_atomic(dest: Path, data: bytes) -> None:
    """Write `data` to `dest` so readers see the old file or the new one, never half."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.tmp")
    # os.open with 0o666 lets the umask decide permissions, like a plain write would.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _prune_empty_parents(folder: Path, target: Path) -> None:
    """Remove `folder` and its ancestors below `target` while a removal left them empty."""
    while folder != target and target in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (or not ours to remove): stop climbing
        folder = folder.parent
