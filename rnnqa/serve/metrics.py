"""Prometheus metrics of one server, in a registry of its own (two apps in one process do not collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("rnnqa_requests", "HTTP requests by route and status code", ["route", "code"],
                                registry=self.registry)
        self.latency = Histogram("rnnqa_request_seconds", "Time from request to response", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.queue_wait = Histogram("rnnqa_queue_wait_seconds", "Time a request waited for its batch",
                                    buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("rnnqa_batch_questions", "Questions per onnxruntime call", buckets=BATCH_BUCKETS,
                                    registry=self.registry)
        self.queue_depth = Gauge("rnnqa_queue_questions", "Questions waiting for a batch", registry=self.registry)
        self.bundle = Gauge("rnnqa_bundle_info", "The bundle served (1) and its graph's sha256", ["model_sha256"],
                            registry=self.registry)
        self.reloads = Counter("rnnqa_reloads", "Reload attempts by outcome", ["outcome"], registry=self.registry)

    def serving(self, manifest: dict) -> None:
        self.bundle.clear()
        self.bundle.labels(model_sha256=manifest["files"]["model.onnx"]).set(1)

    def text(self) -> bytes:
        return generate_latest(self.registry)
