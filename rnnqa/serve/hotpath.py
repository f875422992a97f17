"""The hot path: the JSON POST routes (``/v1/answer``, this server's own ``/v2/models/{name}/infer``)
answered straight on ASGI, in front of Starlette's routing, request and response objects.

Those objects cost more per request than the model's share of a batch: on 2 cores at 64 connections the
same handlers answered 1.5× the requests this way (BENCHMARKS.md, "qa-serve"). Everything else — every
other route, the lifespan that starts the batcher — goes on to the Starlette app behind. A handler is
``async handler(service, data) -> (status, body, questions)`` under a route label for metrics and logs:
``data`` the parsed JSON object, ``body`` what is sent back as JSON. Its exceptions are mapped as every
route's are (``error_response``), and the request is counted, timed and logged as every route's is
(``Service.record``).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from rnnqa.errors import RequestError
from rnnqa.serve import jsonio
from rnnqa.serve.batcher import Overloaded

if TYPE_CHECKING:  # the app builds the service and hands it down; nothing here imports the app
    from rnnqa.serve.app import Service

log = logging.getLogger("rnnqa.serve")

JSON_HEADERS = [(b"content-type", b"application/json")]
GONE = 499  # the client went away before its body was read (nginx's code; never sent, only counted)


class ClientGone(Exception):
    """``http.disconnect`` before the whole body arrived."""


class JsonPosts:
    """ASGI middleware: ``service.json_routes`` answered here, the rest passed on to ``app``."""

    def __init__(self, app, service: Service):
        self.app, self.service = app, service

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):] or "/"
        found = self.service.json_routes.get(path)
        if found is None:
            return await self.app(scope, receive, send)
        await self._answer(scope, receive, send, *found)

    async def _answer(self, scope, receive, send, route: str, handler) -> None:
        service, started, questions, headers = self.service, time.perf_counter(), [], JSON_HEADERS
        try:
            if scope["method"] != "POST":
                raise RequestError(405, f"{scope['path']} takes POST", {"Allow": "POST"})
            data = await read_json(service, _header(scope, b"content-length"), _chunks(receive))
            status, body, questions = await handler(service, data)
        except ClientGone:
            service.record(route, GONE, time.perf_counter() - started, questions)
            return
        except Exception as exc:  # noqa: BLE001 - mapped as on every route
            status, body, extra = error_response(service, route, exc)
            if extra:
                headers = JSON_HEADERS + [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]
        payload = jsonio.dumps(body)
        service.record(route, status, time.perf_counter() - started, questions)  # logged before it is sent
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})


async def read_json(service: Service, declared: str | None, chunks) -> dict:
    """The body (``chunks``: an async iterator of bytes) as a JSON object; else 400, 413 or 422."""
    limit = service.config.max_body_bytes
    too_large = bool(declared and declared.isdigit() and int(declared) > limit)
    body, seen = bytearray(), 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            too_large = True
        if too_large:
            # read on and discard, up to a bound: a client that sends its whole body before reading (urllib,
            # requests) then gets the 413 instead of "connection reset by peer"
            if seen > max(limit, service.config.discard_body_bytes):
                break
            continue
        body += chunk
    if too_large:
        raise RequestError(413, f"body larger than {limit} bytes")
    try:
        data = jsonio.loads(bytes(body))
    except ValueError as exc:
        raise RequestError(400, f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RequestError(422, "the body must be a JSON object")
    return data


def error_response(service: Service, route: str, exc: Exception) -> tuple[int, dict, dict | None]:
    """The status, ``{"error": …}`` body and headers an exception is answered with."""
    if isinstance(exc, RequestError):
        return exc.status, {"error": str(exc)}, exc.headers
    if isinstance(exc, Overloaded):
        return (service.config.overload_status, {"error": f"over capacity: {exc}"},
                {"Retry-After": str(service.config.retry_after_s)})
    log.error("unexpected error on %s", route, exc_info=exc)
    return 500, {"error": "internal error"}, None


def _header(scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def _chunks(receive):
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return
