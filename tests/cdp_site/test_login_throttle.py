"""Password guessing is slowed: a few failed logins, then a pause, with a message saying so."""

import pytest
from django.core.cache import cache
from django.test import Client

from cdp_site.login_throttle import MAX_FAILURES_PER_USER
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.clear()
    yield
    cache.clear()


def _login(client, username, password, path="/accounts/login/"):
    return client.post(path, {"username": username, "password": password})


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_after_a_few_failures_even_the_right_password_waits(superuser, path):
    client = Client()
    for _ in range(MAX_FAILURES_PER_USER):
        response = _login(client, superuser.username, "wrong", path)
        assert "Too many failed logins" not in response.content.decode()
    refused = _login(client, superuser.username, PASSWORD, path)
    assert refused.status_code == 200
    assert "Too many failed logins" in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_another_address_is_not_locked_out(support_agent):
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(MAX_FAILURES_PER_USER + 1):
        _login(attacker, support_agent.username, "wrong")
    colleague = Client(REMOTE_ADDR="198.51.100.7")
    assert _login(colleague, support_agent.username, PASSWORD).status_code == 302


def test_a_success_clears_the_count(support_agent):
    client = Client()
    for _ in range(MAX_FAILURES_PER_USER - 1):
        _login(client, support_agent.username, "wrong")
    assert _login(client, support_agent.username, PASSWORD).status_code == 302
    client.logout()
    for _ in range(MAX_FAILURES_PER_USER - 1):
        _login(client, support_agent.username, "wrong")
    assert _login(client, support_agent.username, PASSWORD).status_code == 302


def test_behind_a_proxy_the_address_it_reports_is_counted(support_agent, settings):
    settings.CDP_CLIENT_IP_HEADER = "X-Forwarded-For"
    # Every request reaches the server from the proxy; the proxy names each client last.
    attacker = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9")
    for _ in range(MAX_FAILURES_PER_USER + 1):
        _login(attacker, support_agent.username, "wrong")
    colleague = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert _login(colleague, support_agent.username, PASSWORD).status_code == 302
    still_refused = _login(attacker, support_agent.username, PASSWORD)
    assert "Too many failed logins" in still_refused.content.decode()


def _parallel_wrong_logins(username: str, attempts: int) -> int:
    """`attempts` wrong logins at once from one address; how many reached the password check."""
    import threading
    from unittest import mock

    from django.contrib.auth.backends import ModelBackend

    checked = []
    real = ModelBackend.authenticate
    start = threading.Barrier(attempts)

    def counting(self, request, username=None, password=None, **kwargs):
        checked.append(username)
        return real(self, request, username=username, password=password, **kwargs)

    def attempt():
        start.wait()
        Client(REMOTE_ADDR="203.0.113.77").post(
            "/accounts/login/", {"username": username, "password": "wrong"}
        )

    with mock.patch.object(ModelBackend, "authenticate", counting):
        threads = [threading.Thread(target=attempt) for _ in range(attempts)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    return len(checked)


@pytest.mark.django_db(transaction=True)
def test_parallel_attempts_reach_the_password_check_no_more_than_the_limit(support_agent):
    assert _parallel_wrong_logins(support_agent.username, 20) == MAX_FAILURES_PER_USER


@pytest.mark.django_db(transaction=True)
def test_parallel_attempts_are_counted_in_redis_across_processes(support_agent, settings, tmp_path):
    """Production's shared cache: the same limit, counted where every server process counts."""
    from tests.cdp_site.test_queues import RedisServer
    from tests.servers import have_redis

    if not have_redis():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(tmp_path)
    server.start()
    try:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": server.url,
            }
        }
        assert _parallel_wrong_logins(support_agent.username, 20) == MAX_FAILURES_PER_USER
        import redis

        keys = redis.Redis.from_url(server.url).keys("*login-attempt*")
        assert keys  # the counts were kept in Redis, not in this process
    finally:
        server.stop()
