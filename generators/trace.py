"""`trace.json`: every model element -> the artifacts derived from it, and back.

Read by `gen inspect` and, later, by the in-app inspector.

`gen dev` writes it on every save, so it is made of parts (`Artifact.joined`) that
stay the same objects while what they say does not change: the row of each
entity, the rows of its fields, runs of rows of `files`. A file made of pieces
(`PiecedArtifact`: `ir.json`, `db/tables.py`...) is read piece by piece, once per
piece, its lines counted from where the piece starts: a piece that only moved
(lines were added above it) is not read again, only its line numbers are moved.

Lines move on most saves: a field added to one table moves every foreign key and
index of `schema.postgres.sql` (they follow all the tables), and with them the rows
of most fields. So the rows of fields are laid out once as `%d` templates, and
filled with the lines of the day.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from itertools import chain
from typing import Any, Literal, NamedTuple

from pydantic_core import to_json

from compiler import ir
from generators.base import PROJECT_ORIGIN, Artifact, Region
from hookfs.graph import incremental, same_objects

TRACE_PATH = "trace.json"
TRACE_VERSION = 1

_OPEN = b'{\n  "trace_version": %d,\n  "elements": {\n' % TRACE_VERSION
_FILES = b'\n  },\n  "files": '
_ROWS = b",\n"
#: About one row of `files` in this many ends a part (by its path, so that a file added
#: or removed changes the part it falls in, not the ones after it).
_RUN = 16
#: Where a row of `files` sits in its part: parts of its own (a pieced file's), the last
#: of a run, or not.
Run = Literal["alone", "last", "more"]
#: Pieces whose regions make one part of their file's row of `files`.
_CHUNK = 16


# Files in pieces ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Piece:
    """A part of a file, and the regions of its lines (line 1: the line it starts on).

    Compared by identity: what is made of a piece is kept while it is the same object.
    """

    content: bytes
    regions: tuple[Region, ...] = ()
    #: Newlines in `content`.
    lines: int = field(init=False)
    #: Where it landed last (`landed_at`).
    _landed: Placed | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", self.content.count(b"\n"))

    def landed_at(self, before: int) -> Placed:
        """The piece after `before` lines of its file. While it lands where it did (`gen dev`
        keeps the pieces of what did not change), it is the same `Placed` as last time:
        its regions are not made again, nor are trace.json's rows that read them."""
        landed = self._landed
        if landed is None or landed.before != before:
            regions = tuple(
                [Region(r.start + before, r.end + before, r.origin) for r in self.regions]
            )
            landed = Placed(self, before, regions)
            object.__setattr__(self, "_landed", landed)
        return landed

    @cached_property
    def said(self) -> _Said:
        """What its regions say of the elements, for trace.json (which reads it every build
        the piece is kept)."""
        return _said(self.regions)

    @cached_property
    def regions_template(self) -> tuple[bytes, Numbers]:
        """Its regions as trace.json's `files` lists them (`_regions_json`), `%d` for each
        line; and those lines."""
        numbers = tuple(chain.from_iterable((r.start, r.end) for r in self.regions))
        items = [b"[%%d,%%d,%b]" % _escaped(to_json(r.origin)) for r in self.regions]
        return b",".join(items), numbers


@dataclass(frozen=True, eq=False)
class Placed:
    """A piece where it landed in its file: after `before` lines; its regions counted from
    the file's first line."""

    piece: Piece
    before: int
    regions: tuple[Region, ...]

    @cached_property
    def regions_json(self) -> bytes:
        """Its regions as trace.json's `files` lists them, without the brackets (written
        once: a piece that did not move keeps its `Placed`)."""
        template, numbers = self.piece.regions_template
        return template % tuple(_moved(numbers, self))


#: Where what a whole file says, or names, is: from its start.
_START = Placed(Piece(b""), 0, ())


@dataclass(frozen=True)
class PiecedArtifact(Artifact):
    """An artifact made of pieces, each placed after the ones before it (`pieced`)."""

    placed: tuple[Placed, ...] = field(default=(), compare=False, repr=False)


