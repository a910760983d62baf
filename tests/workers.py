"""Real ``xinlian worker`` and ``xinlian serve`` processes for the crash, restart and scale-out tests.

Each process is started in a session of its own, so a test can kill it together with its crawl
processes (``kill_group``), as a container runtime or systemd does when a worker is killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hub.models import Item, ItemRevision, ModerationEvent, OutboxEntry, Source
from hub.timeutil import utcnow
from index.backend import SearchBackend, SearchQuery

ROOT = Path(__file__).resolve().parent.parent
POLL_S = 0.2
STOP_GRACE_S = 20.0


def xinlian_command() -> list[str]:
    """The ``xinlian`` console script of this interpreter's environment."""
    script = Path(sys.executable).with_name("xinlian")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from cli.main import main; main()"]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}" = {_toml_value(v)}' for k, v in value.items()) + "}"
    return str(value)


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    """A settings file (demo mode) with ``sections``, as an operator would write it."""
    lines = ["demo = true"]
    for name, options in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in options.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def base_sections(store_url: str, index_path: Path, **worker: Any) -> dict[str, dict[str, Any]]:
    """Store, embedded index, crawl limits for the sample network, and a fast-ticking worker."""
    return {
        "store": {"url": store_url},
        "search": {"backend": "embedded", "embedded_path": str(index_path)},
        "crawl": {
            "allowed_private_hosts": ["127.0.0.1"],
            "download_timeout_s": 5.0,
            "retry_times": 0,
            "processes": 1,
        },
        "worker": {"tick_s": 0.3, "drain_s": 0.5, **worker},
    }


@dataclass
class Process:
    """One ``xinlian`` process (and the processes it starts), its output in ``log``."""

    name: str
    args: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log_file: Any = field(default=None, repr=False)

    def start(self) -> Process:
        self.starts += 1
        self._log_file = self.log.open("ab")
        self._log_file.write(f"\n===== start {self.starts} =====\n".encode())
        self._log_file.flush()
        self.popen = subprocess.Popen(
            [*xinlian_command(), *self.args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill_group reaches its crawl processes
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def kill_group(self) -> None:
        """SIGKILL the process and every process of its group (its crawl processes): no clean-up runs."""
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()
        _wait_group_gone(self.popen.pid)
        self._close_log()

    def stop(self) -> None:
        """Ask it to stop (SIGINT, like Ctrl-C), then kill what is left of its group."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):  # then killed below
                self.popen.wait(timeout=STOP_GRACE_S)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()
        _wait_group_gone(self.popen.pid)
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def _wait_group_gone(pgid: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def worker_process(config: Path, log: Path, name: str = "worker") -> Process:
    """``xinlian --config CONFIG worker`` (not started)."""
    return Process(name, ["--config", str(config), "worker"], log)


def serve_process(config: Path, log: Path, port: int, name: str = "web") -> Process:
    """``xinlian --config CONFIG serve`` on 127.0.0.1:``port`` (not started)."""
    args = ["--config", str(config), "serve", "--host", "127.0.0.1", "--port", str(port)]
    return Process(name, args, log)


@contextlib.contextmanager
def running(*processes: Process) -> Iterator[tuple[Process, ...]]:
    """Start ``processes``; stop every one at the end, whatever happened."""
    try:
        for process in processes:
            process.start()
        yield processes
    finally:
        for process in processes:
            process.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    condition: Callable[[], bool],
    timeout_s: float,
    what: str,
    watch: tuple[Process, ...] = (),
) -> None:
    """Poll ``condition`` until true; fail naming ``what`` (with the output of a process that died)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        for process in watch:
            if process.popen is not None and not process.alive():
                tail = process.output()[-4000:]
                raise AssertionError(f"{process.name} exited while waiting for {what}:\n{tail}")
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}\n{p.output()[-3000:]}" for p in watch)
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}\n{tails}")
        time.sleep(POLL_S)


