"""`trace.json`: every model element -> the artifacts derived from it, and back.

Read by `gen inspect` and by the in-app inspector; the format is docs/trace.md's.

`gen dev` writes it on every save, so it is made of parts (`Artifact.joined`) that stay
the same objects while what they say does not change, and it says little that a save
changes. A field added to the first entity of a model file moves the model lines of
every entity below it, and the lines of every entity after it in each whole-project file
(`client/types.ts`, `db/tables.py`, `ir.json`...). So lines are relative, as in a source
map: an element's lines in a file made of pieces count from the start of its entity's
piece (`[part, start, end]`), and the file's `parts` table says where each piece starts;
a field's declaration line counts from its entity's, and the table `declared_at` gives
each entity's. An entity that only moved keeps its rows; the tables are renewed.

Each file, or piece of a file, is read once: what it says of each element is kept with
it (`Piece.notes`, `_State`), and the rows made of what did not change are kept too.
"""

from __future__ import annotations

import operator
import zlib
from collections.abc import Callable, Hashable, Iterator, Sequence
from functools import partial
from typing import Any, NamedTuple

from pydantic_core import to_json

from compiler import ir
from compiler.relocate import relocation_between
from generators.base import PROJECT_ORIGIN, Artifact, KeptByBuild, Piece, PiecedArtifact, Region
from hookfs.graph import same_objects

TRACE_PATH = "trace.json"
TRACE_VERSION = 2

_OPEN = b'{\n  "trace_version": %d,\n  "declared_at": {\n    "project": "gen.toml:1"' % (
    TRACE_VERSION
)
_ELEMENTS = b'\n  },\n  "elements": {\n'
_FILES = b'\n  },\n  "files": {\n'
_CLOSE = b"\n  }\n}\n"
_ROWS = b",\n"
#: About one row of `files` in this many ends a part (by its path, so that a file added
#: or removed changes the part it falls in, not the ones after it); and as many rows of
#: `declared_at`, or of a file's `parts`, make a part.
_RUN = 16


# What a file, or a piece of one, says of each element ----------------------------------------

#: Lines, as `start, end, start, end...`, counted from the piece they are in.
Numbers = tuple[int, ...]
#: Fields of one entity and their lines.
FieldLines = tuple[tuple[str, Numbers], ...]


class _Told(NamedTuple):
    """What a file, or a piece of one, says of one owner (an entity, or the project)."""

    #: The owner's own lines; None: the owner itself is not named (only fields of it).
    own: Numbers | None
    #: Its fields named, and their lines.
    fields: FieldLines


#: What a file or piece says, by owner: the entity of each origin (`Invoice` for
#: `Invoice.status`), or `project`.
_Said = dict[str, _Told]


def _said(regions: Sequence[Region], origins: Sequence[str] = ()) -> _Said:
    """What `regions` say of the elements; `origins` are named even without lines."""
    lines: dict[str, list[int]] = {origin: [] for origin in origins}
    for region in regions:
        found = lines.get(region.origin)
        if found is None:
            found = lines[region.origin] = []
        found += (region.start, region.end)
    own: dict[str, Numbers | None] = {}
    fields: dict[str, list[tuple[str, Numbers]]] = {}
    for origin, numbers in lines.items():
        owner, dot, _ = origin.partition(".")
        if dot:
            own.setdefault(owner, None)
            fields.setdefault(owner, []).append((origin, tuple(numbers)))
        else:
            own[owner] = tuple(numbers)
    return {name: _Told(found, tuple(fields.get(name, ()))) for name, found in own.items()}


class _PieceTrace(NamedTuple):
    """What a piece says (`_said`), and its owners as its row of `parts` ends: `,"A"`."""

    said: _Said
    owners: bytes


def _piece_trace(piece: Piece) -> _PieceTrace:
    """Read once per piece: kept with it (`Piece.notes`)."""
    found: _PieceTrace | None = piece.notes.get("trace")
    if found is None:
        said = _said(piece.regions)
        owners = b"".join([b"," + to_json(owner) for owner in said])
        found = piece.notes["trace"] = _PieceTrace(said, owners)
    return found


class _FileTrace(NamedTuple):
    """What a file made in one piece says, and its row of `files`."""

    path: bytes
    said: _Said
    #: Its row of `files`, and whether it ends a part of them (`_FileRow`).
    row: _FileRow
    #: What it adds to each owner's sources: (owner, (path, None, what it says of it)).
    sources: tuple[tuple[str, tuple[bytes, None, _Told]], ...]


