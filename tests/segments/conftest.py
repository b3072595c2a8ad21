"""Fixtures of the segments tests."""

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The total number of profiles is cached for a minute; each test starts without it."""
    cache.clear()
    yield
    cache.clear()
