"""The HTTP API through Starlette's TestClient: answers, the v2 protocol, every bad input, metrics, reload."""

import json
import shutil
import time

import pytest
from starlette.testclient import TestClient

from rnnqa.runtime import QAModel
from rnnqa.serve.app import ServeConfig, create_app
from tests.serve.server import LOCAL

QUESTIONS = ["What is the capital of Peru?", "Who painted Guernica?", "What is the airspeed of a swallow?"]


@pytest.fixture
def client(bundle):
    with TestClient(create_app(QAModel.load(bundle), ServeConfig(max_questions=8, max_question_chars=200,
                                                                 max_body_bytes=4096)), client=LOCAL) as c:
        yield c


def test_answers_equal_the_in_process_ones(client, bundle):
    model = QAModel.load(bundle)
    single = client.post("/v1/answer", json={"question": QUESTIONS[0]}).json()
    expected = model.answer(QUESTIONS[0])
    assert (single["answer"], single["known"]) == (expected.text, expected.known)
    assert single["confidence"] == pytest.approx(expected.confidence, abs=1e-6)
    assert single["bundle"]["model_sha256"] == model.bundle.manifest["files"]["model.onnx"]
    many = client.post("/v1/answer", json={"questions": QUESTIONS}).json()["answers"]
    assert [(r["question"], r["answer"], r["known"]) for r in many] == [
        (q, a.text, a.known) for q, a in zip(QUESTIONS, model.answer_batch(QUESTIONS))]
    ranked = client.post("/v1/answer", json={"question": QUESTIONS[1], "top_k": 3}).json()
    assert [r["answer"] for r in ranked["top_k"]] == [a.text for a in model.top_k(QUESTIONS[1], 3)]


def test_open_inference_protocol_v2(client, bundle):
    model = QAModel.load(bundle)
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2/models/rnnqa/ready").status_code == 200
    meta = client.get("/v2/models/rnnqa").json()
    assert meta["inputs"] == [{"name": "question", "datatype": "BYTES", "shape": [-1]}]
    assert [o["name"] for o in meta["outputs"]] == ["answer", "confidence", "known"]
    body = {"id": "7", "inputs": [{"name": "question", "datatype": "BYTES", "shape": [3], "data": QUESTIONS}]}
    result = client.post("/v2/models/rnnqa/infer", json=body).json()
    assert result["id"] == "7" and result["model_name"] == "rnnqa"
    outputs = {o["name"]: o for o in result["outputs"]}
    assert outputs["answer"]["data"] == [a.text for a in model.answer_batch(QUESTIONS)]
    assert outputs["confidence"]["datatype"] == "FP32" and outputs["confidence"]["shape"] == [3]
    assert client.get("/v2/models/other").status_code == 404


@pytest.mark.parametrize("route, body, status, message", [
    ("/v1/answer", b"{not json", 400, "malformed JSON"),
    ("/v1/answer", b"[1, 2]", 422, "must be a JSON object"),
    ("/v1/answer", {"question": 5}, 422, "question 0 must be a string"),
    ("/v1/answer", {"questions": "What?"}, 422, "non-empty list"),
    ("/v1/answer", {"questions": []}, 422, "non-empty list"),
    ("/v1/answer", {}, 422, "either 'question'"),
    ("/v1/answer", {"question": "a", "questions": ["b"]}, 422, "either 'question'"),
    ("/v1/answer", {"questions": ["a"] * 9}, 422, "at most 8"),
    ("/v1/answer", {"question": "a" * 201}, 422, "longer than 200"),
    ("/v1/answer", {"questions": ["fine question", "?!"]}, 422, "question 1: question has no words"),
    ("/v1/answer", {"question": "  "}, 422, "question 0: question is empty"),
    ("/v1/answer", {"question": "x", "top_k": 0}, 422, "'top_k'"),
    ("/v1/answer", {"question": "x", "top_k": True}, 422, "'top_k'"),
    ("/v1/answer", {"question": "x" * 150, "pad": "y" * 5000}, 413, "larger than 4096"),
    ("/v2/models/rnnqa/infer", {"inputs": []}, 422, "exactly one tensor"),
    ("/v2/models/rnnqa/infer", {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["x"]}]},
     422, "named 'question'"),
    ("/v2/models/rnnqa/infer", {"inputs": [{"name": "question", "datatype": "BYTES", "shape": [2], "data": ["x"]}]},
     422, "does not match"),
])
def test_bad_input_is_a_json_error_with_its_status(client, route, body, status, message):
    kwargs = {"content": body} if isinstance(body, bytes) else {"json": body}
    response = client.post(route, **kwargs)
    assert response.status_code == status
    assert message in response.json()["error"] and "Traceback" not in response.text