def _file_trace(artifact: Artifact, last: _FileTrace | None = None) -> _FileTrace:
    """The file's reading; with the objects of `last` (its last build's) where equal."""
    path = to_json(artifact.path)
    said = _said(artifact.regions, artifact.origins)
    row = ((_row_head(artifact) + b"}",), zlib.crc32(artifact.path.encode()) % _RUN == 0)
    if last is not None:
        path = last.path if last.path == path else path
        said = last.said if last.said == said else said
        row = last.row if last.row == row else row
    if last is not None and last.said is said and last.path is path:
        return _FileTrace(path, said, row, last.sources)
    return _FileTrace(path, said, row, tuple((o, (path, None, t)) for o, t in said.items()))


def _row_head(artifact: Artifact) -> bytes:
    """The file's row of `files` up to its closing brace (and its `parts`)."""
    return b'    %b: {"rule":%b,"reason":%b,"origins":%b' % (
        to_json(artifact.path),
        to_json(artifact.rule),
        to_json(artifact.reason),
        to_json(artifact.origins),
    )


# What is kept from build to build -----------------------------------------------------------


class _State:
    """What trace.json's last build made, for the next (`gen dev`): one object kept by the
    build graph (`same_objects`), holding every file's reading and every row."""

    def __init__(self) -> None:
        #: Files made in one piece, by path: (the artifact, its `_FileTrace`).
        self.files = KeptByBuild()
        #: Files in pieces, by path: (rule, reason, origins, their row head, `_said`).
        self.pieced = KeptByBuild()
        #: Entities, by name: (the entity, its declaration row, its `_Heads`).
        self.entities = KeptByBuild()
        #: Rows of an owner's elements, by name: (heads, sources, rows).
        self.rows = KeptByBuild()
        #: Parts made of runs of rows, by rule and place: (the rows, the part).
        self.runs = KeptByBuild()
        #: Files in pieces, by path: what was read of their pieces (`_PiecesRead`).
        self.pieces = KeptByBuild()

    def end_build(self) -> None:
        for kept in (self.files, self.pieced, self.entities, self.rows, self.runs, self.pieces):
            kept.end_build()

    def file(self, artifact: Artifact) -> _FileTrace:
        """Its reading: the same object while the artifact is, or says the same (a file
        whose content changed mostly has the same row, and often says the same)."""
        found = self.files.get(artifact.path)
        if found is not None and found[0] is artifact:
            return found[1]
        made = _file_trace(artifact, found[1] if found is not None else None)
        self.files.put(artifact.path, (artifact, made))
        return made

    def pieced_file(self, artifact: PiecedArtifact, first: bool) -> tuple[bytes, _Said]:
        """The row head (the first row's, or a later one's) and what the origins name of a
        file in pieces: kept while its rule, reason and origins are equal (its artifact is
        a new object every build)."""
        key = artifact.rule, artifact.reason, artifact.origins
        found = self.pieced.get(artifact.path)
        if found is None or found[0] != key:
            head = _row_head(artifact) + b',"parts":['
            found = (key, (_ROWS + head, head), _said((), artifact.origins))
        self.pieced.put(artifact.path, found)
        return found[1][first], found[2]

    def pieces_read(self, artifact: PiecedArtifact, named: _Said) -> _PiecesRead:
        """What trace.json reads of the file's pieces (`_read_pieces`), brought up to date
        from last build's when the file has the same pieces but a few."""
        pieces, befores = artifact.pieces, artifact.befores
        last: _PiecesRead | None = self.pieces.get(artifact.path)
        read = _read_again(last, pieces, befores, named) if last is not None else None
        if read is None:
            read = _read_pieces(artifact.path, pieces, befores, named)
        self.pieces.put(artifact.path, read)
        return read

    def joined(self, key: Hashable, rows: Sequence[bytes], join: Callable[[], bytes]) -> bytes:
        """`join()` of `rows`, the part made last build while they are the same objects."""
        found = self.runs.get(key)
        if found is None or len(found[0]) != len(rows) or any(map(_other, found[0], rows)):
            found = (tuple(rows), join())
        self.runs.put(key, found)
        return found[1]

    def made_of(self, key: Hashable, values: list[Any], make: Callable[[], bytes]) -> bytes:
        """`make()`, the part made last build while `values` are equal."""
        found = self.runs.get(key)
        if found is None or found[0] != values:
            found = (values, make())
        self.runs.put(key, found)
        return found[1]


def _other(a: object, b: object) -> bool:
    return a is not b


# The rows of elements ------------------------------------------------------------------------


