"""How long making a migration takes: Reframe's `gen migrate make` beside Django and Alembic.

Issue 3. For each size, the synthetic model of bench/synthetic.py is given
to three tools, each run as its user runs it (a subprocess, wall time):

- reframe: `gen --project DIR migrate make -m bench`, which compiles the model;
- "reframe, generated": the same make after an untimed `gen generate` (what
  `gen dev` does on every save), so it reuses the compiled IR;
- "reframe, gen dev running": the same make while `gen dev` runs on the project,
  which answers it from the model it keeps compiled (runtime/dev_link.py);
- django: `manage.py makemigrations bench_app` on the same schema written as
  Django models (bench/comparators/django_models.py);
- alembic: `alembic revision --autogenerate -m bench` with the generator's own
  SQLAlchemy metadata (`db/tables.py`, set up by
  bench/comparators/sqlalchemy_models.py), against a scratch PostgreSQL database.

Two steps: "from empty" (no migration yet; Alembic's database is empty) and
"after one field" (the first migration exists, Alembic's database is
upgraded to it, then one nullable text field is added to the first entity
of domain/part_000.model.py, and the same field to the other tools' models).
Everything between timed runs (restoring the state, removing the migration a
run wrote) is untimed. Each step runs up to `--runs` times, fewer once
`--budget` seconds are spent; a run that exceeds its timeout is killed and
reported as such.

The Postgres server is `TEST_DATABASE_URL`, else 127.0.0.1:5432 as postgres.
Django comes from the `bench` extra (`make bench-migrate` installs it).

    python -m bench.migrate_compare [--sizes 50,200,500] [--runs 3] [--budget 60]
        [--timeout 120] [--django-timeout 300] [--setup-timeout 1800] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Protocol

from bench.comparators import django_models, postgres, sqlalchemy_models
from bench.compile_speed import calibration_seconds, cpu_model, cpu_times
from bench.synthetic import write_synthetic_project
from compiler import ir
from compiler.compile import compile_project
from runtime.dev_link import LINK_FILE

SIZES = (50, 200, 500)
TARGET_ENTITIES = 500
TARGETS = {"from empty": 1.0, "after one field": 0.3}
STEPS = tuple(TARGETS)
BIN = Path(sys.executable).parent
BENCH_FIELD = '"bench_note": text(),'


class StepProblem(Exception):
    """A run that gave no timing; the message is what the table shows instead."""


class NotAvailable(StepProblem):
    """The tool's command does not exist (yet)."""


class TimedOut(StepProblem):
    """The run was killed after `seconds`: a lower bound of its time."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"timed out after {seconds:g} s")
        self.seconds = seconds


def run_command(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run `argv` in its own process group; kill the group and raise when it overruns."""
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, so a timeout kills its children too
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise TimedOut(timeout) from None
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def check(result: subprocess.CompletedProcess[str]) -> None:
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise StepProblem(f"failed (exit {result.returncode}): {lines[-1][:160]}")


# Reframe's side ------------------------------------------------------------------------
#
# >>> THE REFRAME STEP. The one place that runs Reframe's command. Where `gen migrate
# >>> make` does not exist (an older checkout), it raises NotAvailable and the table
# >>> says "reframe: not available yet" instead of failing.

REFRAME_TIMEOUT = 120.0


def reframe_make(project_dir: Path, timeout: float = REFRAME_TIMEOUT) -> None:
    """`gen --project DIR migrate make -m bench`, as a user runs it."""
    argv = [str(BIN / "gen"), "--project", str(project_dir), "migrate", "make", "-m", "bench"]
    result = run_command(argv, project_dir, timeout)
    if result.returncode != 0 and "No such command" in result.stderr:
        raise NotAvailable("reframe: not available yet")
    check(result)


def reframe_generate(project_dir: Path, timeout: float = REFRAME_TIMEOUT) -> None:
    """`gen generate`: leaves the compiled IR where the next command reuses it."""
    check(
        run_command(
            [str(BIN / "gen"), "--project", str(project_dir), "generate"], project_dir, timeout
        )
    )


def add_bench_field(project_dir: Path) -> str:
    """Add a nullable `bench_note` text field to the first entity of part_000; return its name."""
    path = project_dir / "domain" / "part_000.model.py"
    source = path.read_text(encoding="utf-8")
    name = re.search(r'^entity\(\n    "(\w+)",', source, re.MULTILINE)
    if name is None or "    fields={\n" not in source:
        raise ValueError(f"{path}: not laid out as bench.synthetic writes it")
    changed = source.replace("    fields={\n", f"    fields={{\n        {BENCH_FIELD}\n", 1)
    path.write_text(changed, encoding="utf-8")
    return name.group(1)


