"""Login required for every page, except paths that authenticate by key or token; no answer
kept in a browser's or a proxy's cache."""

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.utils.cache import add_never_cache_headers


class PageLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware, minus the tracking API and the REST API.

    Those authenticate with a write key or a token and answer 401/403 as JSON themselves; a
    redirect to a login page would mean nothing to an SDK or a script.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith(settings.LOGIN_EXEMPT_PATH_PREFIXES):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class PrivateResponsesMiddleware:
    """`Cache-Control: no-store, private` on every answer the app itself makes.

    Pages, fragments and APIs show personal data (the customer 360, segment members, exports,
    the debugger), and a shared computer's browser cache or a proxy must keep none of it. Static
    files are served before this runs (WhiteNoise) and keep their long cache lifetimes; an answer
    that sets its own Cache-Control keeps it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response
