"""Root URL configuration: pages per app, the REST API under /api/, the tracking API under /v1/."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import api, views
from .login_throttle import ThrottledAuthenticationForm

urlpatterns = [
    path("", views.home, name="home"),
    path("system/", views.system_status, name="system_status"),
    path("system/worker-check/", views.worker_check, name="worker_check"),
    path(
        "system/worker-check/<uuid:task_id>/",
        views.worker_check_result,
        name="worker_check_result",
    ),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=ThrottledAuthenticationForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/me/", api.me, name="api_me"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    # The split view serves its start-up script as a file (no inline script, for the CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api_schema"), name="api_docs"),
    path("", include("profiles.urls")),
    path("", include("segments.urls")),
    path("", include("integrations.urls")),
    path("", include("compliance.urls")),
]

handler400 = "cdp_site.views.bad_request"
handler403 = "cdp_site.views.permission_denied"
handler404 = "cdp_site.views.page_not_found"
handler500 = "cdp_site.views.server_error"
