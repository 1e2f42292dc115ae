"""The one writer: a set of artifacts becomes one snapshot, then `generated/`.

Nothing reaches the disk unless every generator succeeded (the caller hands
over the complete list). The snapshot commit is atomic; the mirror then
writes only files whose bytes changed and removes stale generated files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from generators.base import Artifact
from hookfs.mirror import MirrorReport, Seen, mirror
from hookfs.store import HookStore, Snapshot

GENERATED_DIR = "generated"


@dataclass(frozen=True)
class WriteReport:
    snapshot: Snapshot
    #: False when the output was identical to the previous snapshot.
    created: bool
    mirror: MirrorReport


def write_snapshot(
    project_dir: Path, artifacts: Sequence[Artifact], message: str, seen: Seen | None = None
) -> WriteReport:
    """`seen`: what this process's earlier mirrors found in `generated/` (hookfs/mirror.py)."""
    with HookStore.open(project_dir) as store:
        result = store.commit(((a.path, a.content, a.headers()) for a in artifacts), message)
        report = mirror(store, result.snapshot.id, project_dir / GENERATED_DIR, seen)
    return WriteReport(snapshot=result.snapshot, created=result.created, mirror=report)
