"""qa-serve against the servers a user would run instead: `make bench-serve` (after benchmarks/serve.py), or
`python benchmarks/serve_peers.py [--baseline OTHER_CHECKOUT]`. Needs Debian's `wrk`, FastAPI (the bench
extra) and Ray Serve (the ray extra).

One bundle (qa-train's defaults on the bundled dataset), one wrk (`-t1`, 5 s, closed loop) at concurrency 64
with a one-question POST body, on the same cores, every server started on a free 127.0.0.1 port in turn:

- qa-serve (`/v1/answer`), and its stack's floors: the GET no-op `/v2/health/live` and a POST no-op on the
  same hot path (body read and parsed, a same-shaped answer written, counted and logged), without the model;
- the server a user writes in an afternoon: FastAPI + pydantic + one `InferenceSession.run` per request,
  under uvicorn as FastAPI's documentation runs it, with its GET and POST no-ops;
- Ray Serve: one replica behind its HTTP proxy, `@serve.batch`, and a POST no-op on the same proxy;
- with `--bentoml-venv`, BentoML: one Service, a batchable API (adaptive batching) and a POST no-op, the
  body `{"questions": [one question]}` (a batchable API takes one list);
- with `--baseline`, qa-serve as another checkout has it (its `rnnqa` on PYTHONPATH), for before/after.

Requests/s and p99 as wrk reports them; ratios from this one run. Writes benchmarks/serve_peers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from bundles import default_bundle  # noqa: E402
from serve import QUESTION, wrk  # noqa: E402

BIN = Path(sys.executable).parent
BODY = {"question": QUESTION}
CONCURRENCY = 64


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Proc:
    """A server in a child process, up once ``probe`` answers 200 (a POST of the one-question body)."""

    def __init__(self, args: list[str], probe: str, env: dict, timeout_s: float = 180, cwd: Path = ROOT,
                 body: dict = BODY):
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(args, env={**os.environ, "PYTHONPATH": str(ROOT), **env}, cwd=cwd,
                                        stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"{args[0]} exited {self.process.returncode}: {self.log.read()[-2000:]!r}")
            try:
                request = urllib.request.Request(probe, data=json.dumps(body).encode(),
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{args} not answering after {timeout_s} s")
            time.sleep(0.5)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def run(label: str, proc_args: list[str], base: str, routes: dict, env: dict, seconds: int, tmp: Path,
        cwd: Path = ROOT, body: dict = BODY) -> dict:
    """Start the server, wrk each of ``routes`` ({name: (method, path)}) at concurrency 64, stop it."""
    print(f"{label} ...", file=sys.stderr, flush=True)
    probe = next(path for method, path in routes.values() if method == "POST")
    proc = Proc(proc_args, f"{base}{probe}", env, cwd=cwd, body=body)
    try:
        return {name: wrk(f"{base}{path}", CONCURRENCY, seconds, body if method == "POST" else None, tmp)
                for name, (method, path) in routes.items()}
    finally:
        proc.stop()


def uvicorn(target: str, port: int, *args: str) -> list[str]:
    return [str(BIN / "uvicorn"), target, "--port", str(port), "--log-level", "warning", "--no-access-log", *args]


def measure(bundle: Path, seconds: int, tmp: Path, baseline: Path | None = None,
            bentoml_venv: Path | None = None) -> dict:
    env, ports = {"RNNQA_BUNDLE": str(bundle)}, [free_port() for _ in range(6)]
    base = [f"http://127.0.0.1:{port}" for port in ports]
    qa_serve = run("qa-serve", [str(BIN / "qa-serve"), "--bundle", str(bundle), "--port", str(ports[0])], base[0],
                   {"answer": ("POST", "/v1/answer")}, env, seconds, tmp)
    qa_serve |= run("qa-serve's stack, no-ops", uvicorn("benchmarks.peers.qa_serve_floor:app", ports[1], "--factory",
                                                        "--loop", "asyncio"),
                    base[1], {"post_noop": ("POST", "/noop"), "get_noop": ("GET", "/v2/health/live")}, env, seconds, tmp)
    fastapi = run("FastAPI", uvicorn("benchmarks.peers.fastapi_app:app", ports[2]), base[2],
                  {"answer": ("POST", "/v1/answer"), "post_noop": ("POST", "/noop"), "get_noop": ("GET", "/noop")},
                  env, seconds, tmp)
    ray_serve = run("Ray Serve", [sys.executable, "benchmarks/peers/ray_app.py", "--bundle", str(bundle),
                                  "--port", str(ports[3])], base[3],
                    {"answer": ("POST", "/v1/answer"), "post_noop": ("POST", "/noop")}, env, seconds, tmp)
    results = {"qa-serve": qa_serve, "FastAPI + session.run per request": fastapi, "Ray Serve, @serve.batch": ray_serve}
    if bentoml_venv is not None:  # a venv of its own: its packages stay out of rnnqa's
        results["BentoML, adaptive batching"] = run(
            "BentoML", [str(bentoml_venv / "bin" / "bentoml"), "serve", "benchmarks.peers.bentoml_app:Answerer",
                        "--host", "127.0.0.1", "--port", str(ports[5])], f"http://127.0.0.1:{ports[5]}",
            {"answer": ("POST", "/v1/answer"), "post_noop": ("POST", "/noop")}, env, seconds, tmp,
            body={"questions": [QUESTION]})
    if baseline is not None:  # qa-serve from another checkout (its rnnqa on PYTHONPATH), same venv and wrk
        url = f"http://127.0.0.1:{ports[4]}"
        results[f"qa-serve at {baseline.name}"] = run(
            "qa-serve baseline", [sys.executable, "-c", "from rnnqa.serve.cli import main; main()", "--bundle",
                                  str(bundle), "--port", str(ports[4])], url,
            {"answer": ("POST", "/v1/answer")}, {**env, "PYTHONPATH": str(baseline)}, seconds, tmp, cwd=baseline)
    return results


def render(results: dict) -> str:
    cell = lambda r: f"{r['rps']:,}, {r['p99_ms']}" + (f" ({r['non_2xx']} non-2xx)" if r["non_2xx"] else "")  # noqa: E731
    lines = ["| server (concurrency 64) | answer: req/s, p99 ms | POST no-op | GET no-op | answer / POST no-op |",
             "| --- | --- | --- | --- | --- |"]
    for label, r in results.items():
        post, get = r.get("post_noop"), r.get("get_noop")
        ratio = f"{r['answer']['rps'] / post['rps']:.2f}×" if post else "—"
        lines.append(f"| {label} | {cell(r['answer'])} | {cell(post) if post else '—'} | "
                     f"{cell(get) if get else '—'} | {ratio} |")
    ours = results["qa-serve"]["answer"]
    for label, r in results.items():
        if label != "qa-serve":
            lines.append(f"qa-serve / {label}: {ours['rps'] / r['answer']['rps']:.2f}× req/s, "
                         f"p99 {ours['p99_ms']} vs {r['answer']['p99_ms']} ms")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "serve_peers.json")
    parser.add_argument("--baseline", type=Path, help="another checkout whose qa-serve is measured beside this one")
    parser.add_argument("--bundle", type=Path, help="the bundle to serve (default: train qa-train's default model; "
                                                    "a baseline from before format 5 needs one it reads)")
    parser.add_argument("--bentoml-venv", type=Path, help="a venv with bentoml and rnnqa (make bench-serve makes one)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("needs wrk (apt-get install -y wrk)")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        results = measure(args.bundle or default_bundle(tmp), args.seconds, tmp, args.baseline, args.bentoml_venv)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
