"""qa-serve as a user runs it: a real uvicorn process on an ephemeral 127.0.0.1 port, a real HTTP client,
64 concurrent clients. Every load loop is bounded in requests and in time."""

import json
import random
import re
import signal
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from rnnqa.data.table import default_dataset_path, load_qa_csv
from rnnqa.runtime import QAModel
from tests.serve.server import Server

CLIENTS = 64
QUESTIONS = load_qa_csv(default_dataset_path()).questions + ["What is the capital of Atlantis?", "hello there"]


@pytest.fixture(scope="module")
def bundles(make_bundle):
    return make_bundle("gru", epochs=30), make_bundle("gru", epochs=3)


def expected_by_sha(*bundles: Path) -> dict:
    models = [QAModel.load(b) for b in bundles]
    return {m.bundle.manifest["files"]["model.onnx"]: m for m in models}


def load(url: str, work, clients: int = CLIENTS, per_client: int = 10) -> list:
    """Run `work(client, rng)` per_client times in each of `clients` threads; results in a flat list."""

    def one(seed: int) -> list:
        rng = random.Random(seed)
        with httpx.Client(base_url=url, timeout=20) as client:
            return [work(client, rng) for _ in range(per_client)]

    with ThreadPoolExecutor(clients) as pool:
        return [r for rs in pool.map(one, range(clients)) for r in rs]


def same(record: dict, answer) -> bool:
    return (record["answer"], record["known"]) == (answer.text, answer.known) and \
        abs(record["confidence"] - answer.confidence) <= 1e-5


def test_64_concurrent_clients_get_the_in_process_answers(bundles):
    server = Server(bundles[0])
    try:
        model = QAModel.load(bundles[0])

        def ask(client, rng):
            question = rng.choice(QUESTIONS)
            return question, client.post("/v1/answer", json={"question": question})

        results = load(server.url, ask)
        assert len(results) == CLIENTS * 10
        for question, response in results:
            assert response.status_code == 200, response.text
            assert same(response.json(), model.answer(question)), question
        metrics = httpx.get(f"{server.url}/metrics").text
        count = float(re.search(r"rnnqa_batch_questions_count (\S+)", metrics).group(1))
        assert count < CLIENTS * 10  # concurrent requests were batched together
    finally:
        assert server.stop() == 0


def test_reload_under_load_never_mixes_bundles(bundles):
    server = Server(bundles[0])
    try:
        models = expected_by_sha(*bundles)

        def ask(client, rng):
            questions = rng.sample(QUESTIONS, 5)
            return questions, client.post("/v1/answer", json={"questions": questions})

        def reload_often():
            with httpx.Client(base_url=server.url, timeout=20) as client:
                for i in range(12):
                    assert client.post("/admin/reload", json={"bundle": str(bundles[i % 2])}).status_code == 200

        with ThreadPoolExecutor(1) as pool:
            reloading = pool.submit(reload_often)
            results = load(server.url, ask, clients=16, per_client=20)
            reloading.result()
        seen = set()
        for questions, response in results:
            body = response.json()
            model = models[body["bundle"]["model_sha256"]]
            seen.add(body["bundle"]["model_sha256"])
            assert all(same(r, a) for r, a in zip(body["answers"], model.answer_batch(questions)))
        assert seen == set(models)  # both bundles answered during the run, each request from one of them
    finally:
        assert server.stop() == 0


def test_sigterm_under_load_loses_no_accepted_request_and_exits_0(bundles):
    """Every request the server took in (its log has one line per handled request) reached its client;
    the others never reached the handler: refused connections, or keep-alive connections closed while
    idle (a client retries those), never a request answered into the void. The signal goes when the 100th
    answer of 960 requests is back, so it always lands under load."""
    server = Server(bundles[0])
    lock, state = threading.Lock(), {"answered": 0, "signalled_at": None}

    def ask(client, rng):
        signalled_at = state["signalled_at"]
        if signalled_at is not None and time.monotonic() > signalled_at + 5:
            return "skipped"
        try:
            response = client.post("/v1/answer", json={"question": rng.choice(QUESTIONS)})
        except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError):
            return "not taken in"
        with lock:
            state["answered"] += 1
            if state["answered"] == 100:
                server.process.send_signal(signal.SIGTERM)
                state["signalled_at"] = time.monotonic()
        return response.status_code

    results = load(server.url, ask, clients=16, per_client=60)
    assert state["signalled_at"] is not None
    assert server.process.wait(timeout=60) == 0
    answered = [r for r in results if isinstance(r, int)]
    assert answered and set(answered) <= {200, 503}  # 503: arrived while draining, told to retry
    assert set(results) - set(answered) <= {"not taken in", "skipped"}
    assert len(answered) < len(results) or 503 in answered  # requests were still coming when it stopped
    handled = server.logged("/v1/answer")
    assert len(handled) == len(answered)  # nothing the server handled was lost on the way back
    assert sorted(r["code"] for r in handled) == sorted(answered)


def test_a_full_queue_answers_503_then_recovers(bundles):
    server = Server(bundles[0], "--max-queue", "1", "--max-batch", "1")
    try:
        def ask(client, rng):
            response = client.post("/v1/answer", json={"questions": rng.sample(QUESTIONS, 1)})
            return response.status_code, response.headers.get("retry-after")

        results = load(server.url, ask, per_client=5)
        codes = {code for code, _ in results}
        assert codes <= {200, 503} and 503 in codes and 200 in codes
        assert all(retry == "1" for code, retry in results if code == 503)
        recovered = httpx.post(f"{server.url}/v1/answer", json={"question": QUESTIONS[0]})
        assert recovered.status_code == 200
        assert httpx.get(f"{server.url}/v2/health/ready").json() == {"ready": True}
    finally:
        assert server.stop() == 0


def post_with_urllib(url: str, body, headers: dict) -> tuple[int, dict]:
    """POST as Python's urllib does: the whole body is sent before the response is read."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_413_reaches_a_client_that_sends_its_whole_8_mb_body_first(bundles):
    server = Server(bundles[0])
    try:
        big = json.dumps({"question": "What is the capital of Peru?", "pad": "x" * (8 << 20)}).encode()
        status, body = post_with_urllib(f"{server.url}/v1/answer", big, {})  # Content-Length declared
        assert (status, body) == (413, {"error": "body larger than 1048576 bytes"})
        chunks = (big[i:i + 65536] for i in range(0, len(big), 65536))  # no length: chunked, seen while read
        status, body = post_with_urllib(f"{server.url}/v2/models/rnnqa/infer", chunks,
                                        {"Transfer-Encoding": "chunked"})
        assert (status, body) == (413, {"error": "body larger than 1048576 bytes"})
        status, body = post_with_urllib(f"{server.url}/v1/answer", b'{"question": "Who painted Guernica?"}', {})
        assert status == 200 and body["known"]
        def codes():
            return [r["code"] for r in server.records() if r.get("route") in ("/v1/answer", "/v2/models/{name}/infer")]

        deadline = time.monotonic() + 10  # the log line is written before the response, read by a thread
        while len(codes()) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert codes() == [413, 413, 200]
    finally:
        assert server.stop() == 0