def pieced(
    path: str,
    pieces: Sequence[Piece],
    origins: tuple[str, ...],
    rule: str,
    reason: str,
    per_part: int = 1,
) -> PiecedArtifact:
    """The artifact of `pieces` joined, with their regions where they landed.

    Its parts (`Artifact.parts`) are runs of `per_part` pieces: about one per entity
    where an entity has several small pieces (schema.postgres.sql has four).
    """
    placed: list[Placed] = []
    before = 0
    for piece in pieces:
        placed.append(piece.landed_at(before))
        before += piece.lines
    parts = joined_runs([p.content for p in pieces], per_part)
    regions = tuple(chain.from_iterable(p.regions for p in placed))
    return PiecedArtifact(
        path, b"".join(parts), origins, rule, reason, regions, parts, placed=tuple(placed)
    )


def joined_runs(parts: Sequence[bytes], per_run: int) -> tuple[bytes, ...]:
    """`parts` joined `per_run` at a time: a run of the same objects as last build is the
    same object (`gen dev`)."""
    if per_run == 1:
        return tuple(parts)
    runs = [tuple(parts[at : at + per_run]) for at in range(0, len(parts), per_run)]
    return tuple(same_objects("joined", run, partial(b"".join, run)) for run in runs)


# What a file, or a piece of one, says of each element ----------------------------------------

#: Lines, as `start, end, start, end...`: where a piece landed is added to them.
Numbers = tuple[int, ...]
#: Fields of one entity and their lines.
FieldLines = tuple[tuple[str, Numbers], ...]


class _Said(NamedTuple):
    """Where a file, or a piece of one, has each element: lines counted from where the
    piece landed (a whole file: from its start)."""

    #: The project's lines, if it names the project.
    project: Numbers | None
    #: Of each entity: its own lines (None: it is not named), and its fields'.
    entities: tuple[tuple[str, Numbers | None, FieldLines], ...]


def _said(regions: Sequence[Region], origins: Sequence[str] = ()) -> _Said:
    """What `regions` say of the elements; `origins` are named even without lines."""
    lines: dict[str, list[int]] = {origin: [] for origin in origins}
    for region in regions:
        found = lines.get(region.origin)
        if found is None:
            found = lines[region.origin] = []
        found += (region.start, region.end)
    project = lines.pop(PROJECT_ORIGIN, None)
    own: dict[str, Numbers | None] = {}
    fields: dict[str, list[tuple[str, Numbers]]] = {}
    for origin, numbers in lines.items():
        entity, dot, _ = origin.partition(".")
        if dot:
            own.setdefault(entity, None)
            fields.setdefault(entity, []).append((origin, tuple(numbers)))
        else:
            own[entity] = tuple(numbers)
    entities = tuple((name, found, tuple(fields.get(name, ()))) for name, found in own.items())
    return _Said(None if project is None else tuple(project), entities)


def _regions_json(regions: Sequence[Region]) -> bytes:
    """Regions as `files` lists them, without the brackets: `[1,2,"A"],[3,4,"B"]`."""
    return to_json([(r.start, r.end, r.origin) for r in regions])[1:-1]


def _escaped(text: bytes) -> bytes:
    """`text` inside a `%` template."""
    return text.replace(b"%", b"%%")


#: `[%d,%d],[%d,%d]...`: an element's lines in one file, by their number of spans.
_SPANS = tuple(b",".join([b"[%d,%d]"] * count) for count in range(32))


def _spans(numbers: Numbers) -> bytes:
    """The template of an element's lines in one file."""
    count = len(numbers) // 2
    return _SPANS[count] if count < len(_SPANS) else b",".join([b"[%d,%d]"] * count)


def _moved(numbers: Numbers, placed: Placed) -> Numbers | list[int]:
    """Lines of a piece counted from the start of the file it landed in."""
    before = placed.before
    return [n + before for n in numbers] if before else numbers


class _Template(NamedTuple):
    """Rows (or regions) with `%d` for each line, the lines counted from where their source
    landed."""

    text: bytes
    numbers: Numbers
    #: The source of each number: where it landed is added to it (`_filled`).
    sources: tuple[int, ...]