def wait_for_http(url: str, timeout_s: float, watch: tuple[Process, ...] = ()) -> None:
    """Wait until ``url`` answers at all (any status)."""

    def answers() -> bool:
        try:
            httpx.get(url, timeout=2.0)
        except httpx.HTTPError:
            return False
        return True

    wait_until(answers, timeout_s, f"{url} to answer", watch)


def indexed_states(backend: SearchBackend) -> dict[int, str]:
    """Every document of the index in any state: item id -> state (date order, cursor pages)."""
    found: dict[int, str] = {}
    query = SearchQuery(states=None, sort="date", collapse_reposts=False, limit=200)
    while True:
        result = backend.search(query)
        for hit in result.hits:
            found[hit.item_id] = hit.state
        if not result.next_cursor or not result.hits:
            return found
        query = SearchQuery(
            states=None, sort="date", collapse_reposts=False, limit=200, cursor=result.next_cursor
        )


def expected_urls(truth: dict[str, Any], list_page_depth: int) -> dict[str, set[str]]:
    """Item URLs a complete crawl stores, per source URL (list pages beyond the crawl's depth left out)."""
    return {
        url: {
            item["url"]
            for item in source["items"]
            if item["list_page"] is None or item["list_page"] <= list_page_depth
        }
        for url, source in truth["sources"].items()
    }


def store_problems(session: Session, expected: dict[str, set[str]], revised: set[str]) -> list[str]:
    """How the store differs from a complete, exactly-once ingest of ``expected``: items missing or extra
    per source, duplicates, revisions other than 1 (2 for the ``revised`` URLs), events and outbox rows
    not one per change. Empty when it matches."""
    problems: list[str] = []
    sources = dict(session.execute(select(Source.url, Source.id)).all())
    stored: dict[int, list[str]] = defaultdict(list)
    for source_id, url in session.execute(select(Item.source_id, Item.url)):
        stored[source_id].append(url)
    for url, urls in expected.items():
        have = stored.get(sources[url], [])
        if missing := urls - set(have):
            problems.append(f"{url}: {len(missing)} items missing, e.g. {sorted(missing)[:2]}")
        if extra := set(have) - urls:
            problems.append(f"{url}: {len(extra)} unexpected items, e.g. {sorted(extra)[:2]}")
        if len(have) != len(set(have)):
            problems.append(f"{url}: {len(have) - len(set(have))} duplicate items")
    revisions: dict[str, list[int]] = defaultdict(list)
    for url, number in session.execute(
        select(Item.url, ItemRevision.number).join(ItemRevision, ItemRevision.item_id == Item.id)
    ):
        revisions[url].append(number)
    for item_url, count in session.execute(select(Item.url, Item.revision_count)):
        want = [1, 2] if item_url in revised else [1]
        got = sorted(revisions[item_url])
        if got != want or count != len(want):
            problems.append(f"{item_url}: revisions {got} (revision_count {count}), want {want}")
    events = Counter(session.execute(select(ModerationEvent.item_id, ModerationEvent.action)).all())
    if doubled := [key for key, n in events.items() if n > 1 and key[1] in ("submitted", "revised")]:
        problems.append(f"{len(doubled)} items with a doubled submitted/revised event, e.g. {doubled[:3]}")
    return problems


def crawl_settled(session: Session, horizon_s: float = 60.0) -> bool:
    """The crawl is done for now: no enabled source due within ``horizon_s`` or leased (a source being
    crawled is leased, its next check pushed to the lease's end), and the index outbox is empty."""
    now = utcnow()
    due = session.scalar(
        select(func.count())
        .select_from(Source)
        .where(
            Source.enabled.is_(True),
            or_(Source.next_check_at.is_(None), Source.next_check_at < now + timedelta(seconds=horizon_s)),
        )
    )
    leased = session.scalar(select(func.count()).select_from(Source).where(Source.leased_until > now))
    outbox = session.scalar(select(func.count()).select_from(OutboxEntry))
    return due == 0 and leased == 0 and outbox == 0
