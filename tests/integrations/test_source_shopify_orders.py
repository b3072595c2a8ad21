"""Shop orders against a local server speaking Shopify's Admin REST protocol, through the runner
to stored events: paging by Link header, incremental runs, retries, refusals, a killed worker."""

from datetime import timedelta

import pytest

from cdp_site.errors import InvalidInputError
from integrations.connectors.shopify_orders import (
    ShopifyOrders,
    call_limit_pause,
    next_page_info,
    next_watermark,
    order_records,
)
from integrations.models import SyncRun
from profiles.models import Event
from tests.integrations.http_sources import run, run_killed_then_resumed, source_create, stored
from tests.integrations.protocol_servers.shopify import (
    BASE_TIME,
    TOKEN,
    OrderBook,
    ShopifyServer,
    make_order,
)

ORDERS = 600  # three pages of 250


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.CDP_SYNC_RETRY_BASE_SECONDS = 0.01
    settings.CDP_SYNC_RETRY_MAX_SECONDS = 0.05
    settings.CDP_SYNC_RETRY_ATTEMPTS = 4


def _orders(count: int, start: int = 1) -> list[dict]:
    return [
        make_order(n, updated_at=BASE_TIME + timedelta(hours=n))
        for n in range(start, start + count)
    ]


@pytest.fixture
def shop():
    server = ShopifyServer(OrderBook(_orders(ORDERS)), threaded=True).start()
    yield server
    server.stop()


def _source(shop, name: str = "Shop", token: str = TOKEN, **values):
    return source_create(
        "shopify_orders", name=name, base_url=shop.base_url, access_token=token, **values
    )


def _order_pages(shop) -> list:
    return [r for r in shop.requests if r.path.endswith("/orders.json")]


def test_the_connection_check_counts_the_orders(shop):
    connector = ShopifyOrders({"base_url": shop.base_url}, {"access_token": TOKEN})
    assert connector.check_connection().message == "Connected: 600 orders visible."
    assert connector.check_connection().ok


def test_the_connection_check_names_a_refused_token_without_showing_it(shop):
    check = ShopifyOrders(
        {"base_url": shop.base_url}, {"access_token": "shpat_wrong"}
    ).check_connection()
    assert not check.ok
    assert "refused the Admin API access token (401)" in check.message
    assert "shpat_wrong" not in check.message


@pytest.mark.django_db
def test_a_run_pages_by_link_header_and_stores_each_order_and_customer(shop):
    source = _source(shop)
    result = run(source)
    assert result.status == SyncRun.Status.SUCCEEDED, result.message
    assert (result.records_read, result.records_stored, result.records_unchanged) == (1200, 1200, 0)
    assert (result.progress_done, result.progress_total) == (600, 600)

    pages = _order_pages(shop)
    assert [p.args for p in pages[1:]] == [
        {"limit": "250", "page_info": pages[1].args["page_info"]},
        {"limit": "250", "page_info": pages[2].args["page_info"]},
    ]
    assert pages[0].args == {"status": "any", "limit": "250"}
    assert all(p.headers["X-Shopify-Access-Token"] == TOKEN for p in shop.requests)

    assert Event.objects.filter(source_id=source.pk, event="Order Completed").count() == 600
    assert Event.objects.filter(source_id=source.pk, type="identify").count() == 600
    order = Event.objects.get(
        source_id=source.pk, event="Order Completed", properties__order_id="7"
    )
    assert order.user_id == "8"
    assert order.context["traits"] == {"email": "customer8@example.com"}
    assert order.context["externalIds"] == [
        {"id": "8", "type": "shopify_customer_id", "collection": "users", "encoding": "none"}
    ]
    assert order.properties == {
        "order_id": "7",
        "order_number": "#7",
        "total": 33.5,
        "revenue": 33.5,
        "subtotal": 0.0,
        "tax": 0.0,
        "discount": 0.0,
        "currency": "EUR",
        "financial_status": "paid",
        "products": [
            {
                "product_id": "1000",
                "variant_id": "5000",
                "sku": "SKU-0",
                "name": "Product 0",
                "price": 10.5,
                "quantity": 1,
            },
            {
                "product_id": "1001",
                "variant_id": "5001",
                "sku": "SKU-1",
                "name": "Product 1",
                "price": 11.5,
                "quantity": 2,
            },
        ],
    }
    assert order.timestamp == BASE_TIME + timedelta(minutes=7)
    customer = Event.objects.get(source_id=source.pk, type="identify", user_id="8")
    assert customer.traits == {
        "email": "customer8@example.com",
        "first_name": "Customer",
        "last_name": "8",
        "shopify_customer_id": "8",
    }


