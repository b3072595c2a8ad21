"""Shop orders from the Shopify Admin REST API (`GET /admin/api/<version>/orders.json`).

Each order becomes an `Order Completed` track with its line items, and the customer's traits an
`identify`. Reads are incremental on `updated_at_min` and page by the `Link` header's `page_info`.

Checkpoint: `{"updated_at_min": ...}` between runs; during a run also the next `page_info`, the
newest `updated_at` seen, the server's time when the run began and the progress counts, so a
resumed run carries on from the page after the last stored batch (a batch holds a few pages).
The next run's watermark is the newest `updated_at` seen, but never later than the server's
clock when the run began: pages are ordered by id, so an order updated behind the reader during
the run is read again by the next run instead of missed. `updated_at_min` is inclusive, so the
boundary order comes back and is stored once (unchanged).

Versions: an order completes once, so its `Order Completed` is versioned by `created_at` (later
edits, fulfilments and refunds do not make it complete again, and must not count it twice); the
customer's `identify` is versioned by the customer's `updated_at`.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Iterator
from datetime import UTC
from urllib.parse import parse_qs, urlsplit

from cdp_site.errors import InvalidInputError
from integrations.connectors.base import (
    ConfigField,
    ConnectionCheck,
    Connector,
    ConnectorError,
    ReadBatch,
    RecordError,
    SourceRecord,
    TerminalError,
)
from integrations.connectors.http import ApiConnectorMixin, HttpClient
from integrations.connectors.people import PERSON_ID_FIELD, id_as_user_id, person_keys
from integrations.connectors.registry import register
from integrations.connectors.values import drop_none, id_text, money, parse_time

# The API's maximum page size.
PAGE_SIZE = 250
# Pages are stored together until a batch holds this many records: each stored batch is a
# transaction and a checkpoint, whose fixed cost a single page of 250 orders would pay often.
BATCH_RECORDS = 1000
# Customer identifies already sent in this run, remembered up to this many (then forgotten:
# sending one again is harmless, it is stored once).
IDENTIFIED_KEPT = 200_000
DEFAULT_API_VERSION = "2026-07"
# The leaky bucket's leak rate on a standard plan, and the calls left free before slowing down.
CALL_LIMIT_LEAK_PER_SECOND = 2.0
CALL_LIMIT_ROOM = 3
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_API_VERSION = re.compile(r"^\d{4}-\d{2}$|^unstable$")


def call_limit_pause(header: str | None) -> float:
    """Seconds to wait before the next call, from `X-Shopify-Shop-Api-Call-Limit: used/size`:
    none while the leaky bucket has room, then what it takes to leak a few calls."""
    try:
        used, size = (int(part) for part in (header or "").split("/"))
    except ValueError:
        return 0.0
    if size - used > CALL_LIMIT_ROOM:
        return 0.0
    return (CALL_LIMIT_ROOM + 1 - (size - used)) / CALL_LIMIT_LEAK_PER_SECOND


def next_page_info(link_header: str | None) -> str | None:
    """The `page_info` of the `rel="next"` URL in a `Link` header, or None on the last page."""
    if not link_header:
        return None
    for part in link_header.split(","):
        match = _NEXT_LINK.search(part)
        if match:
            values = parse_qs(urlsplit(match.group(1)).query).get("page_info")
            return values[0] if values else None
    return None


def _product(item: dict) -> dict:
    """A line item as a product of the ecommerce spec (absent values left out)."""
    product = {}
    for name, value in (
        ("product_id", id_text(item.get("product_id"))),
        ("variant_id", id_text(item.get("variant_id"))),
        ("sku", item.get("sku") or None),
        ("name", item.get("title") or item.get("name")),
        ("price", money(item.get("price"))),
        ("quantity", item.get("quantity")),
    ):
        if value is not None:
            product[name] = value
    return product


def order_records(
    order: dict, *, as_user_id: bool, identified: set | None = None
) -> list[SourceRecord]:
    """The events of one order: `Order Completed`, and `identify` for its customer unless that
    customer version is in `identified` (the identifies already sent; it is added there).

    Raises ValueError with a reason when the order cannot be used.
    """
    order_id = id_text(order.get("id"))
    if order_id is None:
        raise ValueError("the order has no id")
    created = order.get("created_at")
    if parse_time(created) is None:
        raise ValueError("the order has no valid created_at")
    customer = order.get("customer") if isinstance(order.get("customer"), dict) else {}
    email = order.get("email") or order.get("contact_email") or customer.get("email")
    keys = person_keys(
        id_type="shopify_customer_id",
        person_id=customer.get("id"),
        email=email,
        as_user_id=as_user_id,
    )
    if keys is None:
        raise ValueError("the order has neither a customer nor an e-mail address")

    products = [_product(item) for item in order.get("line_items") or () if type(item) is dict]
    total = money(order.get("total_price"))
    properties = {"order_id": order_id}
    for name, value in (
        ("order_number", order.get("name") or order.get("order_number")),
        ("total", total),
        ("revenue", total),
        ("subtotal", money(order.get("subtotal_price"))),
        ("tax", money(order.get("total_tax"))),
        ("discount", money(order.get("total_discounts"))),
        ("currency", order.get("currency")),
        ("financial_status", order.get("financial_status")),
        ("fulfillment_status", order.get("fulfillment_status")),
    ):
        if value is not None:
            properties[name] = value
    properties["products"] = products
    records = [
        SourceRecord(
            record_id=f"order {order_id}",
            version=str(created),
            message={
                "type": "track",
                "event": "Order Completed",
                "properties": properties,
                "timestamp": order.get("processed_at") or created,
                **keys,
            },
        )
    ]
    customer_id = customer.get("id")
    customer_version = str(customer.get("updated_at") or order.get("updated_at") or created)
    if customer_id is not None and identified is not None:
        # A customer with several orders is one identify per version: the same one again would
        # only be counted unchanged by the store.
        key = (customer_id, customer_version)
        if key in identified:
            return records
        if len(identified) >= IDENTIFIED_KEPT:
            identified.clear()
        identified.add(key)
    if customer_id is not None:
        traits = drop_none(
            {
                "email": customer.get("email") or email,
                "phone": customer.get("phone") or None,
                "first_name": customer.get("first_name"),
                "last_name": customer.get("last_name"),
                "shopify_customer_id": str(customer["id"]),
                "accepts_marketing": customer.get("accepts_marketing"),
            }
        )
        records.append(
            SourceRecord(
                record_id=f"customer {customer['id']}",
                version=customer_version,
                message={
                    "type": "identify",
                    "traits": traits,
                    "timestamp": customer_version,
                    **keys,
                },
            )
        )
    return records


@register
class ShopifyOrders(ApiConnectorMixin, Connector):
    key = "shopify_orders"
    label = "Shop orders (Shopify)"
    kind = "source"
    description = (
        "Orders from a Shopify store's Admin REST API: each order becomes an Order Completed "
        "event with its products, and its customer an identify. Incremental on updated_at."
    )
    # The next pages are fetched while the runner stores this batch (`read` uses no database).
    prefetch = True
    fields = (
        ConfigField(
            name="base_url",
            label="Store URL",
            kind="url",
            help_text="https://your-store.myshopify.com",
        ),
        ConfigField(
            name="api_version",
            label="API version",
            help_text="The Admin API version, YYYY-MM.",
            required=False,
            default=DEFAULT_API_VERSION,
        ),
        ConfigField(
            name="access_token",
            label="Admin API access token",
            kind="secret",
            help_text="A custom app's Admin API token (shpat_...) with the read_orders scope.",
        ),
        ConfigField(
            name="start_date",
            label="Orders updated since",
            help_text="ISO-8601 date and time for the first run; empty reads every order.",
            required=False,
        ),
        PERSON_ID_FIELD,
    )

    @classmethod
    def config_validate(cls, config: dict) -> None:
        version = str(config.get("api_version") or DEFAULT_API_VERSION)
        if not _API_VERSION.match(version):
            raise InvalidInputError(
                "The API version looks like 2026-07 (year and month).", field="api_version"
            )
        start = config.get("start_date")
        if start and parse_time(start) is None:
            raise InvalidInputError(
                "Orders updated since must be an ISO-8601 date and time, "
                "like 2026-01-01T00:00:00Z.",
                field="start_date",
            )

    def client_make(self) -> HttpClient:
        token = self.secrets.get("access_token") or ""
        return HttpClient(
            self.config["base_url"],
            service="Shopify",
            credential="the Admin API access token",
            headers={"X-Shopify-Access-Token": token},
            secrets=(token,),
        )

    @property
    def _api(self) -> str:
        version = str(self.config.get("api_version") or DEFAULT_API_VERSION).strip()
        if not _API_VERSION.match(version):
            raise TerminalError(f"The API version {version!r} is not like 2026-07.")
        return f"/admin/api/{version}"

    def check_connection(self) -> ConnectionCheck:
        try:
            count = self._count({})
        except ConnectorError as exc:
            return ConnectionCheck(ok=False, message=exc.message)
        finally:
            self.close()
        return ConnectionCheck(ok=True, message=f"Connected: {count:,} orders visible.")

    def _count(self, params: dict) -> int:
        answer = self.client.get(
            f"{self._api}/orders/count.json", params={"status": "any", **params}
        )
        count = answer.data.get("count") if isinstance(answer.data, dict) else None
        if not isinstance(count, int) or isinstance(count, bool):
            raise self.client.malformed("orders/count.json without a count")
        self.client.answer_used()
        return count

    def read(self, checkpoint: dict) -> Iterator[ReadBatch]:
        as_user_id = id_as_user_id(self.config)
        state = dict(checkpoint)
        watermark = state.get("updated_at_min") or (self.config.get("start_date") or None)
        if watermark and parse_time(watermark) is None:
            raise TerminalError(
                f"'Orders updated since' is not an ISO-8601 date and time: {watermark!r}."
            )
        page_info = state.get("page_info")
        if page_info:
            # Later pages take only limit and page_info; the filters live in the cursor.
            params: dict = {"limit": PAGE_SIZE, "page_info": page_info}
        else:
            filters = {"updated_at_min": watermark} if watermark else {}
            state = {
                "updated_at_min": watermark,
                "total": self._count(filters),
                "done": 0,
            }
            params = {"status": "any", "limit": PAGE_SIZE, **filters}
        records: dict[tuple[str, str], SourceRecord] = {}
        errors: list[RecordError] = []
        identified: set[tuple[str, str]] = set()
        while True:
            answer = self.client.get(f"{self._api}/orders.json", params=params)
            # Slow down before the bucket overflows rather than after a 429.
            time.sleep(call_limit_pause(answer.headers.get("X-Shopify-Shop-Api-Call-Limit")))
            orders = answer.data.get("orders") if isinstance(answer.data, dict) else None
            if not isinstance(orders, list):
                raise self.client.malformed("orders.json without an orders list")
            self.client.answer_used()
            if "started" not in state:
                state["started"] = _server_time(answer.headers.get("Date"))

            newest = parse_time(state.get("seen_max"))
            for order in orders:
                order_id = order.get("id") if isinstance(order, dict) else None
                try:
                    if not isinstance(order, dict):
                        raise ValueError("the order is not a JSON object")
                    for record in order_records(
                        order, as_user_id=as_user_id, identified=identified
                    ):
                        records[(record.record_id, record.version)] = record
                except ValueError as exc:
                    errors.append(RecordError(position=f"order {order_id}", reason=str(exc)))
                updated = parse_time(order.get("updated_at")) if isinstance(order, dict) else None
                if updated and (newest is None or updated > newest):
                    newest = updated
                    state["seen_max"] = order["updated_at"]
            state["done"] = (state.get("done") or 0) + len(orders)

            page_info = next_page_info(answer.headers.get("Link"))
            if page_info and len(records) + len(errors) < BATCH_RECORDS:
                state["page_info"] = page_info
                params = {"limit": PAGE_SIZE, "page_info": page_info}
                continue
            if page_info:
                state["page_info"] = page_info
                checkpoint_now = dict(state)
            else:
                checkpoint_now = {"updated_at_min": next_watermark(state)}
            yield ReadBatch(
                records=list(records.values()),
                checkpoint=checkpoint_now,
                errors=errors,
                total=state.get("total"),
                done=state["done"],
            )
            records, errors = {}, []
            if not page_info:
                self.close()
                return
            params = {"limit": PAGE_SIZE, "page_info": page_info}


def _server_time(date_header: str | None) -> str | None:
    if not date_header:
        return None
    try:
        when = email.utils.parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).isoformat()


def next_watermark(state: dict) -> str | None:
    """The next run's `updated_at_min`: the newest `updated_at` seen, capped by the server's time
    at the start of this run (see the module docstring); the old one when nothing was seen."""
    seen = parse_time(state.get("seen_max"))
    started = parse_time(state.get("started"))
    if seen is None:
        return state.get("updated_at_min")
    if started is not None and started < seen:
        return started.isoformat()
    return state["seen_max"]
