"""``qa-serve --workers N``: N serving processes on one listening socket, under a small supervisor.

Each worker is a fresh (spawned) process running :func:`rnnqa.serve.process.run_server` with its own
onnxruntime session and GIL; the kernel spreads connections over them. The supervisor owns the
socket, a directory of Prometheus multiprocess files (so ``/metrics`` from any worker counts every
worker) and a file naming the bundle served, and waits for signals:

- SIGHUP: every worker re-reads the bundle; a worker that refuses it keeps its old one.
- A worker that took a new bundle through ``/admin/reload`` writes its path to the shared file and says
  so on its pipe to the supervisor; the others reload from the file. Each worker has a pipe of its own, so
  a worker killed halfway through a message (a kill is the one thing it cannot guard against) leaves a torn
  message in its own pipe only: the supervisor reads EOF there, and no sibling is left waiting for a lock
  the dead worker held (as with one shared queue).
- SIGTERM/SIGINT: every worker drains as one qa-serve does; exit 0 once all exited 0.
- A worker that dies is replaced; five deaths within a second of their start stop the server.
"""

from __future__ import annotations

import collections
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from rnnqa.errors import RnnqaError
from rnnqa.serve.process import ServeOptions, Shared, run_server, setup_logging, url

log = logging.getLogger("rnnqa.serve")
SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
START_TIMEOUT_S = 120.0
QUICK_DEATHS = 5  # in a row, each before serving or within a second of it: give up


class WorkersFailed(RnnqaError):
    """A worker could not start, or workers kept dying."""


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    started_at: float  # monotonic
    spawned_at: float  # wall clock, against the bundle file's mtime
    conn: multiprocessing.connection.Connection | None  # the worker's messages; None once it read EOF
    serving: bool = False  # said "started": its exit code counts at stop (one still loading took nothing in)


def supervise(options: ServeOptions) -> int:
    """Run ``options.workers`` serving processes until SIGTERM/SIGINT; the exit code (0: all drained).

    Raises:
        WorkersFailed: a worker did not start (its reason is in the log above).
    """
    sock = _listen(options.host, options.port)
    host, port = sock.getsockname()[:2]
    received: collections.deque[int] = collections.deque()
    for signum in SIGNALS:  # Python runs these in the main thread, whichever thread the kernel picked
        signal.signal(signum, lambda signum, frame: received.append(signum))
    with tempfile.TemporaryDirectory(prefix="rnnqa-serve-") as tmp:
        metrics_dir = Path(tmp, "metrics")
        metrics_dir.mkdir()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)  # read by prometheus_client in each worker
        shared = Shared(sock, Path(tmp, "bundle"))
        shared.record(options.bundle_dir)
        context = multiprocessing.get_context("spawn")
        workers = [_start(context, options, shared) for _ in range(options.workers)]
        try:
            if not _wait_started(workers, received, shared):
                return _stop(workers, options)  # asked to stop while starting: not a failure
            print(f"serving {options.bundle_dir} on {url(host, port)} with {options.workers} workers",
                  file=sys.stderr, flush=True)
            return _supervise(context, options, shared, received, workers, metrics_dir)
        except BaseException:
            _stop(workers, options)  # never leave workers serving without their supervisor
            raise


def _supervise(context, options, shared, received, workers: list[_Worker], metrics_dir: Path) -> int:
    quick_deaths = 0
    while True:
        events = _messages(workers, timeout=0.1)  # a signal cuts the wait short
        while received:
            signum = received.popleft()
            if signum in (signal.SIGTERM, signal.SIGINT):
                return _stop(workers, options)
            _signal(workers, signal.SIGHUP)
        for event in events:
            _on_event(*event, workers, shared)
        for i, worker in enumerate(workers):
            if worker.process.is_alive():
                continue
            worker.process.join()
            _close(worker)
            _mark_dead(worker.process.pid, metrics_dir)
            quick = not worker.serving or time.monotonic() - worker.started_at < 1.0  # died starting
            quick_deaths = quick_deaths + 1 if quick else 0
            log.warning(json.dumps({"event": "worker died", "pid": worker.process.pid,
                                    "exitcode": worker.process.exitcode}))
            if quick_deaths >= QUICK_DEATHS:  # supervise() stops the others
                raise WorkersFailed(f"workers died {QUICK_DEATHS} times in a row while starting")
            workers[i] = _start(context, options, shared)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP (else every
    # small response waits for a delayed ACK, ~40 ms)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise WorkersFailed(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _start(context, options: ServeOptions, shared: Shared) -> _Worker:
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_worker_main, args=(options, shared, sender), name="rnnqa-serve-worker")
    spawned_at = time.time()
    process.start()
    sender.close()  # the worker holds the only writing end: its death is EOF here, even mid-message
    return _Worker(process, time.monotonic(), spawned_at, receiver)


