"""A commit under `gen dev` reuses what the last one staged for the same objects
(`KnownHashes`), and is stored and hashed exactly as a commit from nothing would be.

Each test commits with one `KnownHashes` kept across commits, as `gen dev` does, then
reads every file back through a new connection (the file, not the connection's memory)
and compares the listing with a commit of the same files into a new store, with no
`KnownHashes`: the same blobs, sizes, headers and tree.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from hookfs import HookStore, StoreError
from hookfs.store import FileEntry, KnownHashes, NewFile


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HookStore]:
    with HookStore.open(tmp_path / "project") as opened:
        yield opened


def _entities(count: int, tag: str) -> list[bytes]:
    """`count` parts of one file, each a new bytes object (formatted, never interned)."""
    return [b'{"name":"Entity%03d","tag":"%s"},' % (n, tag.encode()) for n in range(count)]


def _whole(path: str, parts: Sequence[bytes], headers: Mapping[str, str] | None = None) -> NewFile:
    """A file in parts, as the writer hands it over: its content is its parts joined."""
    return NewFile(path, b"".join(parts), dict(headers or {"x-rule": "joined"}), tuple(parts))


def _plain(path: str, data: bytes, headers: Mapping[str, str] | None = None) -> NewFile:
    return NewFile(path, data, dict(headers or {"x-rule": "plain"}))


def _listing(project: Path) -> tuple[list[FileEntry], str, dict[str, bytes]]:
    """Head's files, tree and every file's bytes, read through a new connection."""
    with HookStore.open(project) as fresh:
        head = fresh.head()
        assert head is not None
        files = fresh.files(head.id)
        return files, head.tree, {e.path: fresh.read(head.id, e.path) for e in files}


def _as_from_nothing(folder: Path, files: list[NewFile]) -> tuple[list[FileEntry], str]:
    """Head's files and tree after committing `files` into a new store, nothing known."""
    with HookStore.open(folder) as fresh:
        fresh.commit(files, "from nothing")
    files_now, tree, _ = _listing(folder)
    return files_now, tree


def _assert_as_from_nothing(tmp_path: Path, name: str, files: list[NewFile]) -> None:
    """Head of the project's store holds `files`, stored and hashed as from nothing."""
    listed, tree, content = _listing(tmp_path / "project")
    assert content == {new.path: bytes(new.data) for new in files}
    assert (listed, tree) == _as_from_nothing(tmp_path / name, files)


def test_a_replaced_part_is_stored_and_hashed_as_by_a_commit_from_nothing(
    tmp_path: Path, store: HookStore
) -> None:
    hashes = KnownHashes()
    ir = _entities(40, "a")
    trace = _entities(30, "t")
    readme = b"# Project\n"
    store.commit(
        [_whole("ir.json", ir), _whole("trace.json", trace), _plain("README.md", readme)],
        "one",
        hashes,
    )

    ir[7] = b'{"name":"Entity007","tag":"b"},'  # as long as before: lengths are not enough
    ir[9] = bytes(bytearray(ir[9]))  # equal bytes, another object
    ir[12] = b'{"name":"Entity012","tag":"longer"},'
    # New NewFiles and headers, the unchanged files' bytes and parts the same objects.
    files = [
        _whole("ir.json", ir),
        _whole("trace.json", trace),
        _plain("README.md", readme),
        _plain("api/models.py", b"class Entity007: ...\n"),
    ]
    assert store.commit(files, "two", hashes).created

    _assert_as_from_nothing(tmp_path, "fresh", files)


