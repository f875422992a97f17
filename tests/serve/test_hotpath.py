"""The hot path (rnnqa.serve.hotpath): the JSON POST routes answered on raw ASGI give what Starlette's
routes gave — methods, names, errors, metrics, the log line — with orjson and with the standard library."""

from __future__ import annotations

import json
import logging
import socket
import time

import httpx
import pytest
from starlette.testclient import TestClient

from rnnqa.runtime import QAModel
from rnnqa.serve import jsonio
from rnnqa.serve.app import ServeConfig, create_app
from tests.serve.server import LOCAL, Server

QUESTIONS = ["What is the capital of Peru?", "Who painted Guernica?", "¿Dónde está Lima? — ünïcode"]


@pytest.fixture
def client(bundle):
    with TestClient(create_app(QAModel.load(bundle)), client=LOCAL) as c:
        yield c


def test_other_methods_are_405_naming_post_and_other_model_names_404(client):
    for method in ("GET", "PUT", "DELETE"):
        response = client.request(method, "/v1/answer")
        assert (response.status_code, response.headers["allow"]) == (405, "POST"), method
        assert response.json() == {"error": "/v1/answer takes POST"}
    assert client.get("/v2/models/rnnqa/infer").status_code == 405
    body = {"inputs": [{"name": "question", "datatype": "BYTES", "shape": [1], "data": ["x"]}]}
    other = client.post("/v2/models/other/infer", json=body)
    assert other.status_code == 404 and "no model 'other'" in other.json()["error"]
    assert client.post("/v1/answer/", json={"question": "x"}).status_code == 404  # exact paths only
    text = client.get("/metrics").text
    assert 'rnnqa_requests_total{code="405",route="/v1/answer"} 3.0' in text
    assert 'rnnqa_requests_total{code="404",route="/v2/models/{name}/infer"} 1.0' in text


@pytest.mark.parametrize("engine", ["orjson", "json"])
def test_answers_errors_and_the_log_line_are_the_same_with_either_json(bundle, monkeypatch, caplog, engine):
    if engine == "json":
        monkeypatch.setattr(jsonio, "orjson", None)
    else:
        pytest.importorskip("orjson")
    model = QAModel.load(bundle)
    with TestClient(create_app(model, ServeConfig(log_questions=True)), client=LOCAL) as client, \
            caplog.at_level(logging.INFO, logger="rnnqa.serve"):
        response = client.post("/v1/answer", json={"questions": QUESTIONS})
        bad = client.post("/v1/answer", content=b'{"question": "x"')
        not_utf8 = client.post("/v1/answer", content=b'{"question": "\xff"}')
        nan = client.post("/v1/answer", content=b'{"question": NaN}')
    assert response.headers["content-type"] == "application/json"
    assert "ünïcode".encode() in response.content  # UTF-8, not \u escapes
    got = [(r["question"], r["answer"], r["known"], r["confidence"]) for r in response.json()["answers"]]
    expected = model.answer_batch(QUESTIONS)
    assert [g[:3] for g in got] == [(q, a.text, a.known) for q, a in zip(QUESTIONS, expected)]
    assert all(abs(g[3] - a.confidence) <= 1e-6 for g, a in zip(got, expected))
    assert bad.status_code == 400 and bad.json()["error"].startswith("malformed JSON: ")
    assert not_utf8.status_code == 400 and not_utf8.json()["error"].startswith("malformed JSON: ")
    assert nan.status_code in (400, 422)  # orjson refuses NaN (400); json reads it, not a string (422)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "rnnqa.serve"]
    assert [(line["route"], line["code"], line["questions"]) for line in lines][:2] == [
        ("/v1/answer", 200, 3), ("/v1/answer", 400, 0)]
    assert lines[0]["text"] == QUESTIONS


def test_a_client_gone_mid_body_is_counted_499_and_the_server_goes_on(bundle):
    server = Server(bundle)
    try:
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"POST /v1/answer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n{\"question\": ")  # 13 of 1,000 bytes, then gone
        deadline = time.monotonic() + 10

        def gone() -> list:
            return [r for r in server.records() if r.get("route") == "/v1/answer" and r.get("code") == 499]

        while not gone() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(gone()) == 1


        assert httpx.post(f"{server.url}/v1/answer", json={"question": QUESTIONS[0]}).status_code == 200
        assert 'rnnqa_requests_total{code="499",route="/v1/answer"} 1.0' in httpx.get(f"{server.url}/metrics").text
    finally:
        assert server.stop() == 0
