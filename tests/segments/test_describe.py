"""Words and numbers the segment pages show: shares at both ends, where a problem is."""

import pytest

from segments.builder import problem_place
from segments.describe import share_text


@pytest.mark.parametrize(
    ("part", "whole", "text"),
    [
        (8, 2000, "0.4%"),
        (1, 10_000, "under 0.1%"),
        (0, 2000, "0%"),
        (5, 0, "0%"),
        (21, 2000, "1.1%"),
        (1000, 2000, "50%"),
        (1999, 2000, "99.9%"),
        (2000, 2001, "99.9%"),
        (2000, 2000, "100%"),
    ],
)
def test_share_text_reads_right_at_both_ends(part, whole, text):
    assert share_text(part, whole) == text


@pytest.mark.parametrize(
    ("path", "place"),
    [
        ("conditions.1.where.0.value", "Condition 2, property filter 1"),
        ("conditions.0.conditions.2.count.value", "Condition 1.3"),
        ("conditions.3.window.last_days", "Condition 4"),
        ("", ""),
        ("name", ""),
    ],
)
def test_problem_place_names_the_condition(path, place):
    assert problem_place(path) == place