def test_metrics_count_requests_batches_and_name_the_bundle(client, bundle):
    client.post("/v1/answer", json={"questions": QUESTIONS})
    client.post("/v1/answer", content=b"{")
    text = client.get("/metrics").text
    sha = json.loads((bundle / "manifest.json").read_text())["files"]["model.onnx"]
    assert 'rnnqa_requests_total{code="200",route="/v1/answer"} 1.0' in text
    assert 'rnnqa_requests_total{code="400",route="/v1/answer"} 1.0' in text
    assert "rnnqa_batch_questions_count 1.0" in text and "rnnqa_batch_questions_sum 3.0" in text
    assert f'rnnqa_bundle_info{{model_sha256="{sha}"}} 1.0' in text
    assert "rnnqa_queue_wait_seconds_count 1.0" in text and "rnnqa_queue_questions 0.0" in text


def test_reload_swaps_only_a_bundle_that_passes_and_needs_loopback_or_the_token(bundle, make_bundle, tmp_path):
    other = make_bundle("gru", epochs=3)
    broken = tmp_path / "broken"
    shutil.copytree(bundle, broken)
    (broken / "model.onnx").write_bytes(b"x")
    app = create_app(QAModel.load(bundle), ServeConfig(admin_token="s3cret"))
    remote = TestClient(app, client=("203.0.113.9", 1))  # no `with`: the lifespan runs once, for `local`
    with TestClient(app, client=LOCAL) as local:
        before = local.post("/v1/answer", json={"question": QUESTIONS[0]}).json()["bundle"]
        refused = local.post("/admin/reload", json={"bundle": str(broken)})
        assert refused.status_code == 409 and "sha256 mismatch" in refused.json()["error"]
        assert local.post("/v1/answer", json={"question": QUESTIONS[0]}).json()["bundle"] == before
        assert remote.post("/admin/reload", json={"bundle": str(other)}).status_code == 403
        assert remote.post("/admin/reload", json={"bundle": str(other)},
                           headers={"Authorization": "Bearer wrong"}).status_code == 403
        swapped = remote.post("/admin/reload", json={"bundle": str(other)}, headers={"Authorization": "Bearer s3cret"})
        assert swapped.status_code == 200
        after = local.post("/v1/answer", json={"question": QUESTIONS[0]}).json()["bundle"]
        assert after == swapped.json()["bundle"] != before
        assert 'rnnqa_reloads_total{outcome="refused"} 1.0' in local.get("/metrics").text


def test_overload_is_503_with_retry_after_or_429_when_asked(bundle):
    from rnnqa.serve.batcher import BatchConfig

    class Slow(QAModel):  # answers after the deadline, every time
        def pinned(self):
            view = super().pinned()
            view.answer_rows = lambda rows: (time.sleep(0.3), QAModel.answer_rows(view, rows))[1]
            return view

    for status in (503, 429):
        config = ServeConfig(batch=BatchConfig(max_queue=1, timeout_s=0.05), overload_status=status)
        with TestClient(create_app(Slow.load(bundle), config), client=LOCAL) as client:
            response = client.post("/v1/answer", json={"question": QUESTIONS[0]})
            assert response.status_code == status and response.headers["Retry-After"] == "1"
            assert "over capacity" in response.json()["error"]


def test_draining_turns_ready_false_and_refuses_new_work(client):
    client.app.state.service.draining = True
    assert client.get("/v2/health/ready").status_code == 503
    assert client.get("/v2/health/live").status_code == 200
    response = client.post("/v1/answer", json={"question": QUESTIONS[0]})
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"


