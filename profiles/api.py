"""REST API of the profiles app: find profiles, read one, read its events.

A profile that was merged away answers with a redirect to the profile that absorbed it.
Personal data is masked for callers whose role may not see it. The selectors read each page in
a fixed number of queries and record every read of a profile in the audit log.
"""

from contextlib import nullcontext

from django.http import HttpResponseRedirect
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from . import selectors
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
