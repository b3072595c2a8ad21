"""The incoming webhook receiver's route alone, for the tracking processes' URL configuration
(`cdp_site/urls_tracking.py`)."""

from django.urls import path

from . import views

urlpatterns = [
    path("v1/webhooks/<int:pk>/<str:token>", views.webhook_receive_view, name="webhook_receive"),
]
