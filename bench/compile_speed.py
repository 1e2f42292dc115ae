"""How long `gen generate` takes on synthetic projects of 50, 200 and 500 entities.

Issue 2 sets the target: compile and write 500 entities in under 2 s. Each
size is written once into a temporary folder, then measured in this process:

- generate: compile + generators + store commit + mirror, in a fresh store
  each run (the store and `generated/` removed before, outside the timing;
  the model files' bytecode cache kept);
- for the target size, the same from a fresh clone (all of `.gen/` removed);
- compile only: `compile_project`;
- for the target size, a no-change regenerate (the same project again).

One warm-up generate runs first and is reported, never counted: the first
call pays for imports, pydantic validators and entry points. The cold start
of a `gen` command is measured apart, as the wall time of a fresh Python
importing the pipeline.

    python -m bench.compile_speed [--sizes 50,200,500] [--runs 5] [--budget 12]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.synthetic import write_synthetic_project

SIZES = (50, 200, 500)
TARGET_ENTITIES = 500
TARGET_SECONDS = 2.0
MIN_RUNS = 3


@dataclass(frozen=True)
class Timing:
    """Wall-clock samples, in seconds, of one step at one size."""

    entities: int
    step: str
    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def row(self) -> str:
        ms = [f"{s * 1000:,.0f}" for s in (min(self.samples), self.median, max(self.samples))]
        return f"| {self.entities} | {self.step} | {len(self.samples)} | {' | '.join(ms)} |"


def measure(
    run: Callable[[], object], runs: int, budget: float, prepare: Callable[[], None] | None = None
) -> tuple[float, ...]:
    """Time `run` up to `runs` times; stop after MIN_RUNS once `budget` seconds are spent."""
    samples: list[float] = []
    spent = 0.0
    while len(samples) < runs and (len(samples) < MIN_RUNS or spent < budget):
        if prepare is not None:
            prepare()
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
        spent += samples[-1]
    return tuple(samples)


def clear_output(project: Path) -> None:
    """Remove the store and the mirror so the next generate starts a fresh store.

    The model-file bytecode cache in `.gen/cache/` stays, as it does for a user
    who deletes the store; `clear_everything` removes it too.
    """
    for part in (project / ".gen").glob("store.db*"):
        part.unlink()
    shutil.rmtree(project / "generated", ignore_errors=True)


def clear_everything(project: Path) -> None:
    """Remove `.gen/` and `generated/`: the first generate of a fresh clone."""
    shutil.rmtree(project / ".gen", ignore_errors=True)
    shutil.rmtree(project / "generated", ignore_errors=True)


def output_bytes(project: Path) -> int:
    return sum(p.stat().st_size for p in (project / "generated").rglob("*") if p.is_file())


def cold_import_seconds() -> float:
    """Wall time of a new interpreter importing the pipeline, as `gen` does on start.

    An untimed run first fills the OS file cache (and the bytecode cache, when
    Python may write one), as for a user running `gen` a second time.
    """
    command = [sys.executable, "-c", "import generators.pipeline"]
    subprocess.run(command, check=True)
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - start


def cpu_times() -> tuple[int, int]:
    """(steal, total) jiffies of all CPUs since boot, or zeros where /proc is missing."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    # user nice system idle iowait irq softirq steal [guest guest_nice]; guests are in user.
    return (values[7] if len(values) > 7 else 0), sum(values[:8])