def _messages(workers: list[_Worker], timeout: float) -> list[tuple[str, int]]:
    """The ``(event, pid)`` messages the workers sent, waiting at most ``timeout`` for the first.

    A pipe at EOF (its worker exited, or was killed writing) is closed and yields nothing more."""
    conns = {w.conn: w for w in workers if w.conn is not None}
    if not conns:
        time.sleep(timeout)
        return []
    events = []
    for conn in multiprocessing.connection.wait(list(conns), timeout):
        try:
            event, pid = conn.recv()
        except (EOFError, OSError, ValueError, TypeError):  # gone, or a torn or foreign message: stop reading
            _close(conns[conn])
            continue
        events.append((event, pid))
    return events


def _close(worker: _Worker) -> None:
    if worker.conn is not None:
        worker.conn.close()
        worker.conn = None


def _on_event(event: str, pid: int, workers: list[_Worker], shared: Shared) -> bool:
    """A worker's message; True when it says a worker started serving.

    "reloaded": it took a bundle through /admin/reload, so the others load it too. "started": it serves;
    if a reload landed while it was loading (the bundle file is newer than the worker), it loads that.
    """
    if event == "reloaded":
        _signal([w for w in workers if w.process.pid != pid], signal.SIGHUP)
        return False
    worker = next((w for w in workers if w.process.pid == pid and not w.serving), None)
    if worker is None:
        return False
    worker.serving = True
    if shared.bundle_file.stat().st_mtime > worker.spawned_at:
        os.kill(pid, signal.SIGHUP)
    return True


def _wait_started(workers: list[_Worker], received, shared: Shared) -> bool:
    """Until every worker serves (True), or a stop signal came first (False)."""
    deadline, ready = time.monotonic() + START_TIMEOUT_S, 0
    while ready < len(workers):
        if any(signum in (signal.SIGTERM, signal.SIGINT) for signum in received):
            return False
        events = _messages(workers, timeout=0.02)
        if events:
            ready += sum(_on_event(*event, workers, shared) for event in events)
            continue
        dead = [w.process for w in workers if not w.process.is_alive()]
        if dead:
            raise WorkersFailed(f"worker {dead[0].pid} exited with {dead[0].exitcode} before serving")
        if time.monotonic() > deadline:
            raise WorkersFailed(f"{len(workers) - ready} workers not serving after {START_TIMEOUT_S:.0f} s")
    return True


def _signal(workers: list[_Worker], signum: int) -> None:
    for worker in workers:
        if worker.process.is_alive():
            os.kill(worker.process.pid, signum)


def _stop(workers: list[_Worker], options: ServeOptions) -> int:
    """SIGTERM every worker; wait for all of them together at most the graceful time (plus 10 s), then
    kill what is left. The exit code: 0 when every worker that was serving exited 0."""
    _signal(workers, signal.SIGTERM)
    codes, deadline = [], time.monotonic() + options.graceful_s + 10
    for worker in workers:
        worker.process.join(max(0.0, deadline - time.monotonic()))
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        if worker.serving:
            codes.append(worker.process.exitcode)
    return 0 if all(code == 0 for code in codes) else 1


def _mark_dead(pid: int, metrics_dir: Path) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, str(metrics_dir))


def _worker_main(options: ServeOptions, shared: Shared, conn: multiprocessing.connection.Connection) -> None:
    """A worker process in its own process group (a terminal's Ctrl-C reaches the supervisor alone, which
    stops the workers once)."""
    os.setpgid(0, 0)
    # Until run_server installs its handlers: a stop while loading exits 0 (nothing taken in yet), and a
    # SIGHUP is moot (the bundle is being read now).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    setup_logging()
    shared = replace(shared, tell=lambda: conn.send(("reloaded", os.getpid())))
    try:
        run_server(options, shared, on_started=lambda: conn.send(("started", os.getpid())))
    except RnnqaError as exc:
        log.error(json.dumps({"event": "worker failed", "error": str(exc), "pid": os.getpid()}, ensure_ascii=False))
        sys.exit(1)
