"""JSON text -> Python values, exactly as the standard library reads them, at orjson's speed.

Used wherever a large JSON text is read on a hot path: bodies sent to the tracking API, and the
JSON values PostgreSQL answers with (`cdp_site.db`). orjson reads integers beyond 64 bits as
floats, where the standard library keeps them exact, and refuses some texts the standard library
reads; those texts go to the standard library, so values are the same either way.
"""

import json
import math
from typing import Any

import orjson

# A text with a run of 19 digits or more (rare: ids inside strings, long decimals) is read by the
# standard library. Found by mapping every digit to "0" and searching for the run, several times
# faster than a regular expression.
_DIGITS_TO_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)
_LONG_NUMBER = b"0" * 19


def has_long_number(data: bytes) -> bool:
    """Whether JSON `data` may hold a number orjson would read differently from the standard
    library (a run of 19 digits or more, inside a string or not)."""
    return _LONG_NUMBER in data.translate(_DIGITS_TO_ZERO)


def loads(text: str | bytes, *, strict: bool = False) -> Any:
    """Parse JSON text exactly as `json.loads` would, at orjson's speed where that is the same.

    The standard library also takes what orjson refuses but is JSON (a lone surrogate escape,
    a number beyond a double's range). `strict` refuses, as ValueError, what is not JSON but
    the standard library would take: NaN, Infinity, and numbers too large for a float.
    """
    data = text if isinstance(text, bytes) else text.encode()
    if not has_long_number(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    if strict:
        return json.loads(data, parse_float=_finite_float, parse_constant=_not_json)
    return json.loads(data)


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _not_json(name: str):
    raise ValueError(f"{name} is not a JSON value")
