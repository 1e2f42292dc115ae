"""`gen migrate make | apply | status | down`: migrations computed from the model.

`make` compiles the model, lowers it to the relational schema, diffs it
against the schema stored with the latest revision under `migrations/`, and
writes a new Alembic revision plus the schema it produces. Nothing is
written when the model does not compile, when nothing changed, when a
question is left unanswered, or when a destructive step is not allowed.

While `gen dev` runs, it makes the migration instead (`answer_from_dev`): it
has the model compiled already (runtime/dev_link.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler import ir
from compiler.compile import fewer_gc_pauses
from compiler.diagnostics import CompileError
from compiler.ir_cache import compile_or_reuse
from generators.db.diff import Answers, Plan, PlanError, Question, plan_migration
from generators.db.lower import lower_schema
from generators.db.revision import render_revision, slug
from generators.db.schema import Schema
from runtime.fills import with_fills
from runtime.layout import ENV_PY, MIGRATIONS_DIR
from runtime.revisions import (
    VERSIONS,
    MigrateError,
    Revision,
    StoredSchemas,
    latest_revision,
    stored_schema,
)

if TYPE_CHECKING:
    from generators.pipeline import Session


@dataclass(frozen=True)
class MadeMigration:
    plan: Plan
    #: None when nothing was written (no change, or a plan only).
    revision: Revision | None
    previous: Revision | None = None
    written: tuple[Path, ...] = field(default=())

    def shown(self, project_root: Path) -> dict[str, Any]:
        """What the terminal says of it (`steps`, `revision`, `written`): plain values that
        `gen dev` sends to the command."""
        return {
            "steps": plan_steps(self.plan),
            "revision": self.revision.id if self.revision else None,
            "written": [str(path.relative_to(project_root)) for path in self.written],
        }


@dataclass(frozen=True)
class ModelNow:
    """The model the project's files hold now, and its schema."""

    project: ir.Project
    schema: Schema
    #: Keeps what computing it produced (the IR cache); once the command succeeded.
    keep: Callable[[], None] = lambda: None


def compiled_now(project_root: Path) -> ModelNow:
    """Compile (or read the IR cache) and lower: what a `gen` process does by itself."""
    compiled = compile_or_reuse(project_root)
    with fewer_gc_pauses():
        return ModelNow(compiled.project, lower_schema(compiled.project), compiled.save)


def make_migration(
    project_root: Path,
    message: str,
    answers: Answers,
    *,
    allow_destructive: bool = False,
    plan_only: bool = False,
    ask: Callable[[Question], str | bool] | None = None,
    model_now: Callable[[Path], ModelNow] = compiled_now,
    schemas: StoredSchemas | None = None,
) -> MadeMigration:
    """Diff the model against the latest revision and write the next one.

    `ask` answers questions on a terminal; without it, an unanswered question
    is an error naming the flag that answers it. Raises CompileError,
    MigrateError or PlanError; writes nothing then. `model_now` and `schemas`:
    where the model's schema and the revisions' come from (`gen dev` has them).
    """
    model = model_now(project_root)
    previous = latest_revision(project_root)
    with fewer_gc_pauses():
        new = model.schema
        old = schemas.read(previous) if schemas is not None else stored_schema(previous)
        plan = with_fills(_plan_with_answers(old, new, answers, ask), old, new, model.project)
    model.keep()
    if not plan.operations or plan_only:
        return MadeMigration(plan=plan, revision=None, previous=previous)
    if plan.destructive and not allow_destructive:
        steps = "\n".join(f"  - {op.description}" for op in plan.destructive)
        raise MigrateError(
            f"this migration would destroy data:\n{steps}\nIf that is intended, run again with "
            "--allow-destructive (see what runs with --plan). If a field was renamed, declare "
            '.renamed_from("old_name") on it instead.'
        )
    number = previous.number + 1 if previous else 1
    folder = project_root / MIGRATIONS_DIR / VERSIONS
    revision = Revision(number, folder / f"{number:04d}_{slug(message)}.py")
    written = _write_revision(project_root, revision, previous, message, plan, new)
    if schemas is not None:
        schemas.wrote(revision, new)
    return MadeMigration(plan=plan, revision=revision, previous=previous, written=written)


def _plan_with_answers(
    old: Schema,
    new: Schema,
    answers: Answers,
    ask: Callable[[Question], str | bool] | None,
) -> Plan:
    for _ in range(50):  # each round answers at least one question
        try:
            plan = plan_migration(old, new, answers)
        except PlanError as exc:
            raise MigrateError(str(exc)) from exc
        if not plan.questions:
            return plan
        if ask is None:
            asked = "\n".join(f"  - {q.prompt}\n    answer with {q.flag}" for q in plan.questions)
            raise MigrateError(
                "the model changed in ways only you can decide; nothing was written:\n"
                f"{asked}\nRun on a terminal to be asked, or pass the flags."
            )
        answers = _answer(answers, plan.questions[0], ask(plan.questions[0]))
    raise MigrateError("too many questions; answer them with flags instead.")


