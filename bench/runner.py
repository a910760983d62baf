"""``python -m bench``: run the benchmarks, each in its own process, and write bench/RESULTS.md.

Each benchmark prints ``name: value`` lines; they are captured from a fresh interpreter per benchmark
(one crash does not stop the rest, and no benchmark inherits another's memory or threads). With
``--write`` the section of bench/RESULTS.md between the two markers below is replaced: machine, date,
commit, then every benchmark's figures beside the floors the issues name. A benchmark not run this
time keeps the block it had (its data travels in a comment of its block), so ``--only`` updates
one benchmark without dropping the others. The rest of the file (the hand-written history) is never
touched.

    python -m bench --write                    # everything at the issues' sizes (long)
    python -m bench --quick --only search      # a smoke test at small sizes
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

START = "<!-- bench:generated:start -->"
END = "<!-- bench:generated:end -->"
DATA = re.compile(r"<!-- bench:data (\{.*\}) -->")
FIGURE = re.compile(r"^([^\s:][^:]*?): (.*)$")
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
KEEP = ROOT / "var" / "bench"  # stores the big benchmarks build once and reuse (var/ is not committed)
MB_500_IN_MIB = 500e6 / 2**20  # issue 7 says 500 MB


@dataclass(frozen=True, slots=True)
class Bench:
    """A benchmark module and its arguments at the issues' sizes and at smoke-test sizes."""

    name: str
    full: tuple[str, ...]
    quick: tuple[str, ...]


BENCHES: tuple[Bench, ...] = (
    Bench("feedparse", (), ("--sources", "40", "--items", "5")),
    Bench("ingest", ("--sources", "500", "--items", "20"), ("--sources", "10", "--items", "3")),
    Bench("storeingest", ("--sources", "500", "--items", "20"), ("--sources", "10", "--items", "3")),
    Bench("repoll", ("--sources", "500", "--items", "20"), ("--sources", "10", "--items", "2")),
    Bench("htmlcrawl", ("--sites", "120", "--items", "20"), ("--sites", "6", "--items", "2")),
    Bench("screen", (), ("--terms", "2000", "--chars", "200000", "--batch-items", "50")),
    Bench("reposts", (), ("--store", "300", "--batch", "50", "--batches", "1")),
    Bench("analysis", (), ("--docs", "200", "--rounds", "1")),
    Bench("search", ("--docs", "100000", "1000000", "--rounds", "10"), ("--docs", "1000", "--rounds", "1")),
    Bench("health", ("--sources", "10000"), ("--sources", "50")),
    Bench(
        "schedule",
        ("--sources", "100000", "--crawl-sources", "10000"),
        ("--sources", "1000", "--ticks", "2", "--stores", "sqlite", "--crawl-sources", "10"),
    ),
    Bench(
        "http",
        ("--keep", str(KEEP / "http")),
        ("--items", "1000", "--duration", "1", "--warmup", "0.5", "--page-duration", "2"),
    ),
    Bench(
        "memory", ("--keep", str(KEEP / "store")), ("--sources", "10", "--items", "1000", "--duration", "2")
    ),
    Bench("rebuild", ("--keep", str(KEEP / "store")), ("--items", "1000")),
    Bench("search_ingest", (), ("--docs", "1000", "--sources", "10", "--items", "3", "--rounds", "1")),
)


@dataclass(frozen=True, slots=True)
class Floor:
    """A floor an issue names: ``figure`` of ``bench`` compared with ``limit``.

    ``stat``: which number of the value (``p95``, ``p99``; None: the first number); ``where``: sizes
    the run must have reached for the floor to apply (other figures of it, at least these numbers)."""

    issue: str
    what: str
    bench: str
    figure: str
    op: str  # ">=" or "<="
    limit: float
    stat: str | None = None
    where: tuple[tuple[str, float], ...] = ()

    def verdict(self, figures: dict[str, str]) -> tuple[str, str]:
        """The measured value (as printed) and met / NOT met / not measured."""
        value = figures.get(self.figure)
        if value is None or any(
            (_number(figures.get(key, ""), None) or 0) < size for key, size in self.where
        ):
            return "—", "not measured at this size"
        number = _number(value, self.stat)
        if number is None:
            return value, "unreadable"
        met = number >= self.limit if self.op == ">=" else number <= self.limit
        plain = f"{number:,.0f}" if number.is_integer() else f"{number:g}"
        shown = f"{self.stat} {plain}" if self.stat else plain
        return shown, "met" if met else "**NOT met**"


