"""The scripted protocol servers: trouble is served in order, and a hang holds up no one."""

import threading

import httpx

from tests.integrations.protocol_servers.segment import SegmentServer


def _post(server, timeout=5.0):
    return httpx.post(
        f"{server.url}/v1/batch",
        json={"batch": []},
        auth=(server.write_key, ""),
        timeout=timeout,
    )


def test_scripted_failures_come_in_order_then_the_protocol_answers():
    with SegmentServer() as server:
        server.fail_next("429", retry_after=3)
        server.fail_next("503", times=2)
        server.fail_next("malformed")
        answers = [_post(server) for _ in range(5)]
    assert [a.status_code for a in answers] == [429, 503, 503, 200, 200]
    assert answers[0].headers["Retry-After"] == "3"
    assert answers[3].text.startswith("<html>")
    assert answers[4].json() == {"success": True}


def test_a_hanging_request_does_not_hold_up_the_others():
    with SegmentServer() as server:
        server.fail_next("hang")
        hanging_done = threading.Event()
        outcome = []

        def hang():
            outcome.append(_post(server, timeout=60).status_code)
            hanging_done.set()

        thread = threading.Thread(target=hang)
        thread.start()
        while not server.requests:  # the hanging request has arrived
            threading.Event().wait(0.01)
        assert _post(server).status_code == 200
        assert not hanging_done.is_set()  # answered while the first still hangs
    thread.join()
    assert outcome == [504]  # stopping the server released the hanging answer