def _template(text: bytes, recipe: Sequence[tuple[int, Numbers]]) -> _Template:
    """`text`, its lines the numbers of each `(source, numbers)` of `recipe` in turn."""
    numbers: list[int] = []
    sources: list[int] = []
    for source, found in recipe:
        numbers += found
        sources += [source] * len(found)
    return _Template(text, tuple(numbers), tuple(sources))


def _filled(template: _Template, befores: Sequence[int]) -> bytes:
    """The template's text with its lines, each moved by where its source landed."""
    if not any(befores):
        return template.text % template.numbers
    moved = [n + befores[s] for n, s in zip(template.numbers, template.sources, strict=True)]
    return template.text % tuple(moved)


class _Prefix(NamedTuple):
    """An element's entry for a file, up to its lines; and the same in a `%` template."""

    text: bytes
    template: bytes


def _prefix(path: str, rule: str, reason: str) -> _Prefix:
    text = b'{"path":%b,"rule":%b,"reason":%b,"lines":[' % (
        to_json(path),
        to_json(rule),
        to_json(reason),
    )
    return _Prefix(text, _escaped(text))


@incremental("trace.prefix")
def _kept_prefix(project: ir.Project, path: str, rule: str, reason: str) -> _Prefix:
    """`_prefix` of a file in pieces (a new object every build): the same object while its
    path, rule and reason are, so that the rows holding it are kept."""
    return _prefix(path, rule, reason)


# Files --------------------------------------------------------------------------------------


class _File(NamedTuple):
    """What a file made in one piece says: its row of `files` and its elements' entries."""

    row: bytes
    #: Where its row sits among the parts of `files`.
    run: Run
    prefix: _Prefix
    #: The project's entry, if it names the project.
    project: bytes | None
    #: Of each entity: its own entry (None: it is not named), and its fields' lines.
    entities: tuple[tuple[str, bytes | None, FieldLines], ...]


def _file(artifact: Artifact) -> _File:
    said = _said(artifact.regions, artifact.origins)
    row = _row(artifact) + _regions_json(artifact.regions) + b"]}"
    run: Run = "last" if zlib.crc32(artifact.path.encode()) % _RUN == 0 else "more"
    prefix = _prefix(artifact.path, artifact.rule, artifact.reason)

    def entry(numbers: Numbers | None) -> bytes | None:
        return None if numbers is None else prefix.text + _spans(numbers) % numbers + b"]}"

    entities = tuple((name, entry(own), fields) for name, own, fields in said.entities)
    return _File(row, run, prefix, entry(said.project), entities)


def _row(artifact: Artifact) -> bytes:
    """The file's row of `files`, up to its regions."""
    return b'    %b: {"rule":%b,"reason":%b,"origins":%b,"regions":[' % (
        to_json(artifact.path),
        to_json(artifact.rule),
        to_json(artifact.reason),
        to_json(artifact.origins),
    )


def _pieced_row(artifact: PiecedArtifact) -> tuple[bytes, ...]:
    """The file's row of `files` in parts: each piece's regions where it landed, a part
    for every `_CHUNK` pieces, kept while they neither changed nor moved."""
    placed = artifact.placed
    first = next((at for at, p in enumerate(placed) if p.regions_json), len(placed))
    head = _row(artifact) + (placed[first].regions_json if first < len(placed) else b"")
    chunks = [placed[at : at + _CHUNK] for at in range(first + 1, len(placed), _CHUNK)]
    parts = [same_objects("trace.regions", chunk, partial(_chunk, chunk)) for chunk in chunks]
    return (head, *[part for part in parts if part], b"]}")


def _chunk(placed: Sequence[Placed]) -> bytes:
    return b"".join([b"," + p.regions_json for p in placed if p.regions_json])


# The rows of elements ------------------------------------------------------------------------


class _Heads:
    """An entity's row and its fields' rows up to their `artifacts` lists (the fields' in
    a `%` template); and the rows last made of them, with what they were made of.

    Kept between builds with the entity (`gen dev`), so that rows made of what the last
    build's were made of are the same objects (a file that is a new object every build,
    such as client/types.ts, mostly says the same again).
    """

    __slots__ = ("entity", "entity_row", "field_rows", "fields")

    def __init__(self, entity: bytes, fields: tuple[tuple[str, bytes], ...]) -> None:
        self.entity = entity
        self.fields = fields
        self.entity_row: tuple[list[Any], bytes] | None = None
        self.field_rows: tuple[list[Any], bytes] | None = None


