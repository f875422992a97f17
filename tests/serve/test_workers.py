"""qa-serve --workers 2: real processes on one ephemeral 127.0.0.1 socket. Every loop is bounded in
requests and in time."""

import multiprocessing
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from rnnqa.runtime import QAModel
from rnnqa.serve import workers
from tests.serve.server import Server
from tests.serve.test_server import QUESTIONS, same


@pytest.fixture(scope="module")
def bundles(make_bundle):
    return make_bundle("gru", epochs=30), make_bundle("gru", epochs=3)


def children(pid: int) -> set[int]:
    """The live worker processes of the supervisor ``pid`` (not multiprocessing's resource tracker)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
                cmdline = open(f"/proc/{entry}/cmdline", "rb").read()
            except OSError:
                continue
            if int(stat[1]) == pid and stat[0] != "Z" and b"spawn_main" in cmdline:
                found.add(int(entry))
    return found


def ask_fresh(url: str, questions: list[str], clients: int = 16) -> list[httpx.Response]:
    """One new connection per request, so the kernel hands them to either worker."""
    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(lambda q: httpx.post(f"{url}/v1/answer", json={"question": q}, timeout=20), questions))


def workers_serving(server: Server) -> set[int]:
    return {record["pid"] for record in server.records() if record.get("route") == "/v1/answer"}


def test_two_workers_answer_as_in_process_and_count_every_request_in_one_metrics(bundles):
    server = Server(bundles[0], "--workers", "2")
    try:
        model = QAModel.load(bundles[0])
        sent = []
        for _ in range(5):  # until both workers have answered, at most 5 rounds of 80
            questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(80)]
            for question, response in zip(questions, ask_fresh(server.url, questions)):
                assert response.status_code == 200 and same(response.json(), model.answer(question)), question
            sent += questions
            if len(workers_serving(server)) == 2:
                break
        assert len(workers_serving(server)) == 2 and children(server.process.pid) >= workers_serving(server)
        metrics = httpx.get(f"{server.url}/metrics").text
        counted = float(re.search(r'rnnqa_requests_total\{code="200",route="/v1/answer"\} (\S+)', metrics).group(1))
        assert counted == len(sent)  # both workers' counts, from whichever worker answered the scrape
        assert len(re.findall(r"rnnqa_bundle_info\{", metrics)) == 2  # one line per live worker
    finally:
        assert server.stop() == 0


def test_admin_reload_on_one_worker_reaches_every_worker(bundles):
    server = Server(bundles[0], "--workers", "2")
    try:
        new = QAModel.load(bundles[1]).bundle.manifest["files"]["model.onnx"]
        reloaded = httpx.post(f"{server.url}/admin/reload", json={"bundle": str(bundles[1])}, timeout=30)
        assert reloaded.status_code == 200 and reloaded.json()["bundle"]["model_sha256"] == new
        deadline, shas = time.monotonic() + 20, set()
        while time.monotonic() < deadline:
            shas = {r.json()["bundle"]["model_sha256"] for r in ask_fresh(server.url, QUESTIONS[:40])}
            if shas == {new}:
                break
            time.sleep(0.2)
        assert shas == {new}
        events = [r for r in server.records() if r.get("event") == "reload"]
        assert len(events) == 1  # the sibling reloaded from the shared file; the one that answered did not again
        assert server.stop() == 0
        hup = Server(bundles[0], "--workers", "2")  # SIGHUP: every worker re-reads the bundle
        hup.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len([r for r in hup.records() if r.get("event") == "reload"]) < 2:
            time.sleep(0.1)
        assert len({r["pid"] for r in hup.records() if r.get("event") == "reload"}) == 2
        assert hup.stop() == 0
    finally:
        server.stop()


def test_a_dead_worker_is_replaced_and_sigterm_stops_them_all_with_exit_0(bundles):
    server = Server(bundles[0], "--workers", "2")
    try:
        first = children(server.process.pid)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        def reported() -> bool:  # the log is read by a thread of the test: wait for the line as for the worker
            return any(r.get("event") == "worker died" and r["pid"] == victim for r in server.records())

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (victim in children(server.process.pid)
                                               or len(children(server.process.pid)) < 2 or not reported()):
            time.sleep(0.1)
        now = children(server.process.pid)
        assert victim not in now and len(now) == 2
        assert reported()
        responses = ask_fresh(server.url, QUESTIONS[:20])
        assert all(r.status_code == 200 for r in responses)
    finally:
        assert server.stop() == 0
    assert not any(_alive(pid) for pid in now)


def test_workers_stop_when_the_supervisor_is_killed(bundles):
    server = Server(bundles[0], "--workers", "2")
    workers = children(server.process.pid)
    assert len(workers) == 2
    server.process.kill()
    server.process.wait(timeout=10)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_shared_socket_says_it_is_tcp_so_asyncio_turns_nagle_off():
    """asyncio sets TCP_NODELAY only on accepted sockets whose protocol is IPPROTO_TCP; a socket made with
    proto 0 had every small response wait for a delayed ACK (1.4k req/s instead of 13k, measured under wrk)."""
    import socket

    from rnnqa.serve.workers import _listen

    sock = _listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        client = socket.create_connection(sock.getsockname())
        accepted, _ = sock.accept()
        assert accepted.proto == socket.IPPROTO_TCP
        accepted.close()
        client.close()
    finally:
        sock.close()


SLOW_WORKER_START = """import os, sys, time
if "--multiprocessing-fork" in sys.argv:  # a worker of qa-serve --workers: says so, then starts 3 s late
    open(os.path.join(os.path.dirname(__file__), f"slow-{os.getpid()}"), "w").close()
    time.sleep(3)