class _Heads(NamedTuple):
    """An owner's row up to its `artifacts` list, and its fields' rows the same."""

    own: bytes
    fields: tuple[tuple[str, bytes], ...]


def _entity_heads(entity: ir.Entity) -> _Heads:
    own = _head(entity.name, {"kind": "entity", "uid": entity.uid})
    fields = []
    for node in entity.fields:
        name = f"{entity.name}.{node.name}"
        element = {
            "kind": "field",
            "uid": node.uid,
            "declared_at": _declared_from(entity.loc, node.loc),
            "origin": node.origin,
        }
        fields.append((name, _head(name, element)))
    return _Heads(own, tuple(fields))


def _declared_from(entity: ir.SourceRef, field: ir.SourceRef) -> str:
    """Where a field is declared, from its entity's line (`+2`): the same while they move
    together; `file:line` when it is in another file."""
    if field.file != entity.file:
        return str(field)
    return f"{field.line - entity.line:+d}"


def _head(name: str, element: dict[str, Any], before: bytes = _ROWS) -> bytes:
    # `{"kind":...,"uid":...}` -> `,\n    "Name": {"kind":...,"uid":...,"artifacts":[`
    return b'%b    %b: %b,"artifacts":[' % (before, to_json(name), to_json(element)[:-1])


_PROJECT_HEADS = _Heads(_head(PROJECT_ORIGIN, {"kind": "project"}, b""), ())


def _rows(heads: _Heads, sources: list[Any]) -> bytes:
    """The owner's row and its fields', from its sources: in each file it is in (in path
    order), the file's path, what its origins name of the owner (or None), and what each
    piece holding lines of the owner says of it (part 0, 1...)."""
    own_entries: list[bytes] = []
    field_entries: dict[str, list[bytes]] = {name: [] for name, _ in heads.fields}
    for path, named, parts in _groups(sources):
        own_named = named is not None and named.own is not None
        own: list[int] = []
        fields: dict[str, list[int]] = {}
        if named is not None:
            for name, _ in named.fields:
                fields[name] = []
        for part, told in enumerate(parts):
            if told.own is not None:
                own_named = True
                _add_spans(own, part, told.own)
            for name, numbers in told.fields:
                found = fields.get(name)
                if found is None:
                    found = fields[name] = []
                _add_spans(found, part, numbers)
        if own_named:
            own_entries.append(_entry(path, own))
        for name, lines in fields.items():
            entries = field_entries.get(name)
            if entries is not None:  # a field the IR does not list is left out
                entries.append(_entry(path, lines))
    rows = [heads.own, b",".join(own_entries), b"]}"]
    for name, head in heads.fields:
        rows += (head, b",".join(field_entries[name]), b"]}")
    return b"".join(rows)


def _groups(sources: list[Any]) -> Iterator[tuple[bytes, _Told | None, list[_Told]]]:
    at = 0
    while at < len(sources):
        path, named = sources[at], sources[at + 1]
        end = at + 2
        while end < len(sources) and type(sources[end]) is not bytes:
            end += 1
        yield path, named, sources[at + 2 : end]
        at = end


def _add_spans(lines: list[int], part: int, numbers: Numbers) -> None:
    for at in range(0, len(numbers), 2):
        lines += (part, numbers[at], numbers[at + 1])


def _entry(path: bytes, lines: list[int]) -> bytes:
    spans = b",".join([b"[%d,%d,%d]" % tuple(lines[at : at + 3]) for at in range(0, len(lines), 3)])
    return b'{"path":%b,"lines":[%b]}' % (path, spans)


# trace.json ---------------------------------------------------------------------------------


def trace_parts(project: ir.Project, artifacts: Sequence[Artifact]) -> list[bytes]:
    """trace.json in parts (docs/trace.md): UTF-8 JSON with one element or file per line.

    Each row is compact JSON from pydantic-core's Rust encoder.
    """
    state: _State = same_objects("trace.state", (), _State)
    try:
        return _trace_parts(state, project, artifacts)
    finally:
        state.end_build()


def _trace_parts(state: _State, project: ir.Project, artifacts: Sequence[Artifact]) -> list[bytes]:
    declared, heads = _entities(state, project)
    sources: dict[str, list[Any]] = {PROJECT_ORIGIN: [], **{name: [] for name in heads}}
    # In path order: each element lists its files in that order.
    files = [_gathered(state, sources, a, at == 0) for at, a in enumerate(artifacts)]
    parts = [_OPEN, *_runs(state, "declared", declared), _ELEMENTS]
    parts.append(_owner_rows(state, PROJECT_ORIGIN, _PROJECT_HEADS, sources[PROJECT_ORIGIN]))
    parts += [_owner_rows(state, name, kept, sources[name]) for name, kept in heads.items()]
    parts.append(_FILES)
    parts += _files_parts(state, files)
    parts.append(_CLOSE)
    return parts


