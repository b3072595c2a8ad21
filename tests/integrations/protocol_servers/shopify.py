"""A server shaped like Shopify's Admin REST API for orders: `orders.json` filtered by `status` and
`updated_at_min`, ordered by id, paged by an opaque `page_info` in the `Link` header (later pages
refuse any parameter but `limit` and `page_info`), `orders/count.json`, and the
`X-Shopify-Access-Token` header.

Orders come from a book: `OrderBook` (a dict, for tests that change orders between runs) or
`SyntheticOrders` (generated from the id, for benchmarks of any size). Run it alone with
`python -m tests.integrations.protocol_servers.shopify --orders 200000 --port 8765`.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import logging
import re
import threading
from datetime import UTC, datetime, timedelta

import orjson
from werkzeug import Request, Response

from tests.integrations.protocol_servers import ProtocolServer

TOKEN = "shpat_test_token_0123456789"
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def make_order(
    order_id: int,
    *,
    updated_at: datetime,
    customer_id: int | None = None,
    items: int = 2,
    total: str | None = None,
) -> dict:
    """An order as Shopify shapes it (the fields the connector reads, and a few more)."""
    created = BASE_TIME + timedelta(minutes=order_id)
    customer_id = order_id % 1000 + 1 if customer_id is None else customer_id
    lines = [
        {
            "id": order_id * 10 + n,
            "product_id": 1000 + n,
            "variant_id": 5000 + n,
            "sku": f"SKU-{n}",
            "title": f"Product {n}",
            "quantity": n + 1,
            "price": f"{10 + n}.50",
        }
        for n in range(items)
    ]
    email = f"customer{customer_id}@example.com"
    return {
        "id": order_id,
        "name": f"#{order_id}",
        "email": email,
        "created_at": created.isoformat(),
        "processed_at": created.isoformat(),
        "updated_at": updated_at.isoformat(),
        "currency": "EUR",
        "total_price": total or f"{sum((10 + n + 0.5) * (n + 1) for n in range(items)):.2f}",
        "subtotal_price": "0.00",
        "total_tax": "0.00",
        "total_discounts": "0.00",
        "financial_status": "paid",
        "fulfillment_status": None,
        "customer": {
            "id": customer_id,
            "email": email,
            "first_name": "Customer",
            "last_name": str(customer_id),
            "phone": None,
            "updated_at": BASE_TIME.isoformat(),
        },
        "line_items": lines,
    }


class OrderBook:
    """Orders kept in a dict, changed by tests between runs."""

    def __init__(self, orders: list[dict] | None = None):
        self.orders = {order["id"]: order for order in orders or []}

    def ids(self) -> list[int]:
        return sorted(self.orders)

    def updated_at(self, order_id: int) -> datetime:
        return parse_time(self.orders[order_id]["updated_at"])

    def get(self, order_id: int) -> dict:
        return self.orders[order_id]

    def put(self, order: dict) -> None:
        self.orders[order["id"]] = order


class SyntheticOrders:
    """`count` orders made from their id, without keeping them: for benchmarks."""

    def __init__(self, count: int, customers: int = 50_000):
        self.count = count
        self.customers = customers
        self._ids = list(range(1, count + 1))

    def ids(self) -> list[int]:
        return self._ids

    def updated_at(self, order_id: int) -> datetime:
        return BASE_TIME + timedelta(minutes=order_id, seconds=30)

    def get(self, order_id: int) -> dict:
        return make_order(
            order_id,
            updated_at=self.updated_at(order_id),
            customer_id=order_id % self.customers + 1,
        )


def _encode(state: dict) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(state)).decode().rstrip("=")


def _decode(page_info: str) -> dict | None:
    try:
        return orjson.loads(base64.urlsafe_b64decode(page_info + "=" * (-len(page_info) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return None


class ShopifyServer(ProtocolServer):
    def __init__(
        self,
        book: OrderBook | SyntheticOrders | None = None,
        *,
        token: str = TOKEN,
        version: str = "2026-07",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.book = book if book is not None else OrderBook()
        self.token = token
        self.version = version

    def routes(self) -> list:
        api = re.escape(f"/admin/api/{self.version}/")
        return [
            (re.compile(f"^{api}orders\\.json$"), "GET", self.orders),
            (re.compile(f"^{api}orders/count\\.json$"), "GET", self.count),
        ]

    def _refused(self, request: Request) -> Response | None:
        if request.headers.get("X-Shopify-Access-Token") != self.token:
            return self.json(
                {"errors": INVALID_TOKEN},
                status=401,
            )
        return None

    def _matching(self, updated_at_min: str | None, after_id: int = 0):
        ids = self.book.ids()
        start = bisect.bisect_right(ids, after_id)
        floor = parse_time(updated_at_min) if updated_at_min else None
        for order_id in ids[start:]:
            if floor is None or self.book.updated_at(order_id) >= floor:
                yield order_id

    def count(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        floor = request.args.get("updated_at_min")
        return self.json({"count": sum(1 for _ in self._matching(floor))})

    def orders(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        args = request.args
        limit = int(args.get("limit", 50))
        if limit > 250:
            return self.json({"errors": {"limit": "must be at most 250"}}, status=400)
        page_info = args.get("page_info")
        if page_info:
            extra = set(args) - {"limit", "page_info", "fields"}
            if extra:
                return self.json(
                    {"errors": {"page_info": f"cannot be passed with {', '.join(sorted(extra))}"}},
                    status=400,
                )
            state = _decode(page_info)
            if state is None:
                return self.json({"errors": {"page_info": "Invalid value."}}, status=400)
        else:
            state = {"after": 0, "updated_at_min": args.get("updated_at_min")}
        page_ids = []
        for order_id in self._matching(state["updated_at_min"], state["after"]):
            page_ids.append(order_id)
            if len(page_ids) > limit:
                break
        more = len(page_ids) > limit
        page_ids = page_ids[:limit]
        headers = {"X-Shopify-Shop-Api-Call-Limit": "1/40"}
        if more:
            cursor = _encode({"after": page_ids[-1], "updated_at_min": state["updated_at_min"]})
            headers["Link"] = (
                f"<{self.base_url}/admin/api/{self.version}/orders.json?limit={limit}"
                f'&page_info={cursor}>; rel="next"'
            )
        body = b'{"orders":[' + b",".join(orjson.dumps(self.book.get(i)) for i in page_ids) + b"]}"
        return Response(body, status=200, headers=headers, content_type="application/json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=0, help="default: a quarter of --orders")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    # A benchmark's thousands of requests are not logged one by one.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ShopifyServer(
        SyntheticOrders(args.orders, customers=args.customers or max(1, args.orders // 4)),
        port=args.port,
        threaded=True,
        keep_log=False,
    ).start()
    print(f"ready {server.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