"""


def test_a_stop_while_the_workers_start_exits_0_and_leaves_no_worker(bundles, tmp_path):
    import subprocess

    from tests.serve.server import QA_SERVE

    (tmp_path / "sitecustomize.py").write_text(SLOW_WORKER_START)  # so the stop always comes while they start
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([str(QA_SERVE), "--bundle", str(bundles[0]), "--port", "0", "--workers", "2"],
                               stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(tmp_path.glob("slow-*"))) < 2:  # both in their slow start
        time.sleep(0.02)
    workers = children(process.pid)
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=60)
    log = process.stderr.read()
    process.stderr.close()
    slow = {p.name for p in tmp_path.glob("slow-*")}
    assert code == 0, log
    assert len(slow) == 2 and slow == {f"slow-{pid}" for pid in workers}, (slow, workers)
    assert "with 2 workers" not in log, log  # stopped before they were serving
    assert not any(_alive(pid) for pid in workers)


def torn_then_killed(conn) -> None:
    """A worker killed halfway through a message: a length header for 1,000 bytes, 7 of them, SIGKILL."""
    os.write(conn.fileno(), (1000).to_bytes(4, "big") + b"started")
    os.kill(os.getpid(), signal.SIGKILL)


def says_started(conn) -> None:
    time.sleep(0.5)  # after the other one is dead
    conn.send(("started", os.getpid()))


def test_a_worker_killed_mid_message_cannot_hold_up_its_siblings_messages():
    context = multiprocessing.get_context("spawn")
    procs = []
    for target in (torn_then_killed, says_started):
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=target, args=(sender,))
        process.start()
        sender.close()
        procs.append(workers._Worker(process, time.monotonic(), time.time(), receiver))
    torn, sibling = procs
    try:
        torn.process.join(30)
        assert torn.process.exitcode == -signal.SIGKILL  # it really died mid-message
        events, deadline = [], time.monotonic() + 30
        while not events and time.monotonic() < deadline:
            events += workers._messages(procs, timeout=0.1)
        assert events == [("started", sibling.process.pid)]
        assert torn.conn is None and sibling.conn is not None  # the torn pipe read to EOF and closed
    finally:
        for worker in procs:
            worker.process.join(30)