def _answer(answers: Answers, question: Question, reply: str | bool) -> Answers:
    if question.kind == "rename":
        assert isinstance(question.key, tuple)
        return dataclasses.replace(answers, renames={**answers.renames, question.key: bool(reply)})
    assert isinstance(question.key, str)
    if question.kind == "backfill":
        return dataclasses.replace(
            answers, backfills={**answers.backfills, question.key: str(reply)}
        )
    removed, _, target = str(reply).partition("=")
    mapping = {**answers.enum_maps.get(question.key, {}), removed: target}
    return dataclasses.replace(answers, enum_maps={**answers.enum_maps, question.key: mapping})


def _write_revision(
    project_root: Path,
    revision: Revision,
    previous: Revision | None,
    message: str,
    plan: Plan,
    schema: Schema,
) -> tuple[Path, ...]:
    """Schema first, revision file last: a revision file always has its schema."""
    text = render_revision(
        revision=revision.id,
        down_revision=previous.id if previous else None,
        message=message,
        operations=plan.operations,
        revision_file=revision.path.stem,
    )
    revision.path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    env = project_root / MIGRATIONS_DIR / "env.py"
    if not env.exists():
        _write_atomically(env, ENV_PY)
        written.append(env)
    _write_atomically(
        revision.schema_path, schema.model_dump_json(indent=2, exclude_none=True) + "\n"
    )
    _write_atomically(revision.path, text)
    return (*written, revision.schema_path, revision.path)


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def parse_answers(
    renames: tuple[str, ...],
    not_renames: tuple[str, ...],
    backfills: tuple[str, ...],
    enum_maps: tuple[str, ...],
) -> Answers:
    """Flags -> Answers. `--rename Invoice.note=notes`, `--rename Label=Tag`,
    `--backfill Invoice.due_date=2026-01-31`, `--enum-map Invoice.status:void=draft`."""

    def rename_pair(flag: str, value: str) -> tuple[str, str]:
        old, sep, new = value.partition("=")
        if not sep or not old or not new:
            raise MigrateError(f"{flag} {value!r}: write OLD=NEW, e.g. Invoice.note=notes")
        entity, dot, _ = old.rpartition(".")
        return (old, f"{entity}.{new}" if dot else new)

    decided = {rename_pair("--rename", v): True for v in renames}
    decided.update({rename_pair("--no-rename", v): False for v in not_renames})
    filled = {}
    for value in backfills:
        target, sep, fill = value.partition("=")
        if not sep or "." not in target:
            raise MigrateError(f"--backfill {value!r}: write Entity.field=VALUE")
        filled[target] = fill
    maps: dict[str, dict[str, str]] = {}
    for value in enum_maps:
        target, colon, mapping = value.partition(":")
        old, sep, new = mapping.partition("=")
        if not colon or not sep:
            raise MigrateError(f"--enum-map {value!r}: write Entity.field:old=new")
        maps.setdefault(target, {})[old] = new
    return Answers(renames=decided, backfills=filled, enum_maps=maps)


#: One step of a plan as the terminal shows it: description, lock, risk (or ""),
#: destructive, reversible. Plain values: `gen dev` sends them to the command.
Step = tuple[str, str, str, bool, bool]


def plan_steps(plan: Plan) -> list[Step]:
    return [
        (op.description, op.lock, op.risk or "", op.destructive, op.backwards is not None)
        for op in plan.operations
    ]


class _NeedsTerminal(Exception):
    """A question to ask: the command asks it on its own terminal, `gen dev` cannot."""


def _needs_terminal(question: Question) -> str | bool:
    raise _NeedsTerminal(question.prompt)


def answer_from_dev(
    session: Session, say: Callable[[str], None]
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """What `gen dev` answers a `gen migrate make` with (runtime/dev_link.py): the same
    migration, made from the model it keeps compiled and the revisions' schemas it read.
    `say` tells `gen dev`'s terminal what it did."""
    schemas = StoredSchemas()
    one_at_a_time = threading.Lock()  # two revisions must not take one number

    def model_now(project_root: Path) -> ModelNow:  # the session's project
        return ModelNow(*session.model_now(lambda project: (project, lower_schema(project))))

    def answer(asked: dict[str, Any]) -> dict[str, Any]:
        root = session.project_dir
        try:
            answers = parse_answers(
                *(tuple(asked.get(k, ())) for k in ("rename", "no_rename", "backfill", "enum_map"))
            )
            with one_at_a_time:
                made = make_migration(
                    root,
                    str(asked.get("message", "migration")),
                    answers,
                    allow_destructive=bool(asked.get("allow_destructive")),
                    plan_only=bool(asked.get("plan_only")),
                    ask=_needs_terminal if asked.get("interactive") else None,
                    model_now=model_now,
                    schemas=schemas,
                )
        except CompileError as exc:
            return {"kind": "compile_error", "text": exc.render()}
        except MigrateError as exc:
            return {"kind": "error", "message": str(exc)}
        except _NeedsTerminal:
            return {"kind": "ask"}
        did = f"wrote revision {made.revision.id}" if made.revision else "wrote nothing"
        with contextlib.suppress(OSError, ValueError):  # a closed terminal loses no answer
            say(f"gen migrate make, answered here: {len(made.plan.operations)} step(s), {did}")
        return {"kind": "made", **made.shown(root)}

    return answer
