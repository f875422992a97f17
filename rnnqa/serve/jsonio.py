"""JSON for the hot routes: orjson where it is installed (the serve extra brings it), else the standard
library, with the same behaviour the routes rely on: UTF-8 out, no NaN/Infinity, bytes in.

``loads`` raises ``ValueError`` (``json.JSONDecodeError`` or orjson's subclass of it) on malformed input,
invalid UTF-8 included.
"""

from __future__ import annotations

import json

try:
    import orjson
except ImportError:  # pragma: no cover - the serve extra installs it
    orjson = None

ENGINE = "orjson" if orjson else "json"


def loads(data: bytes):
    if orjson is not None:
        return orjson.loads(data)
    return json.loads(data.decode("utf-8"))


def dumps(value) -> bytes:
    if orjson is not None:
        return orjson.dumps(value)
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
