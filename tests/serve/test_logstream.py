"""qa-serve's stderr: request lines buffered, flushed in order, in whole-line writes of at most PIPE_BUF."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import time

import pytest

from rnnqa.serve.logstream import PIPE_BUF, LogStream


class Target(io.StringIO):
    """A text stream that records each write."""

    def __init__(self):
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_request_lines_wait_in_the_buffer_and_go_out_in_order_within_the_interval():
    target = Target()
    stream = LogStream(target, interval=0.05)
    try:
        for i in range(5):
            stream.request(f'{{"n": {i}}}')
        assert target.writes == []  # nothing written per line
        deadline = time.monotonic() + 5
        while not target.writes and time.monotonic() < deadline:
            time.sleep(0.01)
        assert target.writes == ['{"n": 0}\n{"n": 1}\n{"n": 2}\n{"n": 3}\n{"n": 4}\n']  # one write, in order
    finally:
        stream.close()


def test_anything_else_written_goes_out_at_once_after_the_requests_before_it():
    target = Target()
    stream = LogStream(target, interval=60)
    try:
        stream.request("r1")
        stream.request("r2")
        print("event", file=stream)
        assert target.getvalue() == "r1\nr2\nevent\n"
        stream.request("r3")
        stream.flush()
        assert target.getvalue().endswith("event\nr3\n")
    finally:
        stream.close()


def test_writes_hold_whole_lines_of_at_most_pipe_buf_bytes_and_a_full_buffer_goes_out():
    target = Target()
    stream = LogStream(target, interval=60, limit=40 * PIPE_BUF)
    try:
        lines = [("é" if i % 7 == 0 else "a") * (i % 300 + 1) for i in range(2000)]
        long = "b" * (PIPE_BUF * 2)
        for line in lines[:1000]:
            stream.request(line)
        stream.request(long)
        for line in lines[1000:]:
            stream.request(line)
        assert target.writes  # the limit was reached before any flush
        stream.flush()
        assert "".join(target.writes) == "\n".join([*lines[:1000], long, *lines[1000:]]) + "\n"
        for chunk in target.writes:
            assert chunk.endswith("\n")
            assert len(chunk.encode("utf-8")) <= PIPE_BUF or chunk == long + "\n"
    finally:
        stream.close()


def test_the_buffer_is_written_at_exit_and_request_log_takes_it_only_unchanged(tmp_path):
    script = (
        "import logging, sys\n"
        "from rnnqa.serve.process import setup_logging, request_log\n"
        "setup_logging()\n"
        "direct = request_log()\n"
        "print(direct.__name__, file=sys.stderr)\n"
        "for i in range(3): direct(f'line {i}')\n"
        "logging.getLogger('rnnqa.serve').warning('event')\n"
        "direct('last')\n"
        "logging.getLogger('rnnqa').addFilter(lambda r: True)\n"
        "print(request_log() == logging.getLogger('rnnqa.serve').info, file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert result.stderr.splitlines() == ["request", "line 0", "line 1", "line 2", "event", "last", "True"]


@pytest.mark.parametrize("change", [
    lambda: logging.getLogger("rnnqa.serve").addHandler(logging.NullHandler()),
    lambda: logging.getLogger().handlers[0].setFormatter(logging.Formatter("%(levelname)s %(message)s")),
    lambda: logging.getLogger().addHandler(logging.NullHandler()),
    lambda: setattr(logging.getLogger("rnnqa.serve"), "propagate", False),
])
def test_a_changed_logging_setup_gets_the_logger(change, monkeypatch):
    from rnnqa.serve import process

    target = Target()
    stream = LogStream(target, interval=60)
    root = logging.getLogger()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(root, "handlers", [handler])
    monkeypatch.setattr(logging.getLogger("rnnqa.serve"), "handlers", [])
    monkeypatch.setattr(logging.getLogger("rnnqa.serve"), "propagate", True)
    try:
        assert process.request_log() == stream.request
        change()
        assert process.request_log() == logging.getLogger("rnnqa.serve").info
    finally:
        stream.close()