def test_equal_parts_made_again_are_not_hashed_again(store: HookStore) -> None:
    """The build graph may make a part again, equal: compared, not hashed (a save hashes
    what changed, not 400 parts of each file in parts)."""
    hashes = KnownHashes()
    parts = _entities(300, "a")
    store.commit([_whole("ir.json", parts)], "one", hashes)
    parts[5] = bytes(bytearray(parts[5]))  # equal
    parts[6] = b'{"name":"Entity006","tag":"b"},'  # changed
    hashed: list[bytes] = []
    real = hashlib.sha256

    def counting(data: bytes = b"") -> Any:
        hashed.append(bytes(data))
        return real(data)

    hashlib.sha256 = counting  # type: ignore[assignment]
    try:
        store.commit([_whole("ir.json", parts)], "two", hashes)
    finally:
        hashlib.sha256 = real  # type: ignore[assignment]
    # The changed part, the whole (its parts' hashes, tagged), the tree.
    assert len(hashed) == 3 and hashed[0] == parts[6]


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("content that is not bytes", r"README\.md: content must be bytes, not str"),
        ("a part replaced, the content not", r"ir\.json: its parts do not add up"),
        ("the same parts, another content", r"ir\.json: its parts do not add up"),
        ("a part dropped, the content not", r"ir\.json: its parts do not add up"),
        ("a part emptied, the content not", r"ir\.json: its parts do not add up"),
        ("a path out of the project", r"file path must be normalised"),
        ("a file where a folder is", r"'ir\.json' is both a file and the folder"),
    ],
)
def test_a_changed_file_that_breaks_a_rule_is_refused_after_reuse(
    tmp_path: Path, store: HookStore, case: str, error: str
) -> None:
    hashes = KnownHashes()
    parts = _entities(20, "a")
    readme = b"# Project\n"
    files = [_whole("ir.json", parts), _plain("README.md", readme)]
    head = store.commit(files, "one", hashes).snapshot

    longer = b'{"name":"Entity003","tag":"longer"},'
    bad = {
        "content that is not bytes": [files[0], NewFile("README.md", "# Project\n", {})],  # type: ignore[arg-type]
        "a part replaced, the content not": [
            NewFile("ir.json", files[0].data, {}, (*parts[:3], longer, *parts[4:])),
            files[1],
        ],
        "the same parts, another content": [
            NewFile("ir.json", files[0].data + b" ", {}, tuple(parts)),
            files[1],
        ],
        "a part dropped, the content not": [
            NewFile("ir.json", files[0].data, {}, tuple(parts[1:])),
            files[1],
        ],
        "a part emptied, the content not": [
            NewFile("ir.json", files[0].data, {}, (b"", *parts[1:])),
            files[1],
        ],
        "a path out of the project": [*files, _plain("api/../../x.py", b"x")],
        "a file where a folder is": [*files, _plain("ir.json/x.py", b"x")],
    }[case]
    with pytest.raises(StoreError, match=error):
        store.commit(bad, "bad", hashes)

    assert store.head() == head
    assert [s.id for s in store.snapshots()] == [head.id]
    # What the refused commit staged is not taken for the last commit's.
    assert not store.commit(files, "again", hashes).created
    with pytest.raises(StoreError, match=error):
        store.commit(bad, "bad again", hashes)
    assert store.head() == head


def test_new_headers_on_the_same_bytes_make_a_snapshot_with_them(
    tmp_path: Path, store: HookStore
) -> None:
    hashes = KnownHashes()
    parts = _entities(20, "a")
    readme = b"# Project\n"
    whole_headers = {"x-rule": "joined", "x-origins": "Entity000"}
    files = [_whole("ir.json", parts, whole_headers), _plain("README.md", readme)]
    store.commit(files, "one", hashes)

    # The same bytes and parts objects, other headers.
    files = [
        _whole("ir.json", parts, {"x-rule": "joined", "x-origins": "Entity000 Entity001"}),
        _plain("README.md", readme, {"x-rule": "readme"}),
    ]
    assert store.commit(files, "two", hashes).created
    _assert_as_from_nothing(tmp_path, "fresh", files)

    # The mapping handed over, changed in place after its commit: changed still.
    headers = files[1].headers
    assert isinstance(headers, dict)
    headers["x-rule"] = "changed in place"
    assert store.commit(files, "three", hashes).created
    _assert_as_from_nothing(tmp_path, "fresh after in place", files)
    listed, _, _ = _listing(tmp_path / "project")
    assert {e.path: dict(e.headers) for e in listed}["README.md"] == {"x-rule": "changed in place"}


