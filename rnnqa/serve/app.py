"""The HTTP API: routes, request checks and error mapping over a :class:`Batcher`. Starlette only.

    POST /v1/answer                    {"question": "…"} or {"questions": [...]}, optional "top_k"
    GET  /v2/health/live, /v2/health/ready, /v2/models/{name}, /v2/models/{name}/ready
    POST /v2/models/{name}/infer       Open Inference Protocol v2: BYTES "question" in; "answer" (BYTES),
                                       "confidence" (FP32) and "known" (BOOL) out
    GET  /                             a page where a person types a question and reads the answer
    GET  /metrics                      Prometheus text
    POST /admin/reload                 {"bundle": "dir"} (optional): from loopback, or with the admin token

Every error is JSON ``{"error": …}``: 400 malformed JSON, 413 body too large, 422 wrong types or a
question without words (naming which), 503 with Retry-After when over capacity or draining; nothing
else reaches a client, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rnnqa.errors import BundleError, RequestError
from rnnqa.runtime import QAModel
from rnnqa.serve import jsonio
from rnnqa.serve.batcher import Answered, BatchConfig, Batcher, Overloaded
from rnnqa.serve.hotpath import JsonPosts, error_response, read_json
from rnnqa.serve.metrics import Metrics

log = logging.getLogger("rnnqa.serve")
LOOPBACK = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class ServeConfig:
    name: str = "rnnqa"  # the model's name in the v2 routes
    batch: BatchConfig = BatchConfig()
    max_body_bytes: int = 1 << 20
    discard_body_bytes: int = 64 << 20  # of a too-large body, read and dropped before the 413 (beyond: closed)
    max_questions: int = 1024  # per request
    max_question_chars: int = 4096
    max_top_k: int = 50
    overload_status: int = 503  # or 429
    retry_after_s: int = 1
    admin_token: str | None = None  # /admin/reload from elsewhere than loopback needs it
    log_questions: bool = False
    reload_refusal: str | None = None  # set: /admin/reload answers 409 with it (replicas that reload by redeploy)


@dataclass(frozen=True)
class Checked:
    """A request's questions, encoded by the model view that will answer them."""

    questions: list[str]
    model: QAModel  # pinned: a reload after the check cannot change the vocabulary under the rows
    rows: list[list[int]]


class Service:
    """The state behind the routes: model, batcher, metrics, readiness."""

    def __init__(self, model: QAModel, config: ServeConfig):
        self.model, self.config = model, config
        self.metrics = Metrics()
        self.metrics.serving(model.bundle.manifest)
        self.batcher: Batcher | None = None
        self.draining = False
        self.on_reload: Callable[[Path], None] | None = None  # after /admin/reload: tell sibling workers
        # the POST routes answered by the hot path (rnnqa.serve.hotpath): path -> (route label, handler)
        self.json_routes: dict[str, tuple[str, Callable]] = {
            "/v1/answer": ("/v1/answer", _answer),
            f"/v2/models/{config.name}/infer": ("/v2/models/{name}/infer", _infer)}
        self._pid = os.getpid()  # which worker, under --workers
        # where record() sends a request's line: the logger, or (qa-serve) its stderr's buffer (process.py)
        self.request_log: Callable[[str], None] = log.info

    def record(self, route: str, status: int, elapsed: float, questions: list[str]) -> None:
        """Count, time and log one request (one JSON line on the ``rnnqa.serve`` logger)."""
        self.metrics.request(route, status, elapsed)
        if self.batcher:
            self.metrics.queue_depth.set(self.batcher.depth)
        if log.isEnabledFor(logging.INFO):
            record = {"route": route, "code": status, "ms": round(elapsed * 1e3, 3), "questions": len(questions),
                      "pid": self._pid}
            if self.config.log_questions:
                record["text"] = questions
            self.request_log(jsonio.dumps(record).decode("utf-8"))

    @property
    def ready(self) -> bool:
        return self.batcher is not None and self.batcher.alive and not self.draining

    def reload(self, bundle_dir: str | None = None) -> dict:
        """Serve the bundle at ``bundle_dir`` (default: the current one, re-read) once it passed every check.

        Raises:
            BundleError: refused; the old bundle keeps serving.
        """
        try:
            self.model.reload(bundle_dir)
        except BundleError:
            self.metrics.reloads.labels(outcome="refused").inc()
            raise
        self.metrics.reloads.labels(outcome="ok").inc()
        self.metrics.serving(self.model.bundle.manifest)
        return identity(self.model.bundle.manifest)

    async def answered(self, checked: Checked, top_k: int = 0) -> Answered:
        """``checked`` questions answered in the next batch, their queue wait recorded.

        Raises:
            Overloaded: the queue is full or the deadline passed.
        """
        answered = await self.batcher.submit(checked.model, checked.rows, top_k)
        self.metrics.queue_wait.observe(answered.queue_wait_s)
        return answered


