"""URLs of the profiles app: its pages and its REST API."""

from django.urls import path

from . import api, computed_views, dashboard_views, score_views, system_views, views

app_name = "profiles"

urlpatterns = [
    path("customers/", views.profile_search, name="search"),
    path("customers/<int:profile_id>/", views.profile_detail, name="detail"),
    path("customers/<int:profile_id>/timeline/", views.profile_timeline, name="timeline"),
    path("customers/merges/<int:merge_id>/undo/", views.merge_undo, name="merge_undo"),
    path("computed-traits/", computed_views.computed_trait_list, name="computed_trait_list"),
    path("computed-traits/new/", computed_views.computed_trait_new, name="computed_trait_new"),
    path(
        "computed-traits/<int:trait_id>/",
        computed_views.computed_trait_detail,
        name="computed_trait_detail",
    ),
    path(
        "computed-traits/<int:trait_id>/edit/",
        computed_views.computed_trait_edit,
        name="computed_trait_edit",
    ),
    path(
        "computed-traits/<int:trait_id>/delete/",
        computed_views.computed_trait_delete_view,
        name="computed_trait_delete",
    ),
    path(
        "computed-traits/<int:trait_id>/recompute/",
        computed_views.computed_trait_recompute,
        name="computed_trait_recompute",
    ),
    path("customers/<int:profile_id>/scores/", score_views.profile_scores, name="scores"),
    path("dashboard/customers/", dashboard_views.dashboard_panel, name="dashboard"),
    path("scores/rfm/", score_views.rfm_overview, name="rfm"),
    path("scores/churn/", score_views.churn_overview, name="churn"),
    path("scores/rfm/recompute/", score_views.rfm_recompute, name="rfm_recompute"),
    path("scores/churn/retrain/", score_views.churn_retrain, name="churn_retrain"),
    path(
        "system/resolution/",
        system_views.resolution_backlog_fragment,
        name="resolution_backlog",
    ),
    path("identity-rules/", system_views.identity_rules, name="identity_rules"),
    path("identity-rules/new/", system_views.identity_rule_edit, name="identity_rule_new"),
    path(
        "identity-rules/kind/<str:kind>/",
        system_views.identity_rule_edit,
        name="identity_rule_edit",
    ),
    path("data-catalogue/", views.data_catalogue, name="data_catalogue"),
    path(
        "data-catalogue/<int:field_id>/classify/",
        views.data_field_classify,
        name="data_field_classify",
    ),
    path("api/profiles/", api.ProfileList.as_view(), name="api_list"),
    path("api/profiles/<int:profile_id>/", api.ProfileDetail.as_view(), name="api_detail"),
    path("api/profiles/<int:profile_id>/events/", api.ProfileEvents.as_view(), name="api_events"),
    path("api/merges/<int:merge_id>/undo/", api.merge_undo, name="api_merge_undo"),
    path("api/identity-rules/", api.identity_rules, name="api_identity_rules"),
    path("api/identity-rules/<str:kind>/", api.identity_rule, name="api_identity_rule"),
]