def _entity_heads(entity: ir.Entity) -> _Heads:
    own = {"kind": "entity", "uid": entity.uid, "declared_at": str(entity.loc)}
    fields = []
    for node in entity.fields:
        element = {
            "kind": "field",
            "uid": node.uid,
            "declared_at": str(node.loc),
            "origin": node.origin,
        }
        name = f"{entity.name}.{node.name}"
        fields.append((name, _escaped(_head(name, element))))
    return _Heads(_head(entity.name, own), tuple(fields))


def _head(name: str, element: dict[str, Any], before: bytes = _ROWS) -> bytes:
    # `{"kind":...,"declared_at":...}` -> `,\n    "Name": {"kind":...,"artifacts":[`
    return b'%b    %b: %b,"artifacts":[' % (before, to_json(name), to_json(element)[:-1])


#: The first row, the project's, opens the file.
_PROJECT_HEAD = _head(PROJECT_ORIGIN, {"kind": "project", "declared_at": "gen.toml:1"}, _OPEN)


class _Sources:
    """What the files say of one entity's elements (or the project's), in file order, as
    triples: a file's entry, None, None; or for a piece, its file's prefix, its lines and
    where it landed (a file's pieces are consecutive)."""

    __slots__ = ("entity", "fields")

    def __init__(self) -> None:
        self.entity: list[Any] = []
        self.fields: list[Any] = []


def _entity_row(heads: _Heads, sources: list[Any]) -> bytes:
    """The entity's row: the one last made while its sources are equal."""
    last = heads.entity_row
    if last is None or last[0] != sources:
        last = heads.entity_row = (sources, _element_row(heads.entity, sources))
    return last[1]


def _element_row(head: bytes, sources: list[Any]) -> bytes:
    entries = []
    at = 0
    while at < len(sources):
        first = sources[at]
        if sources[at + 1] is None:  # a file's entry
            entries.append(first)
            at += 3
            continue
        spans: list[bytes] = []
        numbers: list[int] = []
        while at < len(sources) and sources[at] is first:  # the pieces of a file
            spans.append(_spans(sources[at + 1]))
            numbers += _moved(sources[at + 1], sources[at + 2])
            at += 3
        text = b",".join([s for s in spans if s]) % tuple(numbers)
        entries.append(first.text + text + b"]}")
    return head + b",".join(entries) + b"]}"


def _field_rows(heads: _Heads, sources: list[Any]) -> bytes:
    """The rows of an entity's fields, from `prefix, fields' lines, placed` triples: the
    ones last made while they are equal; else filled again, laid out again only when what
    they say changed (not where)."""
    last = heads.field_rows
    if last is None or last[0] != sources:
        said = (heads.fields, *[sources[at] for at in range(len(sources)) if at % 3 != 2])
        layout = partial(_fields_template, heads.fields, sources)
        template = same_objects("trace.fields.template", said, layout)
        rows = _filled(template, [sources[at].before for at in range(2, len(sources), 3)])
        last = heads.field_rows = (sources, rows)
    return last[1]


