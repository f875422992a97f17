"""``qa-serve``: serve a bundle over HTTP. Needs the ``serve`` extra (Starlette, uvicorn, prometheus-client).

Lifecycle (:mod:`rnnqa.serve.process`, :mod:`rnnqa.serve.workers`): SIGHUP re-reads the bundle directory
(a refused bundle keeps the old one serving); SIGTERM or Ctrl-C turns readiness false and stops
accepting, lets requests in flight finish, then exits 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rnnqa.cli_common import report_errors

DEFAULT_BUNDLE_DIR = Path("artifacts/bundle")
# uvloop is uvicorn's "auto" choice, but on this workload it gave ≤ 5% more requests/s and a no-op p99 at
# 64 connections that ranged from 11 to 115 ms over a dozen runs (asyncio's: 9-12 ms; BENCHMARKS.md).
LOOPS = ("asyncio", "uvloop")
ENGINES = ("uvicorn", "ray")


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
@click.option("--public-key", type=click.Path(path_type=Path),
              help="Serve (and reload) only bundles signed with this PEM ECDSA key's private half (needs rnnqa[sign]; "
                   "default: $RNNQA_PUBLIC_KEY, else no check).")
@click.option("--workers", default=1, type=click.IntRange(1, 64),
              help="Serving processes on one socket, each with its own model and GIL.")
@click.option("--loop", default="asyncio", type=click.Choice(LOOPS),
              help="Event loop (asyncio measured the better tail latency here: docs/serve.md).")
@click.option("--engine", default="uvicorn", type=click.Choice(ENGINES),
              help="uvicorn: this machine (--workers); ray: replicas on a Ray cluster (needs rnnqa[ray]).")
@click.option("--address", help="--engine ray: the cluster (auto, or ray://host:10001; default: a new local one).")
@click.option("--replicas", type=click.IntRange(min=1), help="--engine ray: replicas (default 1).")
@click.option("--autoscaling", "autoscaling_json",
              help="--engine ray: Ray Serve's autoscaling_config as JSON, passed through, "
                   "e.g. '{\"min_replicas\": 1, \"max_replicas\": 4}'.")
@report_errors
def main(bundle_dir: Path, host: str, port: int, name: str, max_batch: int, max_wait_us: int, max_queue: int,
         timeout_s: float, overload_status: str, admin_token: str | None, log_questions: bool,
         threads: int | None, public_key: Path | None, workers: int, loop: str, engine: str, address: str | None,
         replicas: int | None, autoscaling_json: str | None) -> None:
    """Serve BUNDLE over HTTP: POST /v1/answer, the Open Inference Protocol v2 routes, /metrics."""
    if engine == "uvicorn" and (address or replicas or autoscaling_json):
        raise click.UsageError("--address, --replicas and --autoscaling go with --engine ray")
    if engine == "ray" and (workers != 1 or loop != "asyncio"):
        raise click.UsageError("--workers and --loop go with --engine uvicorn (Ray Serve runs replicas)")
    try:
        from rnnqa.serve.app import ServeConfig
        from rnnqa.serve.batcher import BatchConfig
        from rnnqa.serve.process import ServeOptions, run_server, setup_logging
    except ImportError as exc:
        raise click.ClickException(f"qa-serve needs the serve extra: pip install 'rnnqa[serve]' ({exc})") from None
    from rnnqa.runtime import QAModel

    if loop == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            raise click.UsageError("--loop uvloop needs uvloop (pip install 'uvicorn[standard]')") from None
    setup_logging()
    config = ServeConfig(name=name, batch=BatchConfig(max_batch, max_wait_us, max_queue, timeout_s),
                         overload_status=int(overload_status), admin_token=admin_token, log_questions=log_questions)
    if engine == "ray":
        sys.exit(_on_ray(bundle_dir, host, port, config, threads, public_key, address, replicas, autoscaling_json))
    options = ServeOptions(bundle_dir, host, port, config, threads, public_key, loop, workers)
    if workers == 1:
        run_server(options)
        return
    from rnnqa.serve.workers import supervise

    # refuse a bad bundle here, once, before starting any worker
    QAModel.load(bundle_dir, threads=threads, public_key=public_key)
    sys.exit(supervise(options))


def _on_ray(bundle_dir: Path, host: str, port: int, config, threads: int | None, public_key: Path | None,
            address: str | None, replicas: int | None, autoscaling_json: str | None) -> int:
    import json
    import socket

    try:
        from rnnqa.serve import ray_serve
    except ImportError as exc:
        raise click.ClickException(f"--engine ray needs the ray extra: pip install 'rnnqa[ray]' ({exc})") from None
    try:
        autoscaling = json.loads(autoscaling_json) if autoscaling_json else {}
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--autoscaling") from None
    if not isinstance(autoscaling, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--autoscaling")
    if port == 0:  # Ray's proxy needs a number: take a free one
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
    if autoscaling and replicas:
        raise click.UsageError("give --replicas or --autoscaling, not both")
    options = ray_serve.RayOptions(address=address, replicas=None if autoscaling else (replicas or 1),
                                   autoscaling=autoscaling)
    return ray_serve.run(bundle_dir, host, port, config, options, threads=threads, public_key=public_key,
                         log=lambda line: print(line, file=sys.stderr, flush=True))
