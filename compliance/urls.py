"""URLs of the compliance app: its pages and its REST API."""

from django.urls import path

from . import (
    api,
    dashboard_views,
    processing_views,
    purpose_views,
    request_views,
    retention_views,
    views,
)

app_name = "compliance"

urlpatterns = [
    path("dashboard/requests/", dashboard_views.dashboard_panel, name="dashboard"),
    path("compliance/audit/", views.audit_log, name="audit_log"),
    path("compliance/audit/export.csv", views.audit_log_export, name="audit_log_export"),
    path(
        "compliance/profile/<int:profile_id>/consent/",
        views.profile_consent,
        name="profile_consent",
    ),
    path(
        "compliance/profile/<int:profile_id>/consent/record/",
        views.profile_consent_record,
        name="profile_consent_record",
    ),
    path("api/audit-log/", api.audit_log, name="api_audit_log"),
    path("api/audit-log/export.csv", api.audit_log_export, name="api_audit_log_export"),
    path(
        "api/compliance/profiles/<int:profile_id>/consent/",
        api.consent_record,
        name="api_consent_record",
    ),
    path("compliance/requests/", request_views.request_queue, name="requests"),
    path("compliance/requests/new/", request_views.request_new, name="request_new"),
    path("compliance/requests/<int:pk>/", request_views.request_detail, name="request_detail"),
    path(
        "compliance/requests/<int:pk>/verify/",
        request_views.request_verify,
        name="request_verify",
    ),
    path("compliance/requests/<int:pk>/run/", request_views.request_run, name="request_run"),
    path(
        "compliance/requests/<int:pk>/extend/",
        request_views.request_extend,
        name="request_extend",
    ),
    path(
        "compliance/requests/<int:pk>/reject/",
        request_views.request_reject,
        name="request_reject",
    ),
    path(
        "compliance/requests/<int:pk>/assign/",
        request_views.request_assign,
        name="request_assign",
    ),
    path(
        "compliance/requests/<int:pk>/report/",
        request_views.request_report,
        name="request_report",
    ),
    path(
        "compliance/requests/<int:pk>/archive/<str:token>/",
        request_views.request_archive,
        name="request_archive",
    ),
    path("compliance/suppression/", request_views.suppression_list, name="suppression"),
    path("compliance/retention/", retention_views.retention, name="retention"),
    path("compliance/consent/purposes/", purpose_views.purpose_list, name="purposes"),
    path(
        "compliance/consent/purposes/<slug:key>/",
        purpose_views.purpose_edit,
        name="purpose_edit",
    ),
    path(
        "compliance/consent/overview/",
        purpose_views.consent_overview_page,
        name="consent_overview",
    ),
    path(
        "compliance/processing-record/",
        processing_views.processing_record_page,
        name="processing_record",
    ),
    path(
        "compliance/processing-record.<str:fmt>",
        processing_views.processing_record_download,
        name="processing_record_download",
    ),
    path("api/compliance/requests/", api.request_create, name="api_requests"),
    path("api/compliance/requests/<int:pk>/", api.request_detail, name="api_request"),
    path("api/compliance/requests/<int:pk>/verify/", api.request_verify, name="api_verify"),
    path("api/compliance/requests/<int:pk>/run/", api.request_run, name="api_run"),
    path("api/compliance/requests/<int:pk>/extend/", api.request_extend, name="api_extend"),
    path("api/compliance/requests/<int:pk>/reject/", api.request_reject, name="api_reject"),
    path("api/compliance/requests/<int:pk>/archive/", api.request_archive, name="api_archive"),
]
