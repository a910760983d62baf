"""Crawl processes of this machine joining the frontier runs of another (``xinlian crawl join``).

A runner with ``crawl.frontier_remote_processes`` = R lists its run in ``<prefix>:open`` and keeps R slots
(crawlers/frontier/slots.py). The joiner polls that set; for each open run with a free slot it sends one
idle crawl process of its pool a job of the run with no sources of its own: the process then runs only
the run's frontier crawler (crawlers/process.py), taking requests from the shared queue and writing
items and outcomes to the store as the runner's own processes do. When the job ends (the run is over,
or the stall rule made the process leave) or its process dies, the slot's process is marked ``left``, so
the runner stops waiting for it. Slots are not given back: a process leaves a run only when it is over.
"""

from __future__ import annotations

import logging
import select
import threading
from dataclasses import dataclass

import redis

from crawlers.frontier.keys import RunKeys
from crawlers.frontier.runs import delete_run
from crawlers.frontier.slots import leave, open_run_ids, take_slot
from crawlers.pool import STOP_GRACE_S, CrawlPool, WorkerProcess
from hub.settings import Settings

logger = logging.getLogger(__name__)

POLL_S = 1.0  # how often the open runs are looked at


@dataclass(slots=True)
class Joined:
    """A crawl process of ours working in run ``run_id``."""

    worker: WorkerProcess
    run_id: int


class Joiner:
    """Sends the processes of ``pool`` to open frontier runs with free slots, one run per process."""

    def __init__(self, settings: Settings, pool: CrawlPool, client: redis.Redis) -> None:
        self.prefix = settings.crawl.frontier_key_prefix
        self.pool = pool
        self.client = client
        self.busy: dict[int, Joined] = {}  # worker pid -> its run
        self.joined: list[int] = []  # run ids joined, once per process sent (what the command reports)

    def run(self, stop: threading.Event, once: bool = False) -> None:
        """Join open runs until ``stop`` is set; ``once``: join the runs open now and return when our
        processes are done with them. Stopped, the processes still in a run are cancelled there."""
        try:
            self.join_open_runs()
            while not stop.is_set() and (self.busy or not once):
                self.wait(POLL_S, stop)
                if once:
                    continue
                try:
                    self.join_open_runs()
                except redis.RedisError as exc:  # Redis restarting: the next poll tries again
                    logger.warning("frontier runs not read (%s)", exc)
        finally:
            self.cancel()

    def join_open_runs(self) -> int:
        """Send an idle process to every open run with a free slot; how many were sent."""
        sent = 0
        for run_id in open_run_ids(self.client, self.prefix):
            keys = RunKeys(self.prefix, run_id)
            # An idle process first: a slot is taken only for a process that can use it at once.
            while (worker := self._idle()) is not None and take_slot(self.client, keys):
                if not worker.send({"run": run_id, "source_ids": [], "host_shares": {}}):
                    leave(self.client, keys)  # it died just now; the slot stays taken, unused
                    continue
                logger.info("crawl process %d joined frontier run %d", worker.pid, run_id)
                self.busy[worker.pid] = Joined(worker, run_id)
                self.joined.append(run_id)
                sent += 1
        return sent

    def _idle(self) -> WorkerProcess | None:
        for worker in self.pool.workers:
            if worker.ready and worker.alive() and worker.pid not in self.busy:
                return worker
        return None

    def wait(self, timeout_s: float, stop: threading.Event) -> None:
        """Read our busy processes' replies for up to ``timeout_s``; a job done or a process dead ends
        its part in the run."""
        if not self.busy:
            stop.wait(timeout_s)
            return
        fds = {joined.worker.reply_fd: joined for joined in self.busy.values()}
        readable, _, _ = select.select(list(fds), [], [], timeout_s)
        died = False
        for fd in readable:
            joined = fds[fd]
            messages = joined.worker.read()
            if messages is None:
                logger.warning("crawl process %d died in frontier run %d", joined.worker.pid, joined.run_id)
                died = True
            elif not any(message.get("done") == joined.run_id for message in messages):
                continue
            self._left(joined)
        if died:
            self.pool.replace_dead()

    def _left(self, joined: Joined) -> None:
        self.busy.pop(joined.worker.pid, None)
        keys = RunKeys(self.prefix, joined.run_id)
        try:
            leave(self.client, keys)
            if not self.client.exists(keys.run):
                # The runner ended the run while we were still in it (it waits for joiners only so long):
                # whatever our process wrote to the run's keys since then would stay.
                delete_run(self.client, keys)
        except redis.RedisError as exc:
            # The runner stops waiting for us after crawl.frontier_stall_s anyway.
            logger.warning("frontier run %d: our leaving not recorded (%s)", joined.run_id, exc)

    def cancel(self) -> None:
        """Stop our processes' runs (their held requests are lost, as for a local process stopped; the
        run's stall rule copes) and wait for them to answer."""
        for joined in self.busy.values():
            joined.worker.send({"cancel": joined.run_id})
        stop = threading.Event()
        deadline = STOP_GRACE_S
        while self.busy and deadline > 0:
            self.wait(0.25, stop)
            deadline -= 0.25
        for joined in list(self.busy.values()):
            joined.worker.kill()
            self._left(joined)