def _entities(state: _State, project: ir.Project) -> tuple[list[bytes], dict[str, _Heads]]:
    """Each entity's row of `declared_at`, and its heads: kept while the entity is the same
    object, or says the same (an entity that moved is a new object)."""
    rows = []
    heads = {}
    for entity in project.entities:
        found = state.entities.get(entity.name)
        if found is None or found[0] is not entity:
            row = b',\n    %b: "%b"' % (to_json(entity.name), str(entity.loc).encode())
            if found is not None and relocation_between(found[0], entity) is not None:
                made = found[2]  # only moved: its fields' lines are relative to it
            else:
                made = _entity_heads(entity)
                if found is not None:  # keep the objects of last build when they say the same
                    made = found[2] if found[2] == made else made
            if found is not None:
                row = found[1] if found[1] == row else row
            found = (entity, row, made)
        state.entities.put(entity.name, found)
        rows.append(found[1])
        heads[entity.name] = found[2]
    return rows, heads


def _owner_rows(state: _State, name: str, heads: _Heads, sources: list[Any]) -> bytes:
    found = state.rows.get(name)
    if found is None or found[0] is not heads or found[1] != sources:
        found = (heads, sources, _rows(heads, sources))
    state.rows.put(name, found)
    return found[2]


#: A file's row of `files` in parts, and whether it ends a run of rows (a file in pieces
#: has parts of its own).
_FileRow = tuple[tuple[bytes, ...], bool]


def _gathered(
    state: _State, sources: dict[str, list[Any]], artifact: Artifact, first: bool
) -> _FileRow:
    """Add what the file says of each owner to its sources; its row of `files`."""
    if isinstance(artifact, PiecedArtifact):
        return _gathered_pieces(state, sources, artifact, first)
    file = state.file(artifact)
    for owner, entry in file.sources:
        found = sources.get(owner)
        if found is not None:  # else not an element of the model (`reframe.session`)
            found += entry
    return file.row


def _gathered_pieces(
    state: _State, sources: dict[str, list[Any]], artifact: PiecedArtifact, first: bool
) -> _FileRow:
    head, named = state.pieced_file(artifact, first)
    read = state.pieces_read(artifact, named)
    for owner, found in read.owners.items():
        into = sources.get(owner)
        if into is not None:
            into += found
    rows = read.rows
    chunks = [rows[at : at + _RUN] for at in range(0, len(rows), _RUN)]
    table = [
        state.made_of(("parts", artifact.path, at), chunk, _table(chunk, at == 0))
        for at, chunk in enumerate(chunks)
    ]
    return (head, *table, b"]}"), True


class _PiecesRead(NamedTuple):
    """What trace.json read of a file in pieces: kept for the next build (`gen dev`), which
    reads again only the pieces that are not the same objects."""

    pieces: tuple[Piece, ...]
    #: What the file's origins name (`_State.pieced_file`).
    named: _Said
    #: Each owner's sources in the file: its path, what the origins name of the owner (or
    #: None), and what each piece of the owner says of it, in order.
    owners: dict[str, list[Any]]
    #: The pieces of each owner, by index.
    indices: dict[str, list[int]]
    #: The pieces that name owners, by index; and their rows of `parts`, `(before, owners)`.
    rowed: list[int]
    rows: list[tuple[int, bytes]]


def _read_pieces(
    path: str, pieces: tuple[Piece, ...], befores: tuple[int, ...], named: _Said
) -> _PiecesRead:
    path_json = to_json(path)
    owners: dict[str, list[Any]] = {owner: [path_json, told] for owner, told in named.items()}
    indices: dict[str, list[int]] = {}
    rowed: list[int] = []
    rows: list[tuple[int, bytes]] = []
    for at, piece in enumerate(pieces):
        read = _piece_trace(piece)
        if not read.owners:
            continue
        rowed.append(at)
        rows.append((befores[at], read.owners))
        for owner, told in read.said.items():
            found = owners.get(owner)
            if found is None:
                found = owners[owner] = [path_json, None]
            found.append(told)
            indices.setdefault(owner, []).append(at)
    return _PiecesRead(pieces, named, owners, indices, rowed, rows)


