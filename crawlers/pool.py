"""A pool of long-lived crawl worker processes (docs/architecture.md step 4).

Each worker (crawlers/process.py) imports Scrapy once and keeps its reactor running; a run is split by
host (crawlers/partition.py) and each part is sent to one worker over its stdin. The pool waits for
every part's ``done``. A worker that dies mid-run loses nothing that was written: its sources without
an outcome are closed as aborted by the runner, and the pool starts a replacement.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from pydantic import SecretStr

from crawlers.partition import Part
from hub.settings import Settings

logger = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.25
# A worker takes this long at most to import Scrapy and start its reactor.
READY_TIMEOUT_S = 120.0
# A worker that has not stopped a cancelled run (or exited) this long after being asked is killed.
STOP_GRACE_S = 10.0


class WorkerDied(RuntimeError):
    """A crawl worker process ended before answering."""


def usable_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _revealed(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _revealed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_revealed(item) for item in value]
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value


def settings_message(settings: Settings) -> dict[str, Any]:
    """The settings as the worker's first message (secrets in clear: a pipe, never a command line)."""
    return {"settings": _revealed(settings.model_dump(mode="python"))}


@dataclass
class WorkerProcess:
    """One crawl worker process and the two pipes to it."""

    process: subprocess.Popen[bytes]
    reply_fd: int
    ready: bool = False
    started: float = field(default_factory=time.monotonic)
    _buffer: bytes = b""

    @classmethod
    def spawn(cls, settings: Settings) -> WorkerProcess:
        """Start a worker and send it the settings; it answers ``ready`` once its reactor runs."""
        read_fd, write_fd = os.pipe()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "crawlers.process", "--reply-fd", str(write_fd)],
                stdin=subprocess.PIPE,
                pass_fds=(write_fd,),
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        worker = cls(process, read_fd)
        worker.send(settings_message(settings))
        return worker

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def stdin(self) -> IO[bytes]:
        assert self.process.stdin is not None
        return self.process.stdin

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: dict[str, Any]) -> bool:
        """Write one message; False when the worker is gone."""
        try:
            self.stdin.write(json.dumps(message, default=str).encode("utf-8") + b"\n")
            self.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            return False
        return True

    def read(self) -> list[dict[str, Any]] | None:
        """Messages waiting on the reply pipe (call when select says readable); None at end of pipe."""
        chunk = os.read(self.reply_fd, 65536)
        if not chunk:
            return None
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        messages = [json.loads(line) for line in lines if line.strip()]
        if any("ready" in message for message in messages):
            self.ready = True
        return messages

    def kill(self) -> None:
        """End the worker at once (it stopped answering)."""
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.close_pipes()

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Close its stdin (it finishes what it writes and exits); kill it after ``grace_s``."""
        with contextlib.suppress(OSError, ValueError):
            self.stdin.close()
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.kill()
        self.close_pipes()

    def close_pipes(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.stdin.close()
        if self.reply_fd >= 0:
            os.close(self.reply_fd)
            self.reply_fd = -1


@dataclass(slots=True)
class PartResult:
    """How one part of a run ended in its worker."""

    pid: int
    source_ids: list[int]
    finished: bool  # the worker answered done (every source of the part has its outcome)
    message: str | None = None  # why not


class CrawlPool:
    """Long-lived crawl workers for one set of settings; runs one crawl at a time."""

    def __init__(self, settings: Settings, processes: int | None = None) -> None:
        self.settings = settings
        self.size = max(1, processes or settings.crawl.processes or usable_cores())
        self.workers: list[WorkerProcess] = []
        self._lock = threading.Lock()

    def __enter__(self) -> CrawlPool:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> float:
        """Start the workers and wait until each runs its reactor; returns the seconds it took."""
        began = time.monotonic()
        while len(self.workers) < self.size:
            self.workers.append(WorkerProcess.spawn(self.settings))
        self._wait_ready(self.workers)
        return time.monotonic() - began

    def pids(self) -> list[int]:
        """Process ids of the workers, in order."""
        return [worker.pid for worker in self.workers]

    def close(self) -> None:
        """Stop every worker (each finishes its writes first)."""
        with self._lock:
            workers, self.workers = self.workers, []
            for worker in workers:
                with contextlib.suppress(OSError, ValueError):
                    worker.stdin.close()
            for worker in workers:
                worker.stop()

    def replace_dead(self) -> None:
        """Start a process for each one that ended and wait until it is ready (between runs)."""
        with self._lock:
            self._replace_dead()
            self._wait_ready(self.workers)

    def _replace_dead(self) -> None:
        for index, worker in enumerate(self.workers):
            if not worker.alive():
                logger.warning(
                    "crawl worker %d ended (code %s); starting another", worker.pid, worker.process.returncode
                )
                worker.close_pipes()
                self.workers[index] = WorkerProcess.spawn(self.settings)

    def _wait_ready(self, workers: list[WorkerProcess]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not all(worker.ready for worker in workers):
            waiting = [worker for worker in workers if not worker.ready]
            for worker in waiting:
                if not worker.alive():
                    raise WorkerDied(
                        f"crawl worker {worker.pid} exited with code {worker.process.returncode}"
                    )
            if time.monotonic() > deadline:
                raise WorkerDied("crawl workers did not start in time")
            readable, _, _ = select.select([worker.reply_fd for worker in waiting], [], [], POLL_INTERVAL_S)
            for worker in waiting:
                if worker.reply_fd in readable and worker.read() is None and not worker.alive():
                    raise WorkerDied(f"crawl worker {worker.pid} exited with code {worker.process.wait()}")

    def run(
        self, run_id: int, parts: list[Part], on_tick: Callable[[], None] | None = None
    ) -> list[PartResult]:
        """Send each part of run ``run_id`` to a worker and wait until all are done or lost.

        Interrupted (an exception from ``on_tick``, Ctrl-C), the run is cancelled in every worker, which
        records its unfinished sources as aborted; a worker that does not stop in time is killed.
        """
        if len(parts) > self.size:
            raise ValueError(f"{len(parts)} parts for a pool of {self.size} workers")
        with self._lock:
            self._replace_dead()
            self._wait_ready(self.workers)
            pending: dict[int, tuple[WorkerProcess, Part]] = {}
            results: list[PartResult] = []
            for worker, part in zip(self.workers, parts, strict=False):
                message = {"run": run_id, "source_ids": part.source_ids, "host_shares": part.host_shares}
                if worker.send(message):
                    pending[worker.pid] = (worker, part)
                else:
                    results.append(
                        PartResult(worker.pid, part.source_ids, False, "the crawl worker was gone")
                    )
            try:
                self._wait_done(run_id, pending, results, on_tick)
            except BaseException:
                self._cancel(run_id, pending, results)
                raise
            finally:
                self._replace_dead()
            return results

    def _wait_done(
        self,
        run_id: int,
        pending: dict[int, tuple[WorkerProcess, Part]],
        results: list[PartResult],
        on_tick: Callable[[], None] | None,
        deadline: float | None = None,
    ) -> None:
        while pending:
            if deadline is not None and time.monotonic() > deadline:
                return
            fds = {worker.reply_fd: worker for worker, _ in pending.values()}
            readable, _, _ = select.select(list(fds), [], [], POLL_INTERVAL_S)
            for fd in readable:
                worker = fds[fd]
                messages = worker.read()
                part = pending[worker.pid][1]
                if messages is None:
                    code = worker.process.wait()
                    pending.pop(worker.pid)
                    why = f"the crawl worker process {worker.pid} died (exit code {code})"
                    results.append(PartResult(worker.pid, part.source_ids, False, why))
                elif any(message.get("done") == run_id for message in messages):
                    pending.pop(worker.pid)
                    results.append(PartResult(worker.pid, part.source_ids, True))
            if on_tick is not None:
                on_tick()

    def _cancel(
        self, run_id: int, pending: dict[int, tuple[WorkerProcess, Part]], results: list[PartResult]
    ) -> None:
        for worker, _ in pending.values():
            worker.send({"cancel": run_id})
        with contextlib.suppress(Exception):
            self._wait_done(run_id, pending, results, None, deadline=time.monotonic() + STOP_GRACE_S)
        for worker, part in list(pending.values()):
            # It did not stop in time: nothing more may be written for the run once it is closed.
            worker.kill()
            results.append(PartResult(worker.pid, part.source_ids, False, "the crawl was interrupted"))
        pending.clear()
