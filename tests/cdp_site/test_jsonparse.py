"""Strict, exact JSON parsing: values as the standard library reads them, at orjson's speed."""

import json

import pytest

from cdp_site.jsonparse import loads


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "b": [1.5, "x", null, true], "c": {"d": "é"}}',
        '{"big": 123456789012345678901234567890}',  # orjson alone would make this a float
        '{"huge": 1e400}',  # orjson alone refuses this; the standard library reads infinity
        '{"id": "0000000000000000000123"}',  # a long digit run inside a string
        "[]",
    ],
)
def test_loads_reads_as_the_standard_library(text):
    assert loads(text) == json.loads(text)
    assert type(loads(text)) is type(json.loads(text))


def test_loads_keeps_big_integers_exact():
    value = loads('{"n": 123456789012345678901}')["n"]
    assert value == 123456789012345678901
    assert isinstance(value, int)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"n": NaN}', "NaN is not a JSON value"),
        ('{"n": Infinity}', "Infinity is not a JSON value"),
        ('{"n": 1e400}', "the number 1e400 is out of range"),
    ],
)
def test_strict_loads_refuses_what_is_not_json(text, message):
    assert loads(text) is not None
    with pytest.raises(ValueError, match=message):
        loads(text, strict=True)
