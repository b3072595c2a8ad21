"""REST API of the profiles app: find profiles, read one, read its events; undo a merge; read
and change the identity rules.

A profile that was merged away answers with a redirect to the profile that absorbed it.
Personal data is masked for callers whose role may not see it. The selectors read each page in
a fixed number of queries and record every read of a profile in the audit log.
"""

from contextlib import nullcontext

from django.http import HttpResponseRedirect
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from cdp_site.roles import Role, user_has_role
from cdp_site.serializers import StrictCharField

from . import selectors, services
from .forms import IdentityRuleForm
from .identity_rules import (
    identity_rule_for_kind,
    identity_rule_save,
    identity_rules_in_force,
    identity_rules_rebuild_needed,
)
from .masking import can_view_personal_data, mask_event_payload, mask_identifier, mask_traits
from .models import Event, Profile


class IdentitySerializer(serializers.Serializer):
    kind = serializers.CharField()
    value = serializers.CharField()


# A profile as `selectors.profiles_with_details` gives it; masked unless the context says `full`
# (the caller may see personal data).
class ProfileSerializer(serializers.ModelSerializer):
    identities = serializers.SerializerMethodField()
    merged_from = serializers.SerializerMethodField()
    traits = serializers.SerializerMethodField()

    class Meta:
        model = Profile
        fields = ["id", "traits", "identities", "first_seen", "last_seen", "merged_from"]

    def get_traits(self, profile) -> dict:
        return profile.traits if self.context["full"] else mask_traits(profile.traits or {})

    @extend_schema(responses=IdentitySerializer(many=True))
    def get_identities(self, profile) -> list[dict]:
        full = self.context["full"]
        return [
            {"kind": i.kind, "value": i.value if full else mask_identifier(i.kind, i.value)}
            for i in profile.identity_list
        ]

    def get_merged_from(self, profile) -> list[int]:
        return [merge.loser_id for merge in profile.merges_in_force]


class EventSerializer(serializers.ModelSerializer):
    source = serializers.CharField(source="source_name")
    messageId = serializers.CharField(source="message_id")  # noqa: N815 - Segment's field name
    userId = serializers.CharField(source="user_id")  # noqa: N815
    anonymousId = serializers.CharField(source="anonymous_id")  # noqa: N815

    class Meta:
        model = Event
        fields = [
            "id",
            "type",
            "event",
            "name",
            "messageId",
            "userId",
            "anonymousId",
            "traits",
            "properties",
            "context",
            "timestamp",
            "received_at",
            "source",
        ]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not self.context["full"]:
            data = mask_event_payload(data)
        return data


class _ProfilesAPIView(generics.GenericAPIView):
    """Checks the caller may read profiles, and tells the serializers whether in full."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not request.user.has_perm("profiles.view_profile"):
            raise PermissionDenied("Your role does not give access to profiles.")

    def get_serializer_context(self) -> dict:
        return {
            **super().get_serializer_context(),
            "full": can_view_personal_data(self.request.user),
        }

    def merged_redirect(self, profile: Profile, url_name: str) -> HttpResponseRedirect | None:
        """For a profile merged away, the same address for the one it was merged into."""
        if profile.merged_into_id is None:
            return None
        url = reverse(url_name, args=[selectors.profile_live(profile).pk])
        if self.request.META.get("QUERY_STRING"):
            url += "?" + self.request.META["QUERY_STRING"]
        return HttpResponseRedirect(url)


FILTERS = ("email", "phone", "user_id", "anonymous_id", "q")


@extend_schema(
    parameters=[OpenApiParameter(name, str, required=False) for name in FILTERS],
    responses=ProfileSerializer(many=True),
)
class ProfileList(_ProfilesAPIView):
    """Profiles holding every identifier given; `q` searches like the search box."""

    serializer_class = ProfileSerializer

    def get(self, request):
        params = {name: request.query_params.get(name, "")[:512] for name in FILTERS}
        # A search, its count and its page run each statement under the search's time limit.
        limited = selectors.search_time_limited() if any(params.values()) else nullcontext()
        with limited:
            found = selectors.profile_filter_by_identifiers(
                **params, partial=can_view_personal_data(request.user)
            )
            page = selectors.profile_list_for_user(
                user=request.user, profiles=found, paginate=self.paginate_queryset
            )
            data = self.get_serializer(page, many=True).data
        return self.get_paginated_response(data)


class ProfileDetail(_ProfilesAPIView):
    """One profile, with its identities and the profiles merged into it."""

    serializer_class = ProfileSerializer

    def get(self, request, profile_id: int):
        profile = selectors.profile_open_for_user(
            user=request.user, profile_id=profile_id, detail={"via": "api"}
        )
        redirect = self.merged_redirect(profile, "profiles:api_detail")
        if redirect is not None:
            return redirect
        (profile,) = selectors.profiles_with_details([profile])
        return Response(self.get_serializer(profile).data)


class ProfileEvents(_ProfilesAPIView):
    """The profile's events, newest first, paginated."""

    serializer_class = EventSerializer

    def get(self, request, profile_id: int):
        profile = selectors.profile_get_for_user(user=request.user, profile_id=profile_id)
        redirect = self.merged_redirect(profile, "profiles:api_events")
        if redirect is not None:
            return redirect
        page = selectors.profile_events_for_user(
            user=request.user, profile=profile, paginate=self.paginate_queryset
        )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class IsSupportAgent(BasePermission):
    message = "Only support agents may undo merges."

    def has_permission(self, request, view) -> bool:
        return user_has_role(request.user, [Role.SUPPORT_AGENT])


