"""Login required for every page, except paths that authenticate by key or token."""

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware


class PageLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware, minus the tracking API and the REST API.

    Those authenticate with a write key or a token and answer 401/403 as JSON themselves; a
    redirect to a login page would mean nothing to an SDK or a script.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith(settings.LOGIN_EXEMPT_PATH_PREFIXES):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
