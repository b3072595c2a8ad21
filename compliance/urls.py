"""URLs of the compliance app: its pages and its REST API."""

from django.urls import path

from . import views

app_name = "compliance"

urlpatterns = [
    path("compliance/audit/", views.audit_log, name="audit_log"),
    path(
        "compliance/profile/<int:profile_id>/consent/",
        views.profile_consent,
        name="profile_consent",
    ),
]
