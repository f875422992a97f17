"""``qa-serve``: serve a bundle over HTTP. Needs the ``serve`` extra (Starlette, uvicorn, prometheus-client).

Lifecycle: SIGHUP re-reads the bundle directory (a refused bundle keeps the old one serving);
SIGTERM or Ctrl-C turns readiness false and stops accepting, lets requests in flight finish, then
exits 0 (uvicorn's graceful shutdown).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

import click

from rnnqa.cli_common import report_errors

DEFAULT_BUNDLE_DIR = Path("artifacts/bundle")


@click.command(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option("--bundle", "bundle_dir", default=DEFAULT_BUNDLE_DIR, type=click.Path(path_type=Path),
              help="Bundle directory written by qa-export.")
@click.option("--host", default="127.0.0.1", help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", default=8000, type=click.IntRange(0, 65535), help="Port (0: any free port, printed).")
@click.option("--name", default="rnnqa", help="The model's name in the /v2 routes.")
@click.option("--max-batch", default=256, type=click.IntRange(min=1), help="Questions per onnxruntime call.")
@click.option("--max-wait-us", default=0, type=click.IntRange(min=0),
              help="How long a batch waits for more requests (0: never).")
@click.option("--max-queue", default=4096, type=click.IntRange(min=1), help="Questions queued before 503s.")
@click.option("--timeout", "timeout_s", default=10.0, type=click.FloatRange(min=0.001),
              help="Seconds a request may wait in the queue.")
@click.option("--overload-status", default=503, type=click.Choice(["503", "429"]), help="Status when over capacity.")
@click.option("--admin-token", envvar="RNNQA_ADMIN_TOKEN", help="Allows /admin/reload from other hosts.")
@click.option("--log-questions", is_flag=True, help="Put question text in the request log.")
@click.option("--threads", type=click.IntRange(min=1), help="onnxruntime intra-op threads (default 1).")
@report_errors
def main(bundle_dir: Path, host: str, port: int, name: str, max_batch: int, max_wait_us: int, max_queue: int,
         timeout_s: float, overload_status: str, admin_token: str | None, log_questions: bool,
         threads: int | None) -> None:
    """Serve BUNDLE over HTTP: POST /v1/answer, the Open Inference Protocol v2 routes, /metrics."""
    import uvicorn

    from rnnqa.runtime import QAModel
    from rnnqa.serve.app import ServeConfig, create_app
    from rnnqa.serve.batcher import BatchConfig

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    model = QAModel.load(bundle_dir, threads=threads)
    config = ServeConfig(name=name, batch=BatchConfig(max_batch, max_wait_us, max_queue, timeout_s),
                         overload_status=int(overload_status), admin_token=admin_token, log_questions=log_questions)
    app = create_app(model, config)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                           timeout_graceful_shutdown=30))
    service = app.state.service

    def on_hup(signum, frame) -> None:
        log = logging.getLogger("rnnqa.serve")
        try:
            served = service.reload()
            log.info(json.dumps({"event": "reload", "bundle": served["model_sha256"]}))
        except Exception as exc:  # noqa: BLE001 - a refused bundle keeps the old one; say why
            log.warning(json.dumps({"event": "reload refused", "error": str(exc)}, ensure_ascii=False))

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

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()
        click.echo(f"serving {bundle_dir} on http://{bound[0]}:{bound[1]}/", err=True)

    async def run() -> None:
        await asyncio.gather(server.serve(), announce())

    asyncio.run(run())