def calibration_seconds() -> float:
    """Best of three runs of a fixed pure-Python loop: how fast this machine is right now.

    On a quiet core of this class it takes about 0.5 s; on a shared VM it varies
    several-fold from minute to minute, and the timings above move with it.
    """
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.perf_counter() - start)
    return best


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def bench_size(
    project: Path, entities: int, runs: int, budget: float, sizes: dict[int, int]
) -> list[Timing]:
    """Time one size; the target size also gets a no-change regenerate. Records output bytes."""
    # Imported here so that `warm_up` is the one paying for the first import.
    from compiler.compile import compile_project
    from generators.pipeline import generate

    write_synthetic_project(project, entities)
    timings = [
        Timing(
            entities,
            "generate",
            measure(lambda: generate(project), runs, budget, lambda: clear_output(project)),
        ),
        Timing(entities, "compile only", measure(lambda: compile_project(project), runs, budget)),
    ]
    if entities == TARGET_ENTITIES:
        samples = measure(
            lambda: generate(project), runs, budget, lambda: clear_everything(project)
        )
        timings.insert(1, Timing(entities, "generate, fresh clone (no bytecode cache)", samples))
    sizes[entities] = output_bytes(project)
    if entities == TARGET_ENTITIES:
        unchanged: list[bool] = []
        samples = measure(lambda: unchanged.append(not generate(project)[1].created), runs, budget)
        if not all(unchanged):
            print("  warning: a regenerate without changes made a new snapshot", file=sys.stderr)
        timings.append(Timing(entities, "regenerate, no change", samples))
    return timings


def warm_up(project: Path) -> float:
    """One generate, kept out of the table, that pays the process's first-call costs."""
    write_synthetic_project(project, 50)
    start = time.perf_counter()
    from generators.pipeline import generate

    generate(project)
    return time.perf_counter() - start


def report(
    timings: list[Timing],
    sizes: dict[int, int],
    first_call: float,
    cold_import: float,
    steal: float | None,
    calibration: tuple[float, float],
) -> str:
    # On a shared VM the hypervisor can take CPU away; that shows up as steal.
    stolen = f"; CPU steal during the run {steal:.0%}" if steal is not None else ""
    lines = [
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}"
        + stolen,
        "",
        "| entities | step | runs | min ms | median ms | max ms |",
        "|---:|---|---:|---:|---:|---:|",
        *(t.row() for t in timings),
        "",
    ]
    for target in timings:
        if target.entities != TARGET_ENTITIES or not target.step.startswith("generate"):
            continue
        ratio = target.median / TARGET_SECONDS
        verdict = "met" if target.median <= TARGET_SECONDS else "NOT met"
        lines.append(
            f"{TARGET_ENTITIES} entities, {target.step}: {target.median:.2f} s median = "
            f"{ratio:.2f}x of the {TARGET_SECONDS:g} s target ({verdict})"
        )
    no_bytecode = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
    output = ", ".join(f"{n} entities {b / 1e6:.1f} MB" for n, b in sizes.items())
    lines += [
        f"Generated output: {output}",
        "First generate in the process (imports + warm-up, 50 entities, not counted): "
        f"{first_call * 1000:,.0f} ms",
        f"Cold import of generators.pipeline in a new interpreter: {cold_import * 1000:,.0f} ms"
        + (" (PYTHONDONTWRITEBYTECODE is set: no bytecode cache)" if no_bytecode else ""),
        "Machine speed probe (10M-step Python loop, best of 3) before / after: "
        f"{calibration[0] * 1000:,.0f} / {calibration[1] * 1000:,.0f} ms",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="comma-separated entity counts"
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per step (default 5)")
    parser.add_argument(
        "--budget", type=float, default=12.0, help="seconds per step after which 3 runs suffice"
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    steal_before, total_before = cpu_times()
    probe_before = calibration_seconds()
    cold_import = cold_import_seconds()
    timings: list[Timing] = []
    output_sizes: dict[int, int] = {}
    with tempfile.TemporaryDirectory(prefix="reframe-bench-") as tmp:
        first_call = warm_up(Path(tmp) / "warm-up")
        for entities in sizes:
            print(f"measuring {entities} entities ...", file=sys.stderr)
            project = Path(tmp) / f"synthetic-{entities}"
            timings += bench_size(project, entities, args.runs, args.budget, output_sizes)
    steal_after, total_after = cpu_times()
    elapsed = total_after - total_before
    steal = (steal_after - steal_before) / elapsed if elapsed > 0 else None
    calibration = (probe_before, calibration_seconds())
    print(report(timings, output_sizes, first_call, cold_import, steal, calibration))


if __name__ == "__main__":
    main()
