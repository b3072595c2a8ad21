"""The official Segment and RudderStack Node SDKs, unchanged, against the live test server.

`make test` installs them from `tests/node/package.json` (npm ci) when Node is on the machine;
without Node these tests are skipped with a message, and CI (`CDP_REQUIRE_NODE=1`) requires them.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from integrations.selectors import write_key_cache_clear
from tests.factories import SourceFactory
from tests.integrations.sdk_calls import assert_every_call_stored

pytestmark = pytest.mark.django_db(transaction=True)

NODE_DIR = Path(__file__).resolve().parent.parent / "node"
SCRIPT = NODE_DIR / "send_every_call.js"


@pytest.fixture
def node():
    node = shutil.which("node")
    missing = (
        "Node.js is not installed (apt-get install nodejs npm)"
        if node is None
        else "the Node SDKs are not installed (npm ci --prefix tests/node)"
        if not (NODE_DIR / "node_modules").is_dir()
        else ""
    )
    if missing:
        if os.environ.get("CDP_REQUIRE_NODE"):
            pytest.fail(f"{missing}: CI requires the Node SDK tests")
        pytest.skip(missing)
    return node


@pytest.fixture(autouse=True)
def _no_resolution(settings):
    # The resolve task each request queues runs inline here; resolution is not under test.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    write_key_cache_clear()
    yield
    write_key_cache_clear()


def _send(node: str, sdk: str, host: str, write_key: str, prefix: str) -> None:
    result = subprocess.run(  # noqa: S603 - fixed script, arguments from the test
        [node, str(SCRIPT), sdk, host, write_key, prefix],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("sdk", "library"),
    [("segment", "@segment/analytics-node"), ("rudderstack", "analytics-node")],
)
def test_node_sdk_sends_every_call(live_server, node, sdk, library):
    source = SourceFactory()
    _send(node, sdk, live_server.url, source.write_key, sdk)
    assert_every_call_stored(source, sdk, library=library)