FLOORS: tuple[Floor, ...] = (
    Floor(
        "3",
        "cold ingest ≥ 3,500 items/s end to end",
        "ingest",
        "items_per_s_end_to_end",
        ">=",
        3500,
        where=(("sources", 500),),
    ),
    Floor(
        "3",
        "re-poll ≥ 1,000 sources/s",
        "repoll",
        "sources_per_s_repoll",
        ">=",
        1000,
        where=(("sources", 500),),
    ),
    Floor("3", "HTML crawl ≥ 200 article pages/s", "htmlcrawl", "article_pages_per_s", ">=", 200),
    Floor(
        "4",
        "screening ≥ 5 M chars/s, one core",
        "screen",
        "chars_per_s",
        ">=",
        5e6,
        where=(("terms", 50000),),
    ),
    Floor("5", "index build ≥ 5,000 docs/s (100k)", "search", "n100000.build_docs_per_s", ">=", 5000),
    Floor("5", "index build ≥ 5,000 docs/s (1M)", "search", "n1000000.build_docs_per_s", ">=", 5000),
    Floor("5", "embedded search p95 ≤ 10 ms @100k", "search", "n100000.search_ms.all", "<=", 10, "p95"),
    Floor("5", "embedded search p95 ≤ 50 ms @1M", "search", "n1000000.search_ms.all", "<=", 50, "p95"),
    Floor("6", "HTTP search ≥ 300 req/s @100k", "http", "search.req_per_s", ">=", 300),
    Floor("6", "HTTP search p99 ≤ 100 ms @100k", "http", "search.latency_ms", "<=", 100, "p99"),
    Floor("6", "home page server p95 ≤ 50 ms", "http", "pages.server_ms.home", "<=", 50, "p95"),
    Floor("6", "search page server p95 ≤ 50 ms", "http", "pages.server_ms.search", "<=", 50, "p95"),
    Floor("6", "item page server p95 ≤ 50 ms", "http", "pages.server_ms.item", "<=", 50, "p95"),
    Floor("6", "unit page server p95 ≤ 50 ms", "http", "pages.server_ms.unit", "<=", 50, "p95"),
    Floor("6", "unit directory server p95 ≤ 50 ms", "http", "pages.server_ms.units", "<=", 50, "p95"),
    Floor(
        "7",
        "health sweep of 10,000 sources ≤ 60 s",
        "health",
        "total_s",
        "<=",
        60,
        where=(("sources", 10000),),
    ),
    Floor(
        "7",
        "scheduler tick of 100,000 ≤ 1 s (SQLite, worst)",
        "schedule",
        "sqlite_claim_200_of_100000_max_s",
        "<=",
        1,
    ),
    Floor(
        "7",
        "scheduler tick of 100,000 ≤ 1 s (PostgreSQL, worst)",
        "schedule",
        "postgres_claim_200_of_100000_max_s",
        "<=",
        1,
    ),
    Floor(
        "7",
        "worker memory ≤ 500 MB at 10,000 sources (worker process)",
        "schedule",
        "worker_peak_rss_mib",
        "<=",
        MB_500_IN_MIB,
        where=(("crawl_sources", 10000),),
    ),
    Floor(
        "7",
        "worker memory ≤ 500 MB at 10,000 sources (worker + crawl processes)",
        "memory",
        "worker.tree_peak_pss_mib",
        "<=",
        MB_500_IN_MIB,
        where=(("worker.sources", 10000),),
    ),
    Floor(
        "5", "index rebuild from the store ≥ 5,000 docs/s (build floor)", "rebuild", "docs_per_s", ">=", 5000
    ),
    Floor(
        "5",
        "embedded search p95 ≤ 10 ms @100k, during ingest",
        "search_ingest",
        "during_ingest.search_ms",
        "<=",
        10,
        "p95",
        (("docs", 100000),),
    ),
)


