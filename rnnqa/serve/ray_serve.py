"""qa-serve on Ray Serve: the bundle answered by replicas on any number of machines of a Ray cluster.

Each replica runs the same Starlette app as ``qa-serve`` (:func:`rnnqa.serve.app.create_app`: the same
routes, answers, dynamic batching and error mapping) behind Ray's HTTP proxy, which spreads requests
over the replicas. ``qa-serve --engine ray`` drives it (:func:`run`), or Ray's own CLI does:

    serve run rnnqa.serve.ray_serve:app bundle=/shared/bundle replicas=2

A reload is a redeploy: the bundle is checked in the driver first (a refused one changes nothing),
then Ray replaces the replicas one by one, each loading the bundle; ``/admin/reload`` on one replica
would reload that replica alone, so it answers 409 saying so. ``/metrics`` is the replica's own (Ray's
metrics export aggregates across replicas). Needs the ``ray`` extra (``ray[serve]``).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from ray import serve

from rnnqa.errors import ConfigError
from rnnqa.runtime import QAModel
from rnnqa.serve.app import ServeConfig, create_app

APP_NAME = "rnnqa"
RELOAD_BY_REDEPLOY = ("replicas on Ray Serve reload by redeploy: send SIGHUP to qa-serve --engine ray, "
                      "or run serve deploy/run again")


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # None: a new local cluster; "auto" or "ray://host:10001": an existing one
    replicas: int | None = 1  # fixed number of replicas; None with autoscaling
    autoscaling: dict = field(default_factory=dict)  # Ray's autoscaling_config, passed through as given
    ray_actor_options: dict = field(default_factory=dict)  # e.g. {"num_cpus": 1}

    def __post_init__(self) -> None:
        if self.autoscaling and self.replicas is not None:
            raise ConfigError("give either a number of replicas or an autoscaling config, not both")
        if not self.autoscaling and (self.replicas is None or self.replicas < 1):
            raise ConfigError("replicas must be ≥ 1")


@serve.deployment(max_ongoing_requests=1024)
@serve.ingress()
class QAReplica:
    """One replica: the bundle loaded and checked as ``QAModel.load`` does, served by qa-serve's app."""

    def __init__(self, bundle_dir: str, config: ServeConfig, threads: int | None, public_key: str | None,
                 model_sha256: str):
        # model_sha256 is the bundle the driver checked: a new one changes the arguments, so Ray redeploys
        self._model = QAModel.load(bundle_dir, threads=threads, public_key=public_key)
        self._config = replace(config, reload_refusal=RELOAD_BY_REDEPLOY)

    def __serve_build_asgi_app__(self):
        return create_app(self._model, self._config)


def application(bundle_dir: str | Path, config: ServeConfig = ServeConfig(), ray_options: RayOptions = RayOptions(),
                *, threads: int | None = None, public_key: str | Path | None = None):
    """The Ray Serve application for ``bundle_dir``, after checking the bundle here.

    Raises:
        BundleError: the bundle (or its signature) is refused.
    """
    bundle_dir = str(Path(bundle_dir).resolve())
    key = None if public_key is None else str(Path(public_key).resolve())
    model = QAModel.load(bundle_dir, threads=threads, public_key=key)
    options = {"ray_actor_options": dict(ray_options.ray_actor_options)} if ray_options.ray_actor_options else {}
    if ray_options.autoscaling:
        options["autoscaling_config"] = dict(ray_options.autoscaling)
    else:
        options["num_replicas"] = ray_options.replicas
    return QAReplica.options(**options).bind(bundle_dir, config, threads, key,
                                            model.bundle.manifest["files"]["model.onnx"])


def app(args: dict):
    """The builder for Ray's CLI: ``serve run rnnqa.serve.ray_serve:app bundle=DIR [replicas=N]
    [autoscaling='{"min_replicas": 1, "max_replicas": 4}'] [threads=N] [public_key=FILE] [name=rnnqa]``."""
    unknown = set(args) - {"bundle", "replicas", "autoscaling", "threads", "public_key", "name"}
    if unknown or "bundle" not in args:
        raise ConfigError(f"arguments: bundle=DIR [replicas=N] [autoscaling=JSON] [threads=N] [public_key=FILE] "
                          f"[name=NAME]; got {sorted(args)}")
    autoscaling = json.loads(args["autoscaling"]) if "autoscaling" in args else {}
    replicas = None if autoscaling else int(args.get("replicas", 1))
    return application(args["bundle"], ServeConfig(name=args.get("name", "rnnqa")),
                       RayOptions(replicas=replicas, autoscaling=autoscaling),
                       threads=int(args["threads"]) if "threads" in args else None, public_key=args.get("public_key"))


def run(bundle_dir: Path, host: str, port: int, config: ServeConfig, ray_options: RayOptions, *,
        threads: int | None = None, public_key: Path | None = None, log=print) -> int:
    """Deploy on Ray Serve and serve until SIGTERM/SIGINT; SIGHUP re-reads ``bundle_dir`` and redeploys.

    Raises:
        BundleError: the bundle was refused at start.
    """
    import ray

    deployed = application(bundle_dir, config, ray_options, threads=threads, public_key=public_key)
    received: list[int] = []
    wake = threading.Event()
    local = ray_options.address is None
    ray.init(address=ray_options.address, include_dashboard=False, log_to_driver=False,
             **({"num_cpus": os.cpu_count()} if local else {}))
    try:
        serve.start(http_options={"host": host, "port": port})
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):  # after ray.init, which sets its own
            signal.signal(signum, lambda signum, frame: (received.append(signum), wake.set()))
        serve.run(deployed, name=APP_NAME, route_prefix="/")
        print(f"serving {bundle_dir} on http://{host}:{port}/ with Ray Serve", file=sys.stderr, flush=True)
        while True:
            wake.wait()
            wake.clear()
            while received:
                signum = received.pop(0)
                if signum != signal.SIGHUP:
                    return 0
                try:
                    deployed = application(bundle_dir, config, ray_options, threads=threads, public_key=public_key)
                    serve.run(deployed, name=APP_NAME, route_prefix="/")
                    log(json.dumps({"event": "redeployed", "bundle": str(bundle_dir)}))
                except Exception as exc:  # noqa: BLE001 - a refused bundle keeps the old replicas; say why
                    log(json.dumps({"event": "reload refused", "error": str(exc)}, ensure_ascii=False))
    finally:
        serve.delete(APP_NAME)  # replicas drain: requests in flight finish (graceful_shutdown_timeout_s)
        if local:
            serve.shutdown()
        ray.shutdown()