def _read_again(
    last: _PiecesRead, pieces: tuple[Piece, ...], befores: tuple[int, ...], named: _Said
) -> _PiecesRead | None:
    """`last` brought up to `pieces`: the owners of the pieces that are new read again, the
    rows placed anew; None when a new piece names other owners (read the file again)."""
    if len(pieces) != len(last.pieces) or named is not last.named:
        return None
    changed = [at for at, same in enumerate(map(operator.is_, last.pieces, pieces)) if not same]
    owners = last.owners
    if changed:
        owners = dict(owners)
        touched: set[str] = set()
        for at in changed:
            read, before = _piece_trace(pieces[at]), _piece_trace(last.pieces[at])
            if read.owners != before.owners:
                return None
            touched.update(read.said)
        for owner in touched:
            found = owners[owner][:2]
            found += [_piece_trace(pieces[at]).said[owner] for at in last.indices[owner]]
            owners[owner] = found
    rows = last.rows
    if any(map(operator.ne, map(befores.__getitem__, last.rowed), map(_BEFORE, rows))):
        rows = list(zip(map(befores.__getitem__, last.rowed), map(_OWNERS, rows), strict=True))
    return last._replace(pieces=pieces, owners=owners, rows=rows)


_BEFORE = operator.itemgetter(0)
_OWNERS = operator.itemgetter(1)


def _table(chunk: list[tuple[int, bytes]], first: bool) -> Callable[[], bytes]:
    """Rows of a file's `parts`: `[lines before the piece, owners...]`."""

    def join() -> bytes:
        rows = b",".join([b"[%d%b]" % row for row in chunk])
        return rows if first else b"," + rows

    return join


def _runs(state: _State, rule: str, rows: list[bytes]) -> list[bytes]:
    """`rows` in parts of `_RUN`, each the same object as last build's while its rows are."""
    runs = [rows[at : at + _RUN] for at in range(0, len(rows), _RUN)]
    return [state.joined((rule, at), run, partial(b"".join, run)) for at, run in enumerate(runs)]


def _files_parts(state: _State, files: list[_FileRow]) -> list[bytes]:
    """`files` in parts: runs of rows, each kept while its rows are; a file in pieces's
    row in parts of its own."""
    parts: list[bytes] = []
    run: list[bytes] = []

    def end_run() -> None:
        if run:
            rows, first = tuple(run), not parts
            parts.append(state.joined(("files", rows[0]), rows, lambda: _run(rows, first)))
            run.clear()

    for row, ends_run in files:
        if len(row) > 1:  # a file in pieces
            end_run()
            parts += row
            continue
        run += row
        if ends_run:
            end_run()
    end_run()
    return parts


def _run(rows: tuple[bytes, ...], first: bool) -> bytes:
    return (b"" if first else _ROWS) + _ROWS.join(rows)


def trace_json(project: ir.Project, artifacts: Sequence[Artifact]) -> bytes:
    return b"".join(trace_parts(project, artifacts))


def trace_artifact(project: ir.Project, artifacts: Sequence[Artifact]) -> Artifact:
    return Artifact.joined(
        path=TRACE_PATH,
        parts=trace_parts(project, artifacts),
        origins=(PROJECT_ORIGIN,),
        rule="trace",
        reason="maps every model element to the artifacts and lines derived from it",
    )


# Reading it ---------------------------------------------------------------------------------


def declared_at(trace: dict[str, Any], name: str) -> str:
    """Where an element is declared (`file:line`), from a trace.json of version 2."""
    entity = name.partition(".")[0]
    if name == entity:
        return str(trace["declared_at"][entity])
    said = str(trace["elements"][name]["declared_at"])
    if said[:1] not in "+-":
        return said
    file, _, line = str(trace["declared_at"][entity]).rpartition(":")
    return f"{file}:{int(line) + int(said)}"


def element_artifacts(trace: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """An element's artifacts, each with its rule, reason and lines counted from the file's
    first line: `{"path", "rule", "reason", "lines": [[start, end]]}`."""
    owner = name.partition(".")[0]
    found = []
    for entry in trace["elements"][name]["artifacts"]:
        file = trace["files"][entry["path"]]
        befores = [row[0] for row in file.get("parts", ()) if owner in row[1:]] or [0]
        lines = [
            [befores[part] + start, befores[part] + end] for part, start, end in entry["lines"]
        ]
        found.append(
            {"path": entry["path"], "rule": file["rule"], "reason": file["reason"], "lines": lines}
        )
    return found
