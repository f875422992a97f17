"""JSON for qa-serve's routes: orjson where it is installed (the serve extra brings it), else the standard
library. Both take bytes in and write compact UTF-8 out, and ``loads`` raises ``ValueError``
(``json.JSONDecodeError`` or orjson's subclass of it) on malformed input, invalid UTF-8 included.
Where they differ, on input no route accepts anyway: orjson refuses ``NaN``/``Infinity`` literals and
integers beyond 64 bits (400), which the standard library reads (then 422 as a wrong type).
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
