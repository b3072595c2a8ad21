"""Protocol servers for the destination tests."""

import pytest

from tests.integrations.protocol_servers.webhook import WebhookReceiver


@pytest.fixture
def webhook_receiver():
    with WebhookReceiver() as server:
        yield server