@pytest.mark.django_db
def test_the_next_run_reads_only_orders_updated_since(shop):
    source = _source(shop)
    run(source)
    source.refresh_from_db()
    newest = (BASE_TIME + timedelta(hours=ORDERS)).isoformat()
    assert source.checkpoint == {"updated_at_min": newest}

    refunded = make_order(5, updated_at=BASE_TIME + timedelta(hours=ORDERS + 1))
    refunded["financial_status"] = "refunded"
    refunded["customer"]["updated_at"] = refunded["updated_at"]
    shop.book.put(refunded)
    shop.book.put(make_order(601, updated_at=BASE_TIME + timedelta(hours=ORDERS + 2)))
    shop.requests.clear()
    second = run(source)

    assert _order_pages(shop)[0].args == {"status": "any", "limit": "250", "updated_at_min": newest}
    # The boundary order 600 again (the filter is inclusive), order 5, and the new order 601.
    assert (second.progress_done, second.progress_total) == (3, 3)
    # New: order 601 and its customer, and customer 6's new traits; order 5 completed only once.
    assert (second.records_stored, second.records_unchanged) == (3, 3)
    assert Event.objects.filter(source_id=source.pk, event="Order Completed").count() == 601


@pytest.mark.django_db
def test_two_runs_of_the_same_orders_store_them_once(shop):
    source = _source(shop)
    run(source)
    source.checkpoint = {}
    source.save()
    again = run(source)
    assert (again.records_read, again.records_stored, again.records_unchanged) == (1200, 0, 1200)
    assert Event.objects.filter(source_id=source.pk).count() == 1200


@pytest.mark.django_db
def test_throttling_and_a_burst_of_server_errors_are_retried(shop):
    source = _source(shop)
    shop.fail(1, 429, {"errors": "Exceeded 2 calls per second"}, headers={"Retry-After": "0.01"})
    shop.fail(3, 503, b"Service Unavailable", content_type="text/plain")
    result = run(source)
    assert result.status == SyncRun.Status.SUCCEEDED, result.message
    assert result.retries == 4
    assert Event.objects.filter(source_id=source.pk).count() == 1200


@pytest.mark.django_db
def test_errors_beyond_the_retry_budget_fail_the_run_with_what_happened(shop):
    source = _source(shop)
    shop.fail(10, 502, b"Bad Gateway", content_type="text/plain")
    result = run(source)
    assert result.status == SyncRun.Status.FAILED
    assert "server error (502)" in result.message
    assert "Gave up after 5 tries" in result.message


@pytest.mark.django_db
def test_answers_that_are_not_json_fail_the_run_after_a_few(shop):
    source = _source(shop)
    shop.fail(5, 200, b"<html>maintenance</html>", content_type="text/html")
    result = run(source)
    assert result.status == SyncRun.Status.FAILED
    assert "not JSON" in result.message
    assert "3 times in a row" in result.message
    assert shop.faults_left == 2


@pytest.mark.django_db
def test_one_malformed_answer_is_retried(shop):
    source = _source(shop)
    shop.fail(1, 200, b'{"orders": [', content_type="application/json")
    result = run(source)
    assert result.status == SyncRun.Status.SUCCEEDED, result.message
    assert result.records_stored == 1200


