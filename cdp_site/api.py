"""REST endpoints of the project package."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from .roles import user_roles


class HasAnyRole(BasePermission):
    """Signed in and holding a role (or a superuser): the API's description is for its users."""

    message = "Your account has no role in this product yet."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and (user.is_superuser or user_roles(user)))


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
