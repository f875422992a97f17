"""What every rnnqa command shares: turning the library's errors into one line and an exit code."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

import click

from rnnqa.errors import RnnqaError

F = TypeVar("F", bound=Callable)

EXIT_ERROR = 1  # a typed rnnqa error (bad data, bad bundle, failed parity …); click uses 2 for usage


def report_errors(command: F) -> F:
    """Run ``command``; an :class:`RnnqaError` becomes ``error: …`` on stderr and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except RnnqaError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_ERROR)

    return wrapper  # type: ignore[return-value]