def test_files_moved_to_other_paths_are_stored_and_hashed_as_from_nothing(
    tmp_path: Path, store: HookStore
) -> None:
    hashes = KnownHashes()
    parts = _entities(20, "a")
    readme = b"# Project\n"
    store.commit([_whole("ir.json", parts), _plain("README.md", readme)], "one", hashes)

    files = [_whole("docs/ir.json", parts), _plain("docs/README.md", readme)]
    assert store.commit(files, "moved", hashes).created
    _assert_as_from_nothing(tmp_path, "fresh", files)


def test_the_same_bytes_in_other_parts_are_hashed_as_from_nothing(
    tmp_path: Path, store: HookStore
) -> None:
    """A file in parts is keyed by its parts' hashes: the same content cut otherwise (or
    no longer in parts) is another blob."""
    hashes = KnownHashes()
    parts = _entities(6, "a")
    first = _whole("ir.json", parts)
    store.commit([first], "one", hashes)

    recut = NewFile("ir.json", first.data, first.headers, (parts[0] + parts[1], *parts[2:]))
    assert store.commit([recut], "recut", hashes).created
    _assert_as_from_nothing(tmp_path, "fresh", [recut])

    plain = NewFile("ir.json", first.data, first.headers)
    assert store.commit([plain], "plain", hashes).created
    _assert_as_from_nothing(tmp_path, "fresh plain", [plain])


def test_parts_moved_between_files_are_stored_and_hashed_as_from_nothing(
    tmp_path: Path, store: HookStore
) -> None:
    hashes = KnownHashes()
    ir = _entities(10, "i")
    trace = _entities(10, "t")  # as long as ir's, one for one
    types = _entities(10, "y")
    files = [_whole("ir.json", ir), _whole("trace.json", trace), _whole("types.ts", types)]
    store.commit(files, "one", hashes)

    ir[3], trace[3] = trace[3], ir[3]  # as many parts, in place
    types.insert(5, ir[6])  # one more part, another file's: in two files now
    files = [_whole("ir.json", ir), _whole("trace.json", trace), _whole("types.ts", types)]
    assert store.commit(files, "moved", hashes).created
    _assert_as_from_nothing(tmp_path, "fresh", files)


def test_the_objects_a_commit_knows_by_identity_stay_alive_until_the_next(
    tmp_path: Path, store: HookStore
) -> None:
    """Parts are known by identity: `KnownHashes` keeps the last commit's objects alive, so
    no new object can take the id of one it knows and be taken for it."""
    hashes = KnownHashes()

    def commit(tag: str, parts: list[bytes]) -> tuple[list[NewFile], set[int]]:
        readme = bytes(bytearray(b"# Project, version %s\n" % tag.encode()))
        files = [_whole("ir.json", parts), _plain("README.md", readme)]
        assert store.commit(files, tag, hashes).created
        return files, {id(part) for part in parts} | {id(readme)}

    commit("a", _entities(200, "a" * 40))
    files, known = commit("b", _entities(200, "b" * 40))
    del files  # the test's own references to b's objects
    gc.collect()

    # Objects of the size of b's, kept so that they do not take each other's ids: had b's
    # been freed, the allocator would hand their places out again.
    made = [b'{"name":"Entity%06d","tag":"%s"},' % (n, b"c" * 37) for n in range(20_000)]
    assert not {id(part) for part in made} & known
    files, _ = commit("c", made[:200])
    _assert_as_from_nothing(tmp_path, "fresh", files)


def test_a_commit_after_one_that_found_head_stores_its_new_parts(tmp_path: Path) -> None:
    """`gen dev` starts with a build equal to head: its parts are stored, and the first save
    stores only its new parts. The new ones must be there, read back from the file."""
    ir = _entities(40, "a")
    with HookStore.open(tmp_path / "project") as first:
        first.commit([_whole("ir.json", ir)], "gen generate")
    with HookStore.open(tmp_path / "project") as store:  # a new connection: `gen dev`'s
        hashes = KnownHashes()
        assert not store.commit([_whole("ir.json", ir)], "gen dev starts", hashes).created
        ir[5] = b'{"name":"Entity005","tag":"saved"},'
        files = [_whole("ir.json", ir)]
        assert store.commit(files, "a save", hashes).created
    _assert_as_from_nothing(tmp_path, "fresh", files)
