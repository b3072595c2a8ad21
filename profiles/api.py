"""REST API of the profiles app: find profiles, read one, read its events.

A profile that was merged away answers with a redirect to the profile that absorbed it.
Personal data is masked for callers whose role may not see it, and every read of a profile is
announced through `personal_data_accessed` for the audit log.
"""

from django.http import HttpResponseRedirect
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from cdp_site.signals import personal_data_accessed

from . import selectors
from .masking import can_view_personal_data, mask_event_payload, mask_identifier, mask_traits
from .models import Event, Identity, Profile, ProfileMerge


class IdentitySerializer(serializers.Serializer):
    kind = serializers.CharField()
    value = serializers.CharField()


class ProfileSerializer(serializers.ModelSerializer):
    identities = serializers.SerializerMethodField()
    merged_from = serializers.SerializerMethodField()
    traits = serializers.SerializerMethodField()

    class Meta:
        model = Profile
        fields = ["id", "traits", "identities", "first_seen", "last_seen", "merged_from"]

    def _full(self) -> bool:
        return can_view_personal_data(self.context["request"].user)

    def get_traits(self, profile) -> dict:
        return profile.traits if self._full() else mask_traits(profile.traits or {})

    @extend_schema(responses=IdentitySerializer(many=True))
    def get_identities(self, profile) -> list[dict]:
        full = self._full()
        rows = Identity.objects.filter(profile=profile).order_by("kind", "value")
        return [
            {"kind": kind, "value": value if full else mask_identifier(kind, value)}
            for kind, value in rows.values_list("kind", "value")
        ]

    def get_merged_from(self, profile) -> list[int]:
        return list(
            ProfileMerge.objects.filter(winner=profile, undone_at__isnull=True)
            .order_by("merged_at")
            .values_list("loser_id", flat=True)
        )


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
        if not can_view_personal_data(self.context["request"].user):
            data = mask_event_payload(data)
        return data


def _require_profile_reader(request) -> None:
    if not request.user.has_perm("profiles.view_profile"):
        raise PermissionDenied("Your role does not give access to profiles.")


def _audit(request, *, profile_id: int | None, action: str, detail: dict) -> None:
    personal_data_accessed.send(
        sender=Profile, user=request.user, profile_id=profile_id, action=action, detail=detail
    )


FILTERS = ("email", "phone", "user_id", "anonymous_id", "q")


@extend_schema(
    parameters=[OpenApiParameter(name, str, required=False) for name in FILTERS],
)
class ProfileList(generics.ListAPIView):
    """Profiles holding every identifier given; `q` searches like the search box."""

    serializer_class = ProfileSerializer

    def get_queryset(self):
        _require_profile_reader(self.request)
        params = {name: self.request.query_params.get(name, "")[:512] for name in FILTERS}
        return selectors.profile_filter_by_identifiers(
            **params, partial=can_view_personal_data(self.request.user)
        )

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        ids = [row["id"] for row in response.data.get("results", [])]
        if ids:
            _audit(request, profile_id=None, action="profile.api_list", detail={"profile_ids": ids})
        return response


def _profile_or_redirect(request, profile_id: int, url_name: str):
    _require_profile_reader(request)
    profile = selectors.profile_get_for_user(user=request.user, profile_id=profile_id)
    if profile.merged_into_id is not None:
        live = selectors.profile_live(profile)
        url = reverse(url_name, args=[live.pk])
        if request.META.get("QUERY_STRING"):
            url += "?" + request.META["QUERY_STRING"]
        return None, HttpResponseRedirect(url)
    return profile, None


class ProfileDetail(generics.GenericAPIView):
    serializer_class = ProfileSerializer

    def get(self, request, profile_id: int):
        profile, redirect = _profile_or_redirect(request, profile_id, "profiles:api_detail")
        if redirect is not None:
            return redirect
        _audit(request, profile_id=profile.pk, action="profile.view", detail={"via": "api"})
        return Response(self.get_serializer(profile).data)


class ProfileEvents(generics.GenericAPIView):
    """The profile's events, newest first, paginated."""

    serializer_class = EventSerializer

    def get(self, request, profile_id: int):
        profile, redirect = _profile_or_redirect(request, profile_id, "profiles:api_events")
        if redirect is not None:
            return redirect
        events = Event.objects.filter(profile=profile).order_by("-timestamp", "-id")
        page = selectors.events_with_source_names(self.paginate_queryset(events))
        _audit(
            request,
            profile_id=profile.pk,
            action="profile.view",
            detail={"via": "api", "events": len(page)},
        )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
