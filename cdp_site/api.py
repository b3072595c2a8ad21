"""REST endpoints of the project package."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.response import Response

from .roles import user_roles


@extend_schema(
    responses=inline_serializer(
        "Me",
        {
            "username": serializers.CharField(),
            "is_superuser": serializers.BooleanField(),
            "roles": serializers.ListField(child=serializers.CharField()),
        },
    )
)
@api_view(["GET"])
def me(request):
    """Who the caller is, and which roles they hold."""
    return Response(
        {
            "username": request.user.get_username(),
            "is_superuser": request.user.is_superuser,
            "roles": sorted(role.value for role in user_roles(request.user)),
        }
    )
