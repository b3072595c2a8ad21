"""The webhook receiver (under /v1/, beside the tracking API) and the webhook's set-up page
(included in the integrations namespace)."""

from django.urls import path

from . import views

urlpatterns = [
    path("sources/<int:pk>/webhook/", views.webhook_setup, name="webhook_setup"),
    path("sources/<int:pk>/webhook/secret/", views.webhook_secret, name="webhook_secret"),
    path("v1/webhooks/<int:pk>/<str:token>", views.webhook_receive_view, name="webhook_receive"),
]