@pytest.mark.django_db
def test_a_refused_token_fails_the_run_at_once_and_says_which(shop):
    source = _source(shop, token="shpat_revoked_token_999")
    result = run(source)
    assert result.status == SyncRun.Status.FAILED
    assert result.retries == 0
    assert "Shopify refused the Admin API access token (401)" in result.message
    assert "shpat_revoked_token_999" not in result.message
    assert not Event.objects.filter(source_id=source.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_killed_run_resumes_from_its_checkpoint_and_stores_what_a_clean_run_does(shop):
    clean = _source(shop, name="Clean")
    assert run(clean).status == SyncRun.Status.SUCCEEDED
    source = _source(shop, name="Killed")
    # Requests: the count, pages 1 and 2 (one stored batch of 1,000 records), then page 3
    # never answered before the worker dies.
    resumed = run_killed_then_resumed(source, shop, kill_at_request=4, committed_done=500)
    assert resumed.status == SyncRun.Status.SUCCEEDED, resumed.message
    assert resumed.resumes == 1
    assert stored(source) == stored(clean)
    assert Event.objects.filter(source_id=source.pk).count() == 1200
    # The resumed worker carried on with page 3 by its page_info: no fresh first page.
    firsts = [r for r in _order_pages(shop) if "page_info" not in r.args]
    assert len(firsts) == 2  # the clean run's and the killed run's


def test_the_next_page_is_read_from_the_link_header():
    header = (
        "<https://shop.example/admin/api/2026-07/orders.json?limit=250&page_info=abc>; "
        'rel="previous", <https://shop.example/admin/api/2026-07/orders.json?limit=250'
        '&page_info=def>; rel="next"'
    )
    assert next_page_info(header) == "def"
    assert next_page_info(None) is None
    assert next_page_info('<https://x/orders.json?page_info=abc>; rel="previous"') is None


def test_a_guest_order_is_keyed_by_its_email_and_an_order_with_nobody_is_refused():
    guest = make_order(3, updated_at=BASE_TIME)
    guest["customer"] = None
    (record,) = order_records(guest, as_user_id=True)
    assert record.message["anonymousId"] == "shopify_customer_id:email:customer4@example.com"
    guest["email"] = None
    with pytest.raises(ValueError, match="neither a customer nor an e-mail"):
        order_records(guest, as_user_id=True)


def test_as_an_external_id_only_the_customer_id_is_not_the_user_id():
    track, identify = order_records(make_order(3, updated_at=BASE_TIME), as_user_id=False)
    assert "userId" not in track.message
    assert track.message["anonymousId"] == "shopify_customer_id:4"
    assert track.message["context"]["externalIds"][0]["id"] == "4"
    assert identify.record_id == "customer 4"


@pytest.mark.django_db
def test_a_bad_start_date_is_refused_when_saving(shop):
    with pytest.raises(InvalidInputError) as caught:
        _source(shop, start_date="last tuesday")
    assert caught.value.field == "start_date"


def test_thenext_watermark_never_passes_the_servers_clock_at_the_start_of_the_run():
    # Orders updated during the run (after it began) may have been passed by the reader.
    assert (
        next_watermark(
            {"seen_max": "2026-05-01T10:00:00+00:00", "started": "2026-05-01T09:00:00+00:00"}
        )
        == "2026-05-01T09:00:00+00:00"
    )
    assert (
        next_watermark(
            {"seen_max": "2026-05-01T08:00:00+00:00", "started": "2026-05-01T09:00:00+00:00"}
        )
        == "2026-05-01T08:00:00+00:00"
    )
    assert next_watermark({"updated_at_min": "2026-01-01T00:00:00Z"}) == "2026-01-01T00:00:00Z"


@pytest.mark.django_db
def test_a_customer_with_many_orders_is_identified_once_per_version(shop):
    shop.book = OrderBook(
        [make_order(n, updated_at=BASE_TIME, customer_id=n % 3 + 1) for n in range(1, 601)]
    )
    source = _source(shop)
    result = run(source)
    assert (result.records_read, result.records_stored) == (603, 603)
    assert Event.objects.filter(source_id=source.pk, type="identify").count() == 3


@pytest.mark.parametrize(
    ("header", "pause"),
    [("1/40", 0.0), ("36/40", 0.0), ("37/40", 0.5), ("40/40", 2.0), (None, 0.0), ("x", 0.0)],
)
def test_the_call_limit_header_slows_down_before_the_bucket_overflows(header, pause):
    assert call_limit_pause(header) == pause
