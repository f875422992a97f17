"""One serving process: load the bundle, build the app, run uvicorn until SIGTERM, reload on SIGHUP.

Runs alone (``qa-serve``, one worker) or as one of ``--workers`` processes under :mod:`rnnqa.serve.workers`,
which hands it the listening socket and a shared file naming the bundle to serve.

Lifecycle: SIGHUP re-reads the bundle directory (a refused bundle keeps the old one serving);
SIGTERM or SIGINT turns readiness false and stops accepting, lets requests in flight finish, then
exits 0 (uvicorn's graceful shutdown).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rnnqa.serve.app import ServeConfig
from rnnqa.serve.logstream import LogStream

log = logging.getLogger("rnnqa.serve")


@dataclass(frozen=True)
class ServeOptions:
    """Everything one serving process needs (picklable: ``--workers`` hands it to each process)."""

    bundle_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    config: ServeConfig = field(default_factory=ServeConfig)
    threads: int | None = None  # onnxruntime intra-op threads
    public_key: Path | None = None  # the key every bundle served must be signed with (None: $RNNQA_PUBLIC_KEY)
    loop: str = "asyncio"
    workers: int = 1
    graceful_s: float = 30.0


@dataclass(frozen=True)
class Shared:
    """What a worker shares with its siblings: the listening socket and the file naming the bundle served."""

    sock: socket.socket
    bundle_file: Path
    tell: Callable[[], None] | None = None  # tells the supervisor this worker reloaded from /admin/reload

    def bundle_dir(self) -> Path:
        """The bundle the workers serve."""
        return Path(self.bundle_file.read_text(encoding="utf-8"))

    def record(self, bundle_dir: Path) -> None:
        """Name ``bundle_dir`` as the bundle served, atomically (two workers may reload at once)."""
        tmp = self.bundle_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(str(Path(bundle_dir).resolve()), encoding="utf-8")
        os.replace(tmp, self.bundle_file)


def setup_logging() -> None:
    """One JSON line per request on stderr, which becomes a :class:`LogStream` (request lines buffered for
    up to 0.1 s, everything else at once, in order). The caller lookup, thread and process names are off:
    the request log says what it needs in its message (logging HOWTO, "Optimization")."""
    logging._srcfile = None  # noqa: SLF001 - the documented switch for the caller lookup
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    if not isinstance(sys.stderr, LogStream):
        sys.stderr = LogStream(sys.stderr)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)


def request_log() -> Callable[[str], None]:
    """Where the request log's lines go: the stderr LogStream's buffer where ``log.info`` would write them
    there unchanged (setup_logging's handler alone: no handler, filter or level on the way), else
    ``log.info`` itself."""
    stream, root = sys.stderr, logging.getLogger()
    chain, logger = [], log
    while logger is not root:
        chain.append(logger)
        logger = logger.parent
    if (not isinstance(stream, LogStream) or root.filters or len(root.handlers) != 1
            or any(lg.handlers or lg.filters or not lg.propagate for lg in chain)):
        return log.info
    (handler,) = root.handlers
    formatter = handler.formatter
    if (type(handler) is not logging.StreamHandler or handler.stream is not stream or handler.filters
            or handler.level > logging.INFO or formatter is None or formatter._fmt != "%(message)s"):  # noqa: SLF001
        return log.info
    return stream.request


def run_server(options: ServeOptions, shared: Shared | None = None, on_started: Callable[[], None] | None = None) -> None:
    """Serve until SIGTERM/SIGINT; return once drained.

    Raises:
        BundleError: the bundle was refused at start.
    """
    import uvicorn

    from rnnqa.runtime import QAModel
    from rnnqa.serve.app import create_app

    bundle_dir = shared.bundle_dir() if shared else options.bundle_dir
    model = QAModel.load(bundle_dir, threads=options.threads, public_key=options.public_key)
    app = create_app(model, options.config)
    service = app.state.service
    service.request_log = request_log()
    if shared:
        service.on_reload = lambda served_dir: _tell_siblings(shared, served_dir)
    server = uvicorn.Server(uvicorn.Config(app, host=options.host, port=options.port, log_level="warning",
                                           access_log=False, loop=options.loop,
                                           timeout_graceful_shutdown=options.graceful_s))

    def on_hup(signum, frame) -> None:
        try:
            source = shared.bundle_dir() if shared else None
            served = service.reload(source)
            log.info(json.dumps({"event": "reload", "bundle": served["model_sha256"], "pid": os.getpid()}))
        except Exception as exc:  # noqa: BLE001 - a refused bundle keeps the old one; say why
            log.warning(json.dumps({"event": "reload refused", "error": str(exc), "pid": os.getpid()},
                                   ensure_ascii=False))

    original_exit = server.handle_exit

    def on_exit(sig, frame) -> None:
        service.draining = True  # ready turns false before the listener closes
        original_exit(sig, frame)

    server.handle_exit = on_exit
    signal.signal(signal.SIGHUP, on_hup)
    # uvicorn re-raises the stopping signal once drained, into the handler it found: make that a no-op,
    # so a graceful stop exits 0 instead of dying of the signal.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda signum, frame: None)

    async def started() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.01)
        if on_started:
            on_started()
        else:
            host, port = server.servers[0].sockets[0].getsockname()[:2]
            print(f"serving {bundle_dir} on {url(host, port)}", file=sys.stderr, flush=True)

    async def orphaned() -> None:
        """A worker whose supervisor died (even by SIGKILL) drains and exits instead of serving on alone."""
        parent = os.getppid()
        while not server.should_exit:
            if os.getppid() != parent:
                log.warning(json.dumps({"event": "supervisor gone, stopping", "pid": os.getpid()}))
                on_exit(signal.SIGTERM, None)
            await asyncio.sleep(0.5)

    async def run() -> None:
        await asyncio.gather(server.serve(sockets=[shared.sock] if shared else None), started(),
                             *([orphaned()] if shared else []))

    _run_on(run(), server.config.get_loop_factory())


def url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _tell_siblings(shared: Shared, served_dir: Path) -> None:
    """This worker reloaded from /admin/reload: record the bundle and ask the supervisor to reload the others."""
    try:
        shared.record(served_dir)
        shared.tell()
    except OSError as exc:  # this worker serves the new bundle; say that the others may not
        log.warning(json.dumps({"event": "reload not relayed to the other workers", "error": str(exc),
                                "pid": os.getpid()}, ensure_ascii=False))


def _run_on(coro, loop_factory) -> None:
    if loop_factory is None:
        asyncio.run(coro)
        return
    loop = loop_factory()
    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(coro)
    finally:
        asyncio.set_event_loop(None)
        loop.close()