def identity(manifest: dict) -> dict:
    return {"model_sha256": manifest["files"]["model.onnx"], "created": manifest.get("created")}


def create_app(model: QAModel, config: ServeConfig = ServeConfig()) -> Starlette:
    service = Service(model, config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        service.batcher = Batcher(config.batch, on_batch=service.metrics.batch_size.observe)
        service.batcher.start()
        yield
        service.draining = True  # requests in flight have finished: uvicorn waits for them first
        await service.batcher.stop()

    page = (Path(__file__).with_name("page.html")).read_bytes()
    routes = [
        Route("/", lambda request: Response(page, media_type="text/html; charset=utf-8"), methods=["GET"]),
        Route("/v2/health/live", _endpoint(service, "/v2/health/live", _live), methods=["GET"]),
        Route("/v2/health/ready", _endpoint(service, "/v2/health/ready", _ready), methods=["GET"]),
        Route("/v2/models/{name}", _endpoint(service, "/v2/models/{name}", _model_metadata), methods=["GET"]),
        Route("/v2/models/{name}/ready", _endpoint(service, "/v2/models/{name}/ready", _model_ready), methods=["GET"]),
        # another name's infer: the hot path answers this server's own (service.json_routes)
        Route("/v2/models/{name}/infer", _endpoint(service, "/v2/models/{name}/infer", _other_infer),
              methods=["POST"]),
        Route("/metrics", _metrics(service), methods=["GET"]),
        Route("/admin/reload", _endpoint(service, "/admin/reload", _admin_reload), methods=["POST"]),
    ]
    app = _ServeApp(routes=routes, lifespan=lifespan)
    app.hot = JsonPosts(app.behind, service)
    app.state.service = service
    return app


class _ServeApp(Starlette):
    """Starlette with the hot path in front of everything, its middleware stack included: the two answering
    routes skip even Starlette's outermost error middleware (the hot path maps its own errors)."""

    hot: JsonPosts

    async def __call__(self, scope, receive, send) -> None:
        await self.hot(scope, receive, send)

    async def behind(self, scope, receive, send) -> None:
        """What the hot path passes on: Starlette as it is."""
        await Starlette.__call__(self, scope, receive, send)


def _endpoint(service: Service, route: str, handler) -> Callable:
    """Time, count and log a route; map every error to JSON with its status."""

    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        questions: list[str] = []
        headers = None
        try:
            status, body, questions = await handler(service, request)
        except Exception as exc:  # noqa: BLE001 - mapped; a bug is logged and answered 500, never a traceback
            status, body, headers = error_response(service, route, exc)
        response = Response(jsonio.dumps(body), status_code=status, headers=headers, media_type="application/json")
        service.record(route, status, time.perf_counter() - started, questions)
        return response

    return endpoint


async def _json_body(service: Service, request: Request) -> dict:
    return await read_json(service, request.headers.get("content-length"), request.stream())


def _checked_questions(service: Service, questions: object) -> Checked:
    """Questions as a list of strings with words, within the caps, encoded; else 422 naming the first at fault."""
    limits = service.config
    if not isinstance(questions, list) or not questions:
        raise RequestError(422, "'questions' must be a non-empty list of strings")
    if len(questions) > limits.max_questions:
        raise RequestError(422, f"{len(questions)} questions; at most {limits.max_questions} per request")
    model, rows = service.model.pinned(), []
    for i, question in enumerate(questions):
        if not isinstance(question, str):
            raise RequestError(422, f"question {i} must be a string, got {type(question).__name__}")
        if len(question) > limits.max_question_chars:
            raise RequestError(422, f"question {i} is longer than {limits.max_question_chars} characters")
        try:
            rows.append(model.encode(question))
        except ValueError as exc:
            raise RequestError(422, f"question {i}: {exc}") from None
    return Checked(questions, model, rows)


async def _answer(service: Service, data: dict):
    """POST /v1/answer, ``data`` its parsed body."""
    if service.draining:
        raise Overloaded("draining")
    single = "question" in data
    if single == ("questions" in data):
        raise RequestError(422, "give either 'question' (a string) or 'questions' (a list of strings)")
    top_k = data.get("top_k")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)
                              or not 1 <= top_k <= service.config.max_top_k):
        raise RequestError(422, f"'top_k' must be an integer from 1 to {service.config.max_top_k}")
    checked = _checked_questions(service, [data["question"]] if single else data["questions"])
    answered = await service.answered(checked, top_k or 0)
    records = []
    for i, (question, answer) in enumerate(zip(checked.questions, answered.answers)):
        record = {"question": question, "answer": answer.text, "confidence": answer.confidence, "known": answer.known}
        if answered.ranked:
            record["top_k"] = [{"answer": a.text, "confidence": a.confidence} for a in answered.ranked[i]]
        records.append(record)
    body = records[0] if single else {"answers": records}
    return 200, {**body, "bundle": identity(answered.manifest)}, checked.questions


