"""Where qa-serve's time goes against its POST no-op floor: CPU per request of the server and of wrk.

`python benchmarks/serve_cpu.py --bundle DIR [--rounds 2]`. Needs Debian's `wrk`. Starts qa-serve and the
no-op floor of `serve_peers.py` (same stack: uvicorn, the hot path, the same body parsed and a same-shaped
answer written) in turn, drives each with `wrk -t1 -c64` for 5 s (serve.py's `wrk`), and reads the CPU
seconds the server's process (its threads together) and wrk spent, from /proc and getrusage. Prints, per
server, req/s, the cores each used and their CPU µs per request. On 2 cores a server that uses one core
while wrk leaves the other mostly idle is bound by its GIL: its CPU per request, not the machine, sets its
req/s.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import wrk  # noqa: E402
from serve_peers import BIN, BODY, CONCURRENCY, Proc, free_port, uvicorn  # noqa: E402

SECONDS = 5
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` (all its threads) and its direct children."""
    pids = [pid] + [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    total = 0
    for p in pids:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / TICK


def measure(label: str, args: list[str], path: str, env: dict, tmp: Path) -> dict:
    port = free_port()
    args = [str(port) if a == "PORT" else a for a in args]
    url = f"http://127.0.0.1:{port}{path}"
    proc = Proc(args, url, env)
    try:
        server0, client0 = cpu_seconds(proc.process.pid), children_cpu_seconds()
        start = time.perf_counter()
        rps = wrk(url, CONCURRENCY, SECONDS, BODY, tmp)["rps"]
        wall = time.perf_counter() - start
        server, client = cpu_seconds(proc.process.pid) - server0, children_cpu_seconds() - client0
    finally:
        proc.stop()
    requests = rps * SECONDS
    result = {"rps": rps,
              "server_cores": round(server / wall, 2), "server_us_per_request": round(server / requests * 1e6, 1),
              "wrk_cores": round(client / wall, 2), "wrk_us_per_request": round(client / requests * 1e6, 1)}
    print(f"{label}: {result}", flush=True)
    return result


def children_cpu_seconds() -> float:
    """User + system CPU of this process's children that have exited and been waited for: wrk, once
    ``wrk()`` returns (the server child is waited for only when it is stopped, after the reading)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("needs wrk (apt-get install -y wrk)")
    env = {"RNNQA_BUNDLE": str(args.bundle)}
    servers = {
        "qa-serve": ([str(BIN / "qa-serve"), "--bundle", str(args.bundle), "--port", "PORT"], "/v1/answer"),
        "POST no-op": ([("PORT" if a == "0" else a) for a in
                        uvicorn("benchmarks.peers.qa_serve_floor:app", 0, "--factory", "--loop", "asyncio")], "/noop"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for label, (argv, path) in servers.items():
                measure(label, argv, path, env, Path(tmp))


if __name__ == "__main__":
    main()
