"""URL configuration of the tracking processes: the tracking API (`/v1/`) and incoming webhooks,
nothing else.

Production runs the tracking API in server processes of its own (`CDP_TRACKING_ONLY=true`, see
README "Production"), with database connections of their own, so that a slow page, search or
live count elsewhere never holds a worker or a connection an SDK is waiting for. A request for
anything else that reaches these processes (a misrouted proxy) is a 404, not extra load.
"""

from django.urls import include, path

urlpatterns = [
    path("v1/", include("integrations.tracking.urls")),
    path("", include("integrations.webhooks.receive_urls")),
]

handler404 = "cdp_site.views.tracking_not_found"
handler500 = "cdp_site.views.tracking_server_error"
