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
from hookfs.mirror import MirrorReport, Seen, mirror, settle
from hookfs.store import HookStore, KnownHashes, NewFile, Snapshot

GENERATED_DIR = "generated"


@dataclass(frozen=True)
class WriteReport:
    snapshot: Snapshot
    #: False when the output was identical to the previous snapshot.
    created: bool
    mirror: MirrorReport


class Written:
    """What one process's writes keep for its next (`gen dev` writes on every save): what
    the mirror found in `generated/`, and the hashes of the bytes it committed."""

    def __init__(self) -> None:
        self.seen = Seen()
        self.hashes = KnownHashes()
        #: Each path's artifact and what was handed to the store for it, last write: an
        #: artifact that is the same (frozen) object is handed over as the same `NewFile`,
        #: its headers not made again (860 files a save at 200 entities, ~10 changed).
        self._files: dict[str, tuple[Artifact, NewFile]] = {}

    def new_files(self, artifacts: Sequence[Artifact]) -> list[NewFile]:
        """`artifacts` as the store takes them (one per artifact: the store refuses a path
        handed over twice)."""
        kept: dict[str, tuple[Artifact, NewFile]] = {}
        files = []
        for artifact in artifacts:
            known = self._files.get(artifact.path)
            if known is None or known[0] is not artifact:
                known = (artifact, _new_file(artifact))
            kept[artifact.path] = known
            files.append(known[1])
        self._files = kept
        return files

    def settle(self, project_dir: Path, store: HookStore) -> list[str]:
        """Note what the last mirror wrote too recently to trust its stat (`mirror.settle`)."""
        return settle(store, project_dir / GENERATED_DIR, self.seen)

    def close(self) -> None:
        """Remove what the mirror kept on disk for rewrites (see `Seen.close`)."""
        self.seen.close()


def write_snapshot(
    project_dir: Path,
    artifacts: Sequence[Artifact],
    message: str,
    written: Written | None = None,
    store: HookStore | None = None,
) -> WriteReport:
    """`written`: what this process's earlier writes kept (see `Written`). `store`: the
    project's store, open (`gen dev` keeps it open); else it is opened for this write."""
    if store is None:
        with HookStore.open(project_dir) as opened:
            return write_snapshot(project_dir, artifacts, message, written, opened)
    written = written or Written()
    result = store.commit(written.new_files(artifacts), message, written.hashes)
    report = mirror(store, result.snapshot.id, project_dir / GENERATED_DIR, written.seen)
    return WriteReport(snapshot=result.snapshot, created=result.created, mirror=report)


def _new_file(artifact: Artifact) -> NewFile:
    return NewFile(artifact.path, artifact.content, artifact.headers(), artifact.parts)