# The tools ------------------------------------------------------------------------------


class Tool(Protocol):
    """One migration tool on one project: reset, timed make, baseline, change.

    `keep_baseline` (untimed) makes sure the first migration exists, and
    returns a remark when it had to be made differently from a user's.
    """

    name: str

    def reset_empty(self) -> None: ...
    def make(self) -> None: ...
    def keep_baseline(self) -> str | None: ...
    def change(self, project: ir.Project) -> None: ...
    def reset_changed(self) -> None: ...
    def check_changed(self) -> str | None: ...


def restore(snapshot: Path, work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(snapshot, work, symlinks=True)


@dataclass
class Reframe:
    """Runs in `work`, restored before each run from a snapshot (the command owns its layout)."""

    pristine: Path
    baseline: Path
    work: Path
    timeout: float
    setup_timeout: float
    name: str = "reframe"

    def reset_empty(self) -> None:
        restore(self.pristine, self.work)

    def make(self) -> None:
        reframe_make(self.work, self.timeout)

    def keep_baseline(self) -> str | None:
        restore(self.pristine, self.work)
        reframe_make(self.work, self.setup_timeout)
        restore(self.work, self.baseline)
        return None

    def change(self, project: ir.Project) -> None:
        add_bench_field(self.baseline)

    def reset_changed(self) -> None:
        restore(self.baseline, self.work)

    def check_changed(self) -> str | None:
        before = set((self.baseline / "migrations" / "versions").glob("*.py"))
        after = set((self.work / "migrations" / "versions").glob("*.py"))
        return None if len(after) == len(before) + 1 else "wrote no new revision"


@dataclass
class ReframeGenerated(Reframe):
    """The same, with `gen generate` run (untimed) after the edit, as `gen dev` does on save.

    The make then reuses the IR that generate compiled instead of compiling again.
    """

    name: str = "reframe, generated"

    def reset_empty(self) -> None:
        super().reset_empty()
        reframe_generate(self.work, self.setup_timeout)

    def keep_baseline(self) -> str | None:
        return None  # `Reframe` made it; both start from the same baseline

    def change(self, project: ir.Project) -> None:
        pass  # `Reframe` changed the shared baseline

    def reset_changed(self) -> None:
        super().reset_changed()
        reframe_generate(self.work, self.setup_timeout)


@dataclass
class ReframeDev:
    """The same make while `gen dev` runs on the project: the command hands it the work
    (runtime/dev_link.py), and `gen dev` has the model compiled already.

    `gen dev` runs in `work` for the whole size; its project is never replaced under it:
    a reset removes the revisions a run wrote, and the change is saved as a user saves,
    then the rebuild it causes is waited for (untimed), as a user who saved and then
    typed the command would have.
    """

    baseline: Path
    work: Path
    database: str
    stack: ExitStack
    timeout: float
    setup_timeout: float
    name: str = "reframe, gen dev running"
    _log: Path | None = None

    def _running(self) -> Path:
        """Start `gen dev` once (untimed): the first call copies the pristine model."""
        if self._log is None:
            from bench.dev_speed import dev_server

            self.stack.enter_context(dev_server(self.work, self.database))
            self._log = self.work.parent / "dev.log"
            if not (self.work / LINK_FILE).is_file():
                raise StepProblem("gen dev did not announce itself (.gen/dev.json)")
        return self._log

    def reset_empty(self) -> None:
        self._running()
        shutil.rmtree(self.work / "migrations", ignore_errors=True)

    def make(self) -> None:
        answered = self._answers()
        reframe_make(self.work, self.timeout)
        if self._answers() == answered:
            raise StepProblem("gen dev did not answer: the command did the work itself")

    def _answers(self) -> int:
        return self._running().read_text(encoding="utf-8").count("gen migrate make, answered")

    def keep_baseline(self) -> str | None:
        return None  # `Reframe` made it; it is copied in before each run

    def change(self, project: ir.Project) -> None:
        log_file = self._running()
        rebuilt = log_file.read_text(encoding="utf-8").count("snapshot ")
        add_bench_field(self.work)
        deadline = time.monotonic() + self.setup_timeout
        while log_file.read_text(encoding="utf-8").count("snapshot ") == rebuilt:
            if time.monotonic() > deadline:
                raise StepProblem("gen dev did not rebuild after the change")
            time.sleep(0.1)
        time.sleep(5)  # the reload and the dev database follow the snapshot line

    def reset_changed(self) -> None:
        shutil.rmtree(self.work / "migrations", ignore_errors=True)
        shutil.copytree(self.baseline / "migrations", self.work / "migrations")

    def check_changed(self) -> str | None:
        before = set((self.baseline / "migrations" / "versions").glob("*.py"))
        after = set((self.work / "migrations" / "versions").glob("*.py"))
        return None if len(after) == len(before) + 1 else "wrote no new revision"


def operations(path: Path, prefix: str) -> list[str]:
    """The `prefix.Name(` calls in a migration file, e.g. migrations.AddField."""
    return re.findall(rf"\b{re.escape(prefix)}\.(\w+)\(", path.read_text(encoding="utf-8"))


@dataclass
class Django:
    root: Path
    timeout: float
    setup_timeout: float
    name: str = "django"

    @property
    def migrations(self) -> Path:
        return self.root / django_models.APP / "migrations"

    def _makemigrations(self, command: str, timeout: float) -> None:
        argv = [sys.executable, "manage.py", command, django_models.APP]
        check(run_command(argv, self.root, timeout))

    def reset_empty(self) -> None:
        shutil.rmtree(self.migrations, ignore_errors=True)

    def make(self) -> None:
        self._makemigrations("makemigrations", self.timeout)

    def keep_baseline(self) -> str | None:
        if list(self.migrations.glob("0001_*.py")):
            return None  # the last timed run from empty wrote it
        # Django's optimizer is what takes so long from empty. Without it the initial
        # migration holds the same models in more operations, which the next
        # makemigrations replays (cheaply: it does not render models per operation).
        self.reset_empty()
        self._makemigrations(django_models.UNOPTIMIZED_COMMAND, self.setup_timeout)
        return "first migration made without Django's optimizer (from empty did not finish)"

    def change(self, project: ir.Project) -> None:
        django_models.write_models(project, self.root)

    def reset_changed(self) -> None:
        for path in self.migrations.glob("0002_*.py"):
            path.unlink()

    def check_changed(self) -> str | None:
        made = list(self.migrations.glob("0002_*.py"))
        found = operations(made[0], "migrations") if made else []
        return None if found == ["AddField"] else f"second migration holds {found or 'nothing'}"


@dataclass
class Alembic:
    root: Path
    timeout: float
    setup_timeout: float
    name: str = "alembic"
    #: Revision files of the first migration, kept between runs after one field.
    first: set[str] = field(default_factory=set)

    @property
    def versions(self) -> Path:
        return self.root / "migrations" / "versions"

    def _alembic(self, args: list[str], timeout: float) -> None:
        check(run_command([str(BIN / "alembic"), *args], self.root, timeout))

    def reset_empty(self) -> None:
        for path in self.versions.glob("*.py"):
            path.unlink()

    def make(self) -> None:
        self._alembic(["revision", "--autogenerate", "-m", "bench"], self.timeout)

    def keep_baseline(self) -> str | None:
        if not list(self.versions.glob("*.py")):
            self._alembic(["revision", "--autogenerate", "-m", "bench"], self.setup_timeout)
        self._alembic(["upgrade", "head"], self.setup_timeout)
        self.first = {p.name for p in self.versions.glob("*.py")}
        return None

    def change(self, project: ir.Project) -> None:
        sqlalchemy_models.write_models(project, self.root)

    def reset_changed(self) -> None:
        for path in self.versions.glob("*.py"):
            if path.name not in self.first:
                path.unlink()

    def check_changed(self) -> str | None:
        made = [p for p in self.versions.glob("*.py") if p.name not in self.first]
        if not made:
            return "wrote no revision"
        text = made[0].read_text(encoding="utf-8")
        upgrade = text[text.index("def upgrade") : text.index("def downgrade")]
        found = re.findall(r"\bop\.(\w+)\(", upgrade)
        return None if found == ["add_column"] else f"revision holds {found or 'nothing'}"


# Measuring -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """The runs of one tool for one step at one size, or why there are none."""

    entities: int
    step: str
    tool: str
    samples: tuple[float, ...] = ()
    problem: str | None = None
    note: str | None = None
    #: Seconds after which a run was killed: the tool takes at least this long.
    at_least: float | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None


def measure(tool: Tool, step: str, entities: int, runs: int, budget: float) -> Result:
    """Time `tool.make` up to `runs` times, stopping once `budget` seconds are spent."""
    reset = tool.reset_empty if step == "from empty" else tool.reset_changed
    samples: list[float] = []
    note = None
    while len(samples) < runs and sum(samples) < budget:
        reset()
        start = time.perf_counter()
        try:
            tool.make()
        except StepProblem as problem:
            at_least = problem.seconds if isinstance(problem, TimedOut) else None
            return Result(entities, step, tool.name, tuple(samples), str(problem), note, at_least)
        samples.append(time.perf_counter() - start)
        if step == "after one field":
            note = note or tool.check_changed()
    return Result(entities, step, tool.name, tuple(samples), None, note)


@dataclass(frozen=True)
class Settings:
    runs: int
    budget: float
    timeout: float
    django_timeout: float
    setup_timeout: float


def compiled(project_dir: Path) -> ir.Project:
    """The IR `gen generate` writes to ir.json, compiled here (nothing else is needed)."""
    return compile_project(project_dir).project


def bench_size(
    entities: int, settings: Settings, server: str, workspace: Path, notes: set[str]
) -> list[Result]:
    """Both steps for the three tools at one size, in scratch databases dropped afterwards.

    Adds to `notes` what the translations could not express.
    """
    source = workspace / "model"
    write_synthetic_project(source, entities)
    with ExitStack() as stack:
        urls = {
            name: stack.enter_context(postgres.scratch_database(server, f"{name}{entities}"))
            for name in ("django", "alembic", "gendev")
        }
        tools = make_tools(compiled(source), source, workspace, settings, urls, notes, stack)
        results = [measure_logged(t, "from empty", entities, settings) for t in tools]
        baselines = {t.name: baseline(t) for t in tools}
        add_bench_field(source)
        changed = compiled(source)
        for tool in tools:
            tool.change(changed)
        results += [after_one_field(t, baselines[t.name], entities, settings) for t in tools]
    return results


def make_tools(
    project: ir.Project,
    source: Path,
    workspace: Path,
    settings: Settings,
    urls: dict[str, str],
    notes: set[str],
    stack: ExitStack,
) -> list[Tool]:
    """Each tool's project, written from `project`, with no migration yet; `gen dev`
    (started by its tool on first use) stops with `stack`."""
    shutil.copytree(source, workspace / "reframe-pristine")
    reframe = Reframe(
        workspace / "reframe-pristine",
        workspace / "reframe-baseline",
        workspace / "reframe",
        settings.timeout,
        settings.setup_timeout,
    )
    generated = ReframeGenerated(
        reframe.pristine,
        reframe.baseline,
        workspace / "reframe-generated",
        settings.timeout,
        settings.setup_timeout,
    )
    shutil.copytree(source, workspace / "reframe-dev" / "project")
    dev = ReframeDev(
        reframe.baseline,
        workspace / "reframe-dev" / "project",
        urls["gendev"],
        stack,
        settings.timeout,
        settings.setup_timeout,
    )
    django = Django(workspace / "django", settings.django_timeout, settings.setup_timeout)
    alembic = Alembic(workspace / "alembic", settings.timeout, settings.setup_timeout)
    django_notes = django_models.write_django_project(project, django.root, urls["django"])
    alembic_url = postgres.sqlalchemy_url(urls["alembic"])
    alembic_notes = sqlalchemy_models.write_alembic_project(project, alembic.root, alembic_url)
    notes.update(f"django: {n}" for n in django_notes)
    notes.update(f"alembic: {n}" for n in alembic_notes)
    return [reframe, generated, dev, django, alembic]


def after_one_field(
    tool: Tool, baseline: tuple[str | None, str | None], entities: int, settings: Settings
) -> Result:
    """The timed step after the change, unless the tool has no first migration."""
    problem, remark = baseline
    if problem is not None:
        return Result(entities, "after one field", tool.name, problem=problem)
    result = measure_logged(tool, "after one field", entities, settings)
    # How the first migration was made says more than the check of the second.
    return dataclasses.replace(result, note=remark) if remark is not None else result


def baseline(tool: Tool) -> tuple[str | None, str | None]:
    """Make the first migration exist (untimed): (why it cannot, a remark on how it was made)."""
    log(f"  {tool.name}: first migration (untimed) ...")
    start = time.perf_counter()
    try:
        remark = tool.keep_baseline()
    except NotAvailable as problem:
        return str(problem), None
    except StepProblem as problem:
        return f"no first migration: {problem}", None
    log(f"    ready after {time.perf_counter() - start:.1f} s")
    return None, remark


def measure_logged(tool: Tool, step: str, entities: int, settings: Settings) -> Result:
    """`measure`, saying on stderr what runs and what it gave."""
    log(f"  {tool.name}: {step} ...")
    result = measure(tool, step, entities, settings.runs, settings.budget)
    shown = f"{result.median:.2f} s median" if result.median is not None else ""
    log(f"    {len(result.samples)} runs {shown} {result.problem or ''}".rstrip())
    return result


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# Report ----------------------------------------------------------------------------------


def seconds(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def ratio(result: Result, results: list[Result]) -> str:
    reframe = next(
        (
            r
            for r in results
            if (r.entities, r.step, r.tool) == (result.entities, result.step, "reframe")
        ),
        None,
    )
    if result.tool == "reframe" or reframe is None or reframe.median is None:
        return "-"
    if result.median is not None:
        return f"{result.median / reframe.median:.1f}x"
    if result.at_least is not None:
        return f"> {result.at_least / reframe.median:.1f}x"
    return "n/a"


def row(result: Result, results: list[Result]) -> str:
    if result.samples:
        low, middle = seconds(min(result.samples)), seconds(result.median)
    else:
        low = middle = "-"
    if result.problem is not None:
        middle = f"{middle} ({result.problem})" if result.samples else result.problem
    cells = [str(result.entities), result.step, result.tool, str(len(result.samples)), low, middle]
    return "| " + " | ".join([*cells, ratio(result, results)]) + " |"


def verdicts(results: list[Result]) -> list[str]:
    """Each target against both Reframe runs: compiling in the make, and after `gen generate`."""
    lines = []
    for step, target in TARGETS.items():
        for found in results:
            if (found.entities, found.step) != (TARGET_ENTITIES, step):
                continue
            if not found.tool.startswith("reframe"):
                continue
            head = f"Target {step} at {TARGET_ENTITIES}: under {target:g} s; {found.tool}"
            if found.median is None:
                lines.append(f"{head}: {found.problem}")
                continue
            met = "met" if found.median < target else "NOT met"
            lines.append(f"{head} {found.median:.2f} s median ({met})")
    return lines


def environment(server: str) -> str:
    tools = ", ".join(
        f"{name} {version(name)}" for name in ("Django", "SQLAlchemy", "alembic", "psycopg")
    )
    return (
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}; "
        f"{tools}; PostgreSQL {postgres.server_version(server)}"
    )


def report(
    results: list[Result],
    server: str,
    steal: float | None,
    probes: tuple[float, float],
    notes: list[str],
) -> str:
    stolen = f"{steal:.0%}" if steal is not None else "unknown (no /proc/stat)"
    lines = [
        environment(server),
        f"CPU steal during the run: {stolen}; machine speed probe (10M-step Python loop, best of 3) "
        f"before / after: {probes[0] * 1000:,.0f} / {probes[1] * 1000:,.0f} ms",
        "",
        "| entities | step | tool | runs | min s | median s | tool / reframe (median) |",
        "|---:|---|---|---:|---:|---:|---:|",
        *(row(r, results) for r in results),
        "",
        *verdicts(results),
    ]
    remarks = [f"- {r.entities} {r.step}, {r.tool}: {r.note}" for r in results if r.note]
    if remarks:
        lines += ["", "Remarks:", *remarks]
    if notes:
        lines += ["", "What the translations cannot express:", *(f"- {n}" for n in notes)]
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        lines += ["", "PYTHONDONTWRITEBYTECODE is set: no tool gets a bytecode cache."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="entity counts")
    parser.add_argument("--runs", type=int, default=3, help="runs per step at most (default 3)")
    parser.add_argument(
        "--budget", type=float, default=60.0, help="seconds per step after which no run starts"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds per run (reframe, alembic)"
    )
    parser.add_argument(
        "--django-timeout", type=float, default=300.0, help="seconds per Django run"
    )
    parser.add_argument(
        "--setup-timeout", type=float, default=1800.0, help="seconds for an untimed first migration"
    )
    parser.add_argument("--workdir", type=Path, help="keep the projects here (default: a temp dir)")
    args = parser.parse_args(argv)
    settings = Settings(
        args.runs, args.budget, args.timeout, args.django_timeout, args.setup_timeout
    )
    server = postgres.server_url()
    steal_before, total_before = cpu_times()
    probe_before = calibration_seconds()
    results: list[Result] = []
    notes: set[str] = set()
    with ExitStack() as stack:
        if args.workdir is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="reframe-migrate-")))
        else:
            root = args.workdir
            root.mkdir(parents=True, exist_ok=True)
        for entities in (int(s) for s in args.sizes.split(",") if s):
            log(f"measuring {entities} entities ...")
            workspace = root / f"size-{entities}"
            shutil.rmtree(workspace, ignore_errors=True)
            results += bench_size(entities, settings, server, workspace, notes)
    steal_after, total_after = cpu_times()
    elapsed = total_after - total_before
    steal = (steal_after - steal_before) / elapsed if elapsed > 0 else None
    probes = (probe_before, calibration_seconds())
    print(report(results, server, steal, probes, sorted(notes)))


if __name__ == "__main__":
    main()
