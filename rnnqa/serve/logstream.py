"""qa-serve's stderr: the request log's lines buffered for a moment, everything else at once, in order.

The request log is one JSON line per request. Through ``logging`` to a line-buffered stderr each line cost
~4.9 µs of the event loop's time (a LogRecord, the handler's lock, a ``write`` system call); appended to a
buffer, ~0.3 µs. So :class:`LogStream` takes the place of ``sys.stderr`` in a qa-serve process:

- ``request(line)`` buffers one request line;
- the buffer goes out within ``interval`` seconds (a daemon thread), as soon as it holds ``limit`` bytes,
  before anything else is written through the stream (events, warnings, tracebacks keep their place
  after the requests logged before them, and go out at once), and at exit;
- it goes out in writes of whole lines of at most ``PIPE_BUF`` bytes, each atomic on a pipe, so the
  lines of several workers sharing one stderr never interleave mid-line (as one write per line did not).

A process killed outright (SIGKILL) loses at most the last ``interval`` of request lines.
"""

from __future__ import annotations

import atexit
import select
import threading
from typing import TextIO

PIPE_BUF = getattr(select, "PIPE_BUF", 512)  # POSIX's least; Linux: 4096


class LogStream:
    """A text stream over ``target`` (the process's stderr) with a buffered side door for request lines."""

    def __init__(self, target: TextIO, interval: float = 0.1, limit: int = 1 << 16):
        self.target, self.interval, self.limit = target, interval, limit
        self._lines: list[str] = []
        self._size = 0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        threading.Thread(target=self._flush_every_interval, name="rnnqa-log", daemon=True).start()
        atexit.register(self.close)

    def request(self, line: str) -> None:
        """Log one request line (without its newline)."""
        with self._lock:
            self._lines.append(line)
            self._size += len(line) + 1
            if self._size >= self.limit:
                self._drain()

    def write(self, text: str) -> int:
        with self._lock:
            self._drain()
            return self.target.write(text)

    def flush(self) -> None:
        with self._lock:
            self._drain()
            self.target.flush()

    def close(self) -> None:
        """Flush, and stop the flushing thread (the stream keeps writing through)."""
        self._closed.set()
        self.flush()

    def __getattr__(self, name: str):  # encoding, errors, fileno, isatty, buffer …: the target's
        return getattr(self.target, name)

    def _flush_every_interval(self) -> None:
        while not self._closed.wait(self.interval):
            if self._lines:
                self.flush()

    def _drain(self) -> None:
        """Write the buffered lines out (the lock held), in chunks of whole lines of at most PIPE_BUF bytes."""
        if not self._lines:
            return
        lines, self._lines, self._size = self._lines, [], 0
        encoding = getattr(self.target, "encoding", None) or "utf-8"
        chunk: list[str] = []
        size = 0
        for line in lines:
            n = (len(line) if line.isascii() else len(line.encode(encoding, "backslashreplace"))) + 1
            if chunk and size + n > PIPE_BUF:
                self._write_chunk(chunk)
                chunk, size = [], 0
            chunk.append(line)
            size += n
        self._write_chunk(chunk)

    def _write_chunk(self, lines: list[str]) -> None:
        self.target.write("\n".join(lines) + "\n")
        self.target.flush()
