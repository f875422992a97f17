"""Prometheus metrics of one server, in a registry of its own (two apps in one process do not collide).

Under ``--workers N`` the supervisor sets ``PROMETHEUS_MULTIPROC_DIR`` before starting the workers, and
prometheus-client keeps each worker's values in files there: ``/metrics`` from any worker then sums the
counters and histograms of all of them, sums the queue depth of the live ones, and shows the bundle
each live worker serves (a ``pid`` label).
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    def __init__(self) -> None:
        self.multiprocess_dir = os.environ.get(MULTIPROCESS_ENV)
        self.registry = CollectorRegistry()
        self.requests = Counter("rnnqa_requests", "HTTP requests by route and status code", ["route", "code"],
                                registry=self.registry)
        self.latency = Histogram("rnnqa_request_seconds", "Time from request to response", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.queue_wait = Histogram("rnnqa_queue_wait_seconds", "Time a request waited for its batch",
                                    buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("rnnqa_batch_questions", "Questions per onnxruntime call", buckets=BATCH_BUCKETS,
                                    registry=self.registry)
        self.queue_depth = Gauge("rnnqa_queue_questions", "Questions waiting for a batch", registry=self.registry,
                                 multiprocess_mode="livesum")
        self.bundle = Gauge("rnnqa_bundle_info", "The bundle served (1) and its graph's sha256", ["model_sha256"],
                            registry=self.registry, multiprocess_mode="liveall")
        self.reloads = Counter("rnnqa_reloads", "Reload attempts by outcome", ["outcome"], registry=self.registry)
        self._served: str | None = None
        # the labelled series of each route and code, looked up once (bounded: fixed routes × codes sent)
        self._counts: dict[tuple[str, int], object] = {}
        self._latencies: dict[str, object] = {}

    def request(self, route: str, code: int, elapsed_s: float) -> None:
        """Count one request and observe its latency."""
        count = self._counts.get((route, code))
        if count is None:
            count = self._counts[route, code] = self.requests.labels(route=route, code=str(code))
        latency = self._latencies.get(route)
        if latency is None:
            latency = self._latencies[route] = self.latency.labels(route=route)
        count.inc()
        latency.observe(elapsed_s)

    def serving(self, manifest: dict) -> None:
        sha = manifest["files"]["model.onnx"]
        if self._served and self._served != sha:
            if self.multiprocess_dir:
                self.bundle.labels(model_sha256=self._served).set(0)  # a file entry cannot be removed
            else:
                self.bundle.remove(self._served)
        self.bundle.labels(model_sha256=sha).set(1)
        self._served = sha

    def text(self) -> bytes:
        if not self.multiprocess_dir:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess_dir)
        return generate_latest(registry)