def test_the_request_log_is_one_json_line_without_question_text_unless_asked(bundle, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="rnnqa.serve")
    for log_questions in (False, True):
        caplog.clear()
        with TestClient(create_app(QAModel.load(bundle), ServeConfig(log_questions=log_questions)),
                        client=LOCAL) as client:
            client.post("/v1/answer", json={"questions": QUESTIONS[:2]})
        records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "rnnqa.serve"]
        assert len(records) == 1 and records[0]["route"] == "/v1/answer" and records[0]["questions"] == 2
        assert ("text" in records[0]) == log_questions and (QUESTIONS[0] in caplog.text) == log_questions


def test_ready_is_false_once_the_batch_thread_is_gone(bundle):
    with TestClient(create_app(QAModel.load(bundle)), client=LOCAL) as client:
        batcher = client.app.state.service.batcher
        assert client.get("/v2/health/ready").status_code == 200 and batcher.alive
        batcher._stopping = True  # the thread leaves its loop, as if it had died
        batcher._wakeup.set()
        batcher._thread.join(5)
        assert not batcher.alive and client.get("/v2/health/ready").status_code == 503


def test_with_a_public_key_reload_takes_only_bundles_signed_with_it(make_bundle, make_keys, signed_bundle, tmp_path):
    pytest.importorskip("model_signing", reason="needs the sign extra: pip install 'rnnqa[sign]'")
    from rnnqa.signing import sign_bundle

    resigned = tmp_path / "resigned"
    shutil.copytree(make_bundle("gru", epochs=30), resigned)
    sign_bundle(resigned, make_keys()[0])
    app = create_app(QAModel.load(signed_bundle, public_key=make_keys()[1]))
    with TestClient(app, client=LOCAL) as local:
        before = local.post("/v1/answer", json={"question": QUESTIONS[0]}).json()["bundle"]
        refused = local.post("/admin/reload", json={"bundle": str(make_bundle("gru", epochs=30))})
        assert refused.status_code == 409 and "not signed" in refused.json()["error"]
        assert local.post("/v1/answer", json={"question": QUESTIONS[0]}).json()["bundle"] == before
        swapped = local.post("/admin/reload", json={"bundle": str(resigned)})
        assert swapped.status_code == 200 and swapped.json()["bundle"] != before


def test_qa_serve_public_key_refuses_an_unsigned_bundle_before_serving(make_bundle, make_keys):
    from click.testing import CliRunner

    from rnnqa.serve.cli import main

    for workers in ("1", "2"):
        result = CliRunner().invoke(main, ["--bundle", str(make_bundle("gru")), "--public-key", str(make_keys()[1]),
                                           "--port", "0", "--workers", workers])
        assert result.exit_code == 1 and "model.sig: missing" in result.output, result.output


def series(text: str) -> set[str]:
    return {line.split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_metrics_series_stay_bounded_under_arbitrary_paths_names_methods_and_bodies(client):
    def noise(i: int) -> None:
        client.post(f"/v{i}/{'x' * (i % 50)}?q={i}", json={"question": "a"})  # no such route
        client.post(f"/v2/models/model-{i}/infer", json={"inputs": []})  # a route with a path parameter
        client.get(f"/v2/models/model-{i}/ready")
        client.request(["PUT", "DELETE", "PATCH"][i % 3], "/v1/answer")  # a method the route lacks
        client.post("/v1/answer", content=b"{" * (i % 7))  # 400s and 422s
        client.post("/v1/answer", json={"question": "What is the capital of Peru?", "top_k": i})

    for i in range(20):
        noise(i)
    before = series(client.get("/metrics").text)
    for i in range(20, 220):
        noise(i)
    after = series(client.get("/metrics").text)
    assert after == before  # 1,200 more requests with new paths, names and bodies: no new series
    routes = {line.split('route="')[1].split('"')[0] for line in after if 'route="' in line}
    assert routes <= {"/v1/answer", "/v2/models/{name}/infer", "/v2/models/{name}/ready"}
    assert 'rnnqa_requests_total{code="404",route="/v2/models/{name}/infer"}' in after
