"""The hook store: generated files kept content-addressed in SQLite, mirrored to disk."""

from __future__ import annotations

from hookfs.mirror import MirrorReport, mirror
from hookfs.store import CommitResult, FileEntry, HookStore, Snapshot, StoreError

__all__ = [
    "CommitResult",
    "FileEntry",
    "HookStore",
    "MirrorReport",
    "Snapshot",
    "StoreError",
    "mirror",
]