async def _live(service: Service, request: Request):
    return 200, {"live": True}, []


async def _ready(service: Service, request: Request):
    return (200 if service.ready else 503), {"ready": service.ready}, []


def _model_name(service: Service, request: Request) -> str:
    name = request.path_params["name"]
    if name != service.config.name:
        raise RequestError(404, f"no model {name!r} (this server serves {service.config.name!r})")
    return name


async def _model_metadata(service: Service, request: Request):
    name = _model_name(service, request)
    return 200, {
        "name": name,
        "versions": [service.model.bundle.manifest["files"]["model.onnx"][:12]],
        "platform": "onnxruntime_onnx",
        "inputs": [{"name": "question", "datatype": "BYTES", "shape": [-1]}],
        "outputs": [{"name": "answer", "datatype": "BYTES", "shape": [-1]},
                    {"name": "confidence", "datatype": "FP32", "shape": [-1]},
                    {"name": "known", "datatype": "BOOL", "shape": [-1]}],
    }, []


async def _model_ready(service: Service, request: Request):
    _model_name(service, request)
    return (200 if service.ready else 503), {"name": service.config.name, "ready": service.ready}, []


async def _other_infer(service: Service, request: Request):
    _model_name(service, request)  # 404: this server's own name is answered by the hot path
    raise RequestError(404, "no such model")


async def _infer(service: Service, data: dict):
    """POST /v2/models/{name}/infer (Open Inference Protocol v2), ``data`` its parsed body: one BYTES input
    "question" of shape [n]."""
    name = service.config.name
    if service.draining:
        raise Overloaded("draining")
    inputs = data.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise RequestError(422, "'inputs' must hold exactly one tensor, 'question'")
    tensor = inputs[0]
    if tensor.get("name") != "question" or tensor.get("datatype") != "BYTES":
        raise RequestError(422, "the input tensor must be named 'question' with datatype BYTES")
    checked = _checked_questions(service, tensor.get("data"))
    n = [len(checked.questions)]
    shape = tensor.get("shape")
    if shape not in (n, [n[0], 1]):
        raise RequestError(422, f"'shape' {shape!r} does not match {n[0]} questions")
    answered = await service.answered(checked)
    outputs = [
        {"name": "answer", "datatype": "BYTES", "shape": n, "data": [a.text for a in answered.answers]},
        {"name": "confidence", "datatype": "FP32", "shape": n, "data": [a.confidence for a in answered.answers]},
        {"name": "known", "datatype": "BOOL", "shape": n, "data": [a.known for a in answered.answers]},
    ]
    body = {"model_name": name, "model_version": answered.manifest["files"]["model.onnx"][:12], "outputs": outputs}
    if "id" in data:
        body["id"] = data["id"]
    return 200, body, checked.questions


def _metrics(service: Service) -> Callable:
    async def metrics(request: Request) -> Response:
        if service.batcher:
            service.metrics.queue_depth.set(service.batcher.depth)
        return Response(service.metrics.text(), media_type="text/plain; version=0.0.4")

    return metrics


async def _admin_reload(service: Service, request: Request):
    token = service.config.admin_token
    given = request.headers.get("authorization", "").removeprefix("Bearer ")
    client = request.client.host if request.client else ""
    if not (token and hmac.compare_digest(given, token)) and client not in LOOPBACK:
        raise RequestError(403, "reload is allowed from loopback, or with the admin token")
    if service.config.reload_refusal:
        raise RequestError(409, service.config.reload_refusal)
    data = await _json_body(service, request) if int(request.headers.get("content-length") or 0) else {}
    bundle = data.get("bundle")
    if bundle is not None and not isinstance(bundle, str):
        raise RequestError(422, "'bundle' must be a directory path")
    try:
        served = await asyncio.to_thread(service.reload, bundle)
    except BundleError as exc:
        raise RequestError(409, f"bundle refused, the old one keeps serving: {exc}") from None
    if service.on_reload:
        service.on_reload(service.model.bundle.path)
    return 200, {"reloaded": True, "bundle": served}, []
