"""URLs of the profiles app: its pages and its REST API."""

from django.urls import path

from . import api, system_views, views

app_name = "profiles"

urlpatterns = [
    path("customers/", views.profile_search, name="search"),
    path("customers/<int:profile_id>/", views.profile_detail, name="detail"),
    path("customers/<int:profile_id>/timeline/", views.profile_timeline, name="timeline"),
    path("customers/merges/<int:merge_id>/undo/", views.merge_undo, name="merge_undo"),
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
    path("api/profiles/", api.ProfileList.as_view(), name="api_list"),
    path("api/profiles/<int:profile_id>/", api.ProfileDetail.as_view(), name="api_detail"),
    path("api/profiles/<int:profile_id>/events/", api.ProfileEvents.as_view(), name="api_events"),
    path("api/merges/<int:merge_id>/undo/", api.merge_undo, name="api_merge_undo"),
    path("api/identity-rules/", api.identity_rules, name="api_identity_rules"),
    path("api/identity-rules/<str:kind>/", api.identity_rule, name="api_identity_rule"),
]