def _number(value: str, stat: str | None) -> float | None:
    pattern = rf"\b{stat} (-?[\d.]+)" if stat else r"(-?\d[\d,]*\.?\d*)"
    found = re.search(pattern, value)
    if found is None:
        return None
    try:
        number = float(found.group(1).replace(",", ""))
    except ValueError:
        return None
    return None if math.isnan(number) else number


@dataclass
class Result:
    """One benchmark's run: its command, outcome and the figures it printed."""

    name: str
    command: str
    date: str
    returncode: int
    seconds: float
    load_before: str
    load_after: str
    quick: bool = False
    figures: dict[str, str] = field(default_factory=dict)
    tail: str = ""  # the end of stderr when it failed


def parse_figures(output: str) -> dict[str, str]:
    """The ``name: value`` lines of a benchmark's output, in order; a repeated name gets `` [2]``..."""
    figures: dict[str, str] = {}
    for line in output.splitlines():
        found = FIGURE.match(line.rstrip())
        if found:
            name, number = found.group(1), 2
            while name in figures:  # a name printed once per case (bench/analysis.py): keep each
                name, number = f"{found.group(1)} [{number}]", number + 1
            figures[name] = found.group(2).strip()
    return figures


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def run_bench(
    bench: Bench,
    quick: bool,
    timeout_s: float | None,
    extra: Sequence[str] = (),
    python: str = sys.executable,
) -> Result:
    """Run one benchmark in a fresh interpreter and capture its figures; ``extra`` arguments come last
    (argparse keeps the last value of an option given twice, so they override)."""
    args = [*(bench.quick if quick else bench.full), *extra]
    command = [python, "-m", f"bench.{bench.name}", *args]
    # Rich would wrap long lines at 80 columns when the output is not a terminal.
    env = {**os.environ, "COLUMNS": "1000", "PYTHONUNBUFFERED": "1"}
    before, started = loadavg(), time.perf_counter()
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    # A session of its own: a benchmark stopped on timeout takes its servers and crawl processes along.
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
        code = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        stderr, code = f"{stderr}\nstopped after {timeout_s} s", -1
    shown = " ".join(["python -m", f"bench.{bench.name}", *args])
    return Result(
        name=bench.name,
        command=shown,
        date=date,
        returncode=code,
        seconds=round(time.perf_counter() - started, 1),
        load_before=before,
        load_after=loadavg(),
        quick=quick,
        figures=parse_figures(stdout),
        tail="" if code == 0 else "\n".join(stderr.strip().splitlines()[-5:]),
    )


def machine() -> dict[str, str]:
    """CPU model, cores, RAM, OS and Python of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
        ram = f"{mem_kib / 2**20:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        ram = "unknown"
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "ram": ram,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def git_commit() -> str:
    """The checkout's commit (and whether tracked files differ from it)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit} (uncommitted changes in the checkout)" if dirty else commit


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _data_comment(result: Result) -> str:
    # "--" may not appear inside an HTML comment; JSON reads \u002d back as "-".
    return (
        "<!-- bench:data " + json.dumps(asdict(result), ensure_ascii=False).replace("--", "-\\u002d") + " -->"
    )


def previous_results(section: str) -> dict[str, Result]:
    """The results recorded in an earlier generated section (empty when it has none or is unreadable)."""
    found: dict[str, Result] = {}
    for match in DATA.finditer(section):
        try:
            result = Result(**json.loads(match.group(1)))
        except (TypeError, ValueError):
            continue
        found[result.name] = result
    return found