def _fields_template(heads: tuple[tuple[str, bytes], ...], sources: Sequence[Any]) -> _Template:
    by_field: dict[str, list[tuple[bytes, int, Numbers]]] = {name: [] for name, _ in heads}
    for at in range(0, len(sources), 3):
        prefix = sources[at]
        for name, numbers in sources[at + 1]:
            found = by_field.get(name)
            if found is not None:
                found.append((prefix, at // 3, numbers))
    rows = []
    recipe: list[tuple[int, Numbers]] = []
    for name, head in heads:
        entries = []
        current: bytes | None = None
        spans: list[bytes] = []
        for prefix, source, numbers in by_field[name]:  # one entry per file
            if prefix is not current:
                if current is not None:
                    entries.append(current + b",".join(spans) + b"]}")
                current, spans = prefix, []
            if numbers:
                spans.append(_spans(numbers))
                recipe.append((source, numbers))
        if current is not None:
            entries.append(current + b",".join(spans) + b"]}")
        rows.append(head + b",".join(entries) + b"]}")
    return _template(b"".join(rows), recipe)


# trace.json ---------------------------------------------------------------------------------


def trace_parts(project: ir.Project, artifacts: Sequence[Artifact]) -> list[bytes]:
    """trace.json in parts: UTF-8 JSON with one element or file per line.

    {"trace_version": 1, "elements": {name: {kind, uid, declared_at, origin,
    artifacts: [{path, rule, reason, lines}]}}, "files": {path: {rule, reason,
    origins, regions: [[start, end, origin]]}}}. Each row is compact JSON from
    pydantic-core's Rust encoder. What a file says is read once per file, or per piece
    of a file in pieces; a piece's lines are moved to where it landed.
    """
    heads = {
        e.name: same_objects("trace.elements", (e,), partial(_entity_heads, e))
        for e in project.entities
    }
    sources = {name: _Sources() for name in heads}
    of_project: list[Any] = []
    files: list[tuple[tuple[bytes, ...], Run]] = []
    for artifact in artifacts:  # in path order: each element lists them in that order
        if isinstance(artifact, PiecedArtifact):
            prefix = _kept_prefix(project, artifact.path, artifact.rule, artifact.reason)
            files.append((_pieced_row(artifact), "alone"))
            _gather_pieces(sources, of_project, prefix, artifact)
        else:
            found = same_objects("trace.file", (artifact,), partial(_file, artifact))
            files.append(((found.row,), found.run))
            _gather_file(sources, of_project, found)
    rows = [_element_row(_PROJECT_HEAD, of_project)]
    for name, kept in heads.items():  # a part for each entity: its row and its fields'
        its = sources[name]
        own = _entity_row(kept, its.entity)
        rows += joined_runs([own, _field_rows(kept, its.fields)] if kept.fields else [own], 2)
    return [*rows, *_files_parts(files)]


def _gather_file(sources: dict[str, _Sources], of_project: list[Any], file: _File) -> None:
    if file.project is not None:
        of_project += (file.project, None, None)
    for name, entry, fields in file.entities:
        found = sources.get(name)
        if found is None:  # not an entity of the model (`reframe.session`)
            continue
        if entry is not None:
            found.entity += (entry, None, None)
        if fields:
            found.fields += (file.prefix.template, fields, _START)


def _gather_pieces(
    sources: dict[str, _Sources], of_project: list[Any], prefix: _Prefix, artifact: PiecedArtifact
) -> None:
    """What each piece says, where it landed; the file's origins first (they have an
    entry each, lines or not)."""
    named = (_said((), artifact.origins), _START)
    for what, placed in chain([named], ((p.piece.said, p) for p in artifact.placed)):
        if what.project is not None:
            of_project += (prefix, what.project, placed)
        for name, numbers, fields in what.entities:
            found = sources.get(name)
            if found is None:
                continue
            if numbers is not None:
                found.entity += (prefix, numbers, placed)
            if fields:
                found.fields += (prefix.template, fields, placed)


def _files_parts(files: list[tuple[tuple[bytes, ...], Run]]) -> list[bytes]:
    """`files` in parts: runs of rows, each kept while its rows are; a pieced file's row
    in parts of its own."""
    if not files:
        return [_FILES + b"{}\n}\n"]
    parts: list[bytes] = []
    run: list[bytes] = []

    def end_run() -> None:
        if run:
            first = not parts
            rule = "trace.first_rows" if first else "trace.rows"
            parts.append(same_objects(rule, tuple(run), partial(_run, list(run), first)))
            run.clear()

    for row, where in files:
        if where == "alone":
            end_run()
            head, *rest = row
            parts += [(_ROWS if parts else _FILES + b"{\n") + head, *rest]
            continue
        run += row
        if where == "last":
            end_run()
    end_run()
    return [*parts, b"\n  }\n}\n"]


def _run(rows: list[bytes], first: bool) -> bytes:
    return (_FILES + b"{\n" if first else _ROWS) + _ROWS.join(rows)


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