class MergeUndoSerializer(serializers.Serializer):
    merge = serializers.IntegerField()
    winner = serializers.IntegerField(help_text="The profile that keeps the merged data.")
    restored = serializers.IntegerField(help_text="The profile that is separate again.")
    undone_at = serializers.DateTimeField()


@extend_schema(request=None, responses={200: MergeUndoSerializer})
@api_view(["POST"])
@permission_classes([IsSupportAgent])
def merge_undo(request, merge_id: int):
    """Undo a merge, as the customer 360's button does (audited). 409 if already undone."""
    merge = selectors.merge_get_for_user(user=request.user, merge_id=merge_id)
    merge = services.profile_merge_undo(merge=merge, user=request.user)
    return Response(
        {
            "merge": merge.pk,
            "winner": merge.winner_id,
            "restored": merge.loser_id,
            "undone_at": merge.undone_at,
        }
    )


class IsIntegrationAdmin(BasePermission):
    message = "Only integration admins may read or change identity rules."

    def has_permission(self, request, view) -> bool:
        return user_has_role(request.user, [Role.INTEGRATION_ADMIN])


class IdentityRuleSerializer(serializers.Serializer):
    kind = serializers.CharField(read_only=True)
    limit = serializers.IntegerField(
        min_value=1,
        max_value=1000,
        help_text="How many identifiers of this kind one profile holds.",
    )
    priority = serializers.IntegerField(
        min_value=0,
        max_value=1_000_000,
        help_text="Lower wins: on a limit conflict the highest number is dropped first.",
    )
    blocked_values = serializers.ListField(
        child=StrictCharField(max_length=500),
        max_length=100,
        help_text="Regular expressions (full match, any case) of values never used to match.",
    )
    configured = serializers.BooleanField(read_only=True, help_text="False: the built-in default.")
    changed_at = serializers.DateTimeField(read_only=True, allow_null=True)


class IdentityRulesSerializer(serializers.Serializer):
    rules = IdentityRuleSerializer(many=True)
    rebuild_needed = serializers.BooleanField(
        help_text="The rules changed after the last `manage.py rebuild`: profiles built before "
        "keep their old grouping until the next."
    )


def _rules_answer() -> dict:
    return {
        "rules": [
            {
                "kind": rule.kind,
                "limit": rule.limit,
                "priority": rule.priority,
                "blocked_values": list(rule.blocked_values),
                "configured": rule.configured,
                "changed_at": rule.changed_at,
            }
            for rule in identity_rules_in_force()
        ],
        "rebuild_needed": identity_rules_rebuild_needed() is not None,
    }


@extend_schema(operation_id="identity_rules_list", responses={200: IdentityRulesSerializer})
@api_view(["GET"])
@permission_classes([IsIntegrationAdmin])
def identity_rules(request):
    """Every identity rule in force (configured ones and the built-in defaults)."""
    return Response(IdentityRulesSerializer(_rules_answer()).data)


@extend_schema(request=IdentityRuleSerializer, responses={200: IdentityRuleSerializer})
@api_view(["GET", "PUT", "PATCH"])
@permission_classes([IsIntegrationAdmin])
def identity_rule(request, kind: str):
    """One kind's rule: read it, or set it (PUT all fields, PATCH some). A change is audited and
    applies to events resolved from then on; `rebuild_needed` then says a rebuild is due."""
    rule = identity_rule_for_kind(kind)
    if request.method != "GET":
        current = {
            "limit": rule.limit,
            "priority": rule.priority,
            "blocked_values": "\n".join(rule.blocked_values or []),
        }
        incoming = IdentityRuleSerializer(data=request.data, partial=request.method == "PATCH")
        incoming.is_valid(raise_exception=True)
        values = {**current, **incoming.validated_data, "kind": kind}
        if isinstance(values["blocked_values"], list):
            values["blocked_values"] = "\n".join(values["blocked_values"])
        form = IdentityRuleForm(values, instance=rule)
        form.fields["kind"].disabled = True
        if not form.is_valid():
            raise ValidationError({field: list(errors) for field, errors in form.errors.items()})
        rule = identity_rule_save(user=request.user, rule=form.save(commit=False))
    return Response(
        IdentityRuleSerializer(
            {
                "kind": rule.kind,
                "limit": rule.limit,
                "priority": rule.priority,
                "blocked_values": list(rule.blocked_values or []),
                "configured": rule.pk is not None,
                "changed_at": rule.changed_at,
            }
        ).data
    )
