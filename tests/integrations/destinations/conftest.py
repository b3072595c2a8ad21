"""Protocol servers for the destination tests."""

import pytest

from tests.integrations.protocol_servers.mailchimp import MailchimpServer
from tests.integrations.protocol_servers.meta import MetaServer
from tests.integrations.protocol_servers.segment import SegmentServer
from tests.integrations.protocol_servers.webhook import WebhookReceiver


@pytest.fixture
def webhook_receiver():
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def mailchimp_server():
    with MailchimpServer() as server:
        yield server


@pytest.fixture
def meta_server():
    with MetaServer() as server:
        yield server


@pytest.fixture
def segment_server():
    with SegmentServer() as server:
        yield server
