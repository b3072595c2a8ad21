"""Walks the URL configuration to list every page, for tests that must cover all of them."""

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

# Paths that authenticate on their own terms: the login pages, Django's admin (staff only), the
# REST API (tokens) and the tracking API (write keys).
EXEMPT_PREFIXES = ("accounts/", "admin/", "api/", "v1/")


@dataclass(frozen=True)
class Page:
    route: str
    name: str
    view: object

    @property
    def path(self) -> str:
        return "/" + self.route

    @property
    def allowed_roles(self):
        return getattr(self.view, "allowed_roles", None)


def _walk(patterns, prefix="", namespace=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace or ""
            full_ns = f"{namespace}:{ns}" if namespace and ns else (ns or namespace)
            yield from _walk(pattern.url_patterns, route, full_ns)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace else (pattern.name or "")
            yield Page(route=route, name=name, view=pattern.callback)


def all_pages() -> list[Page]:
    """Every page route, parameterised or not, outside the exempt prefixes."""
    return [
        p for p in _walk(get_resolver().url_patterns) if not p.route.startswith(EXEMPT_PREFIXES)
    ]


def plain_pages() -> list[Page]:
    """Pages whose URL takes no parameter, so a test can request them directly."""
    return [p for p in all_pages() if "<" not in p.route and "(?P" not in p.route]
