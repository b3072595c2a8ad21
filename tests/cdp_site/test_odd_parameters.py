"""Property test: every page and API, asked with GET by every role, with odd values in every
query parameter the app reads (huge, negative, far dates and offsets, Unicode, empty), answers
without a server error."""

import datetime as dt
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.cdp_site.test_roles import Scene
from tests.urlmatrix import MATRIX, PERSONAS_WITH_ANONYMOUS

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
APPS = ("cdp_site", "profiles", "segments", "integrations", "compliance")

# Every query parameter a view reads, by name; `test_every_parameter_read_is_fuzzed` keeps the
# list complete. Pagination (`page`, `page_size`) and form filters are read by name elsewhere.
PARAMETERS = (
    "q", "page", "page_size", "before", "since", "until", "type", "status", "source", "purpose",
    "profile", "kind", "explain", "attempt", "user", "action", "assignee", "email", "phone",
    "user_id", "anonymous_id", "event", "part", "path", "class", "format",
)  # fmt: skip

ODD_VALUES = (
    "", " ", "0", "-1", "1.5", "1e309", "NaN", "inf", str(2**63), str(2**63 - 1), str(-(2**70)),
    "²", "١٢", "😀", "a\x00b", "%", "_", "*", "\\", "'", '"', "<script>alert(1)</script>",
    "../../etc/passwd", "x" * 5000, "true", "null", "[]", "{}",
    "9999-12-31", "0001-01-01", "2024-13-45", "2024-02-30", "-2024-01-01", "99999-01-01",
    "2024-01-01T00:00:00+20:00_5", "2024-01-01T00:00:00-23:59_5", "0001-01-01T00:00:00+23:00_1",
    "9999-12-31T23:59:59.999999-23:59_9223372036854775807", "2024-01-01T00:00:00_5",
    "2024-01-01T00:00:00Z_0", "2024-01-01T00:00:00Z_-1", "2024-01-01T00:00:00Z_" + "9" * 20,
)  # fmt: skip

far_cursors = st.builds(
    lambda when, offset, pk: f"{when.replace(tzinfo=dt.timezone(offset)).isoformat()}_{pk}",
    # Naive bounds: Hypothesis's own way; the offset is attached above.
    st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),  # noqa: DTZ001
    st.timedeltas(min_value=dt.timedelta(hours=-23, minutes=-59), max_value=dt.timedelta(hours=23)),
    st.integers(min_value=-(2**64), max_value=2**64),
)
odd_values = st.one_of(
    st.sampled_from(ODD_VALUES),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.dates().map(dt.date.isoformat),
    far_cursors,
    # Any text a URL can carry (a lone surrogate cannot be sent as UTF-8 at all).
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
)

# GET paths the matrix lists, with every persona (the answers are the matrix's business; here,
# only that none is a server error).
PATHS = sorted(MATRIX)


def _read_parameters() -> set[str]:
    pattern = re.compile(r"""(?:GET|query_params)\.get(?:list)?\(\s*["']([A-Za-z_]+)["']""")
    found: set[str] = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            found.update(pattern.findall(path.read_text()))
    return found


def test_every_parameter_read_is_fuzzed():
    assert _read_parameters() <= set(PARAMETERS)


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(PATHS),
    # The superuser reaches every page (and reads its parameters); the others mostly see 403.
    persona_name=st.sampled_from(("superuser",) * 4 + PERSONAS_WITH_ANONYMOUS),
    params=st.dictionaries(st.sampled_from(PARAMETERS), odd_values, min_size=1, max_size=4),
    htmx=st.booleans(),
)
# Found by a security review: each answered 500 once.
@example(
    path="/customers/{profile}/timeline/",
    persona_name="support_agent",
    params={"before": "2024-01-01T00:00:00+20:00_5"},
    htmx=True,
)
@example(
    path="/compliance/audit/",
    persona_name="compliance_officer",
    params={"before": "2024-01-01T00:00:00+20:00_5"},
    htmx=False,
)
@example(
    path="/compliance/audit/", persona_name="superuser", params={"until": "9999-12-31"}, htmx=False
)
def test_odd_query_parameters_never_answer_a_server_error(
    path, persona_name, params, htmx, request, client, marketer, scene_cache
):
    client.logout()
    if persona_name != "anonymous":
        client.force_login(request.getfixturevalue(persona_name))
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.get(scene_cache(marketer).url(path), params, **headers)
    assert response.status_code < 500, (path, persona_name, params)


@pytest.fixture
def scene_cache():
    """One scene for every example of the test: objects are made once, when first named."""
    scenes = {}

    def get(marketer):
        return scenes.setdefault(marketer.pk, Scene(marketer))

    return get
