"""qa-serve in a child process on an ephemeral 127.0.0.1 port, for the tests that need the real server."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

QA_SERVE = Path(sys.executable).parent / "qa-serve"
LOCAL = ("127.0.0.1", 50000)  # the client address TestClient reports: loopback, as the admin routes want


class Server:
    """qa-serve in a child process; its stderr (the request log) is read by a thread, so a full pipe
    never blocks it."""

    def __init__(self, bundle: Path, *args: str, start_timeout: float = 60):
        self.process = subprocess.Popen([str(QA_SERVE), "--bundle", str(bundle), "--port", "0", *args],
                                        stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.process.stderr), daemon=True)
        self.reader.start()
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline and not any("serving" in line for line in self.lines):
            if self.process.poll() is not None:
                raise RuntimeError(f"qa-serve exited with {self.process.returncode}: {self.lines}")
            time.sleep(0.02)
        line = next(line for line in self.lines if "serving" in line)
        self.url = re.search(r"http://[\d.]+:\d+", line).group(0)

    def records(self) -> list[dict]:
        """The JSON lines logged so far (requests and events), while the server runs."""
        return [json.loads(line) for line in list(self.lines) if line.startswith("{")]

    def logged(self, route: str) -> list[dict]:
        """The request log's records for ``route`` (one JSON line per request the server handled)."""
        self.reader.join(timeout=30)
        records = [json.loads(line) for line in self.lines if line.startswith("{")]
        return [r for r in records if r.get("route") == route]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)