def render(results: dict[str, Result], header: dict[str, str]) -> str:
    """The generated section, markers included."""
    by_name = [results[bench.name] for bench in BENCHES if bench.name in results]
    by_name += [result for name, result in results.items() if name not in {b.name for b in BENCHES}]
    lines = [
        START,
        "## Generated: every benchmark, `python -m bench --write`",
        "",
        "Written by bench/runner.py; do not edit by hand (the next run replaces everything between the",
        "markers; the history below is hand-written and kept). Each benchmark ran in its own process; the",
        "load average (1/5/15 min) is the machine's before and after it: other engineers' work shares the",
        "2 cores, so wall-clock figures are a share of them and CPU figures are the steadier ones.",
        "",
        f"- Machine: {header['cpu']}, {header['cores']} cores, {header['ram']} RAM, {header['os']}, "
        f"Python {header['python']}",
        f"- Last run: {header['date']}, commit {header['commit']}, {header['mode']}",
        "",
        "### Floors named in the issues",
        "",
        "| issue | floor | bench | measured | verdict | run |",
        "|---|---|---|---|---|---|",
    ]
    for floor in FLOORS:
        result = results.get(floor.bench)
        if result is None:
            lines.append(f"| {floor.issue} | {floor.what} | {floor.bench} | — | not run | |")
            continue
        value, verdict = floor.verdict(result.figures)
        if result.quick and value != "—":
            verdict = "smoke-test size, no verdict"
        when = f"{result.date}, load {result.load_before.split()[0]}"
        lines.append(
            f"| {floor.issue} | {floor.what} | {floor.bench} | {_cell(value)} | {verdict} | {when} |"
        )
    for result in by_name:
        status = "ok" if result.returncode == 0 else f"**FAILED (exit {result.returncode})**"
        if result.quick:
            status += ", quick (smoke-test sizes)"
        lines += [
            "",
            f"### {result.name}",
            "",
            f"`{result.command}` — {result.date}, {status}, {result.seconds} s, "
            f"load {result.load_before} → {result.load_after}",
            "",
        ]
        if result.tail:
            lines += ["```", *result.tail.splitlines(), "```", ""]
        lines += ["| figure | value |", "|---|---|"]
        lines += [f"| {_cell(name)} | {_cell(value)} |" for name, value in result.figures.items()]
        lines.append(_data_comment(result))
    lines.append(END)
    return "\n".join(lines)


def write_results(path: Path, results: dict[str, Result], header: dict[str, str]) -> None:
    """Replace the generated section of ``path`` (added after the title when missing), keeping the
    results of benchmarks not run this time."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    start, end = text.find(START), text.find(END)
    if start != -1 and end > start:
        merged = {**previous_results(text[start:end]), **results}
        before, after = text[:start], text[end + len(END) :]
    else:
        merged = dict(results)
        heading = text.find("\n## ")  # before the first section of the history
        cut = len(text) if heading == -1 else heading + 1
        before, after = text[:cut].rstrip("\n") + "\n\n", "\n\n" + text[cut:].lstrip("\n")
    path.write_text(before + render(merged, header) + after, encoding="utf-8")


def main(argv: Sequence[str] | None = None, echo: Callable[[str], None] = print) -> int:
    """Command-line entry; the exit status is 1 when a benchmark failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test, not figures")
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", choices=[b.name for b in BENCHES], help="run these"
    )
    parser.add_argument("--write", action="store_true", help="replace the generated section of the results")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the results file --write updates")
    parser.add_argument("--timeout", type=float, default=None, help="seconds before a benchmark is stopped")
    parser.add_argument(
        "--args",
        nargs="+",
        default=[],
        metavar="NAME=ARGS",
        help='more arguments for one benchmark, after its own: "rebuild=--items 100000"',
    )
    args = parser.parse_args(argv)
    extra: dict[str, list[str]] = {}
    for given in args.args:
        name, _, more = given.partition("=")
        if name not in {bench.name for bench in BENCHES}:
            parser.error(f"--args: no benchmark {name!r}")
        extra[name] = shlex.split(more)
    chosen = [bench for bench in BENCHES if not args.only or bench.name in args.only]
    results: dict[str, Result] = {}
    for bench in chosen:
        echo(f"== {bench.name} (load {loadavg()})")
        result = run_bench(bench, args.quick, args.timeout, extra.get(bench.name, ()))
        results[bench.name] = result
        for name, value in result.figures.items():
            echo(f"{bench.name}.{name}: {value}")
        echo(f"-- {bench.name}: exit {result.returncode}, {result.seconds} s, load {result.load_after}")
        if result.tail:
            echo(result.tail)
    if args.write:
        header = {
            **machine(),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": git_commit(),
            "mode": "quick (smoke-test sizes, not figures)"
            if args.quick
            else "the issues' sizes" + (" except where a command says otherwise" if extra else ""),
        }
        write_results(args.results, results, header)
        echo(f"wrote {args.results}")
    return 1 if any(result.returncode != 0 for result in results.values()) else 0
