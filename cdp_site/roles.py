"""The four roles, what each may do, and the one decorator that guards every page.

A role is a Django group. Its model permissions are listed here as "app_label.codename" and kept in
step with the database after every migration (see `role_permissions_sync`), so a model added by a
later migration gets its role permissions without another data migration.
"""

from collections.abc import Callable, Iterable
from enum import StrEnum
from functools import wraps

from django.core.exceptions import PermissionDenied


class Role(StrEnum):
    MARKETER = "marketer"
    SUPPORT_AGENT = "support_agent"
    INTEGRATION_ADMIN = "integration_admin"
    COMPLIANCE_OFFICER = "compliance_officer"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


ALL_ROLES: tuple[Role, ...] = tuple(Role)

# The roles that open customer profiles and read their personal data: the customer pages, their
# fragments and the profiles API. Marketers among them see it masked (see `PERSONAL_DATA_UNMASKED`).
PROFILE_READERS: tuple[Role, ...] = (Role.MARKETER, Role.SUPPORT_AGENT, Role.COMPLIANCE_OFFICER)

# Model permissions per role, of models that exist: a model's permissions join its role with the
# migration that creates it. (During a first `migrate` the sync runs before every app has created
# its permissions; it skips the missing ones and picks them up when their app's turn comes.)
ROLE_PERMISSIONS: dict[Role, tuple[str, ...]] = {
    Role.MARKETER: (
        "profiles.view_profile",
        "segments.view_segment",
        "segments.add_segment",
        "segments.change_segment",
        "segments.delete_segment",
        "segments.view_segmentmembership",
    ),
    Role.SUPPORT_AGENT: (
        "profiles.view_profile",
        "profiles.view_identity",
        "profiles.view_event",
        "profiles.view_profilemerge",
        "profiles.change_profilemerge",
        "profiles.view_personal_data",
        "segments.view_segmentmembership",
        "compliance.view_consentrecord",
    ),
    Role.INTEGRATION_ADMIN: (
        "integrations.view_source",
        "integrations.add_source",
        "integrations.change_source",
        "integrations.delete_source",
        "integrations.view_quarantinedmessage",
        "integrations.change_quarantinedmessage",
        "integrations.view_destination",
        "integrations.add_destination",
        "integrations.change_destination",
        "integrations.delete_destination",
        "integrations.view_audiencesync",
        "integrations.change_audiencesync",
        "integrations.view_deadletter",
        "integrations.change_deadletter",
        "integrations.view_eventforward",
        "integrations.add_eventforward",
        "integrations.change_eventforward",
        "profiles.view_identityrule",
        "profiles.change_identityrule",
        "profiles.view_event",
    ),
    Role.COMPLIANCE_OFFICER: (
        "profiles.view_profile",
        "profiles.view_personal_data",
        "compliance.view_consentrecord",
        "compliance.view_auditevent",
    ),
}


# The roles that see personal data unmasked: those granted the permission that unmasks it.
PERSONAL_DATA_UNMASKED: tuple[Role, ...] = tuple(
    role for role, codes in ROLE_PERMISSIONS.items() if "profiles.view_personal_data" in codes
)


def user_roles(user) -> frozenset[Role]:
    """The roles a user holds (every role for a superuser), cached on the user object."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_cdp_roles", None)
    if cached is None:
        if user.is_superuser:
            cached = frozenset(ALL_ROLES)
        else:
            names = set(user.groups.values_list("name", flat=True))
            cached = frozenset(role for role in ALL_ROLES if role.value in names)
        user._cdp_roles = cached
    return cached


def user_has_role(user, roles: Iterable[Role]) -> bool:
    return bool(user_roles(user) & set(roles))


def role_required(*roles: Role) -> Callable:
    """Guard a page view: only people holding one of `roles` (or a superuser) get past.

    The allowed roles are kept on the view as `allowed_roles`, so the navigation and the role
    matrix test read the same list the guard enforces. Put it outermost, above `require_POST`
    and the like, so that a person outside the role gets 403 whatever the method.
    """
    allowed = frozenset(roles or ALL_ROLES)

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                # The login middleware redirects before this; kept so a view is never open.
                raise PermissionDenied
            if not user_has_role(request.user, allowed):
                raise PermissionDenied("Your role does not give access to this page.")
            return view(request, *args, **kwargs)

        wrapped.allowed_roles = allowed
        return wrapped

    return decorator


def role_permissions_sync(group_model, permission_model) -> None:
    """Create the role groups and give each exactly the permissions listed above that exist."""
    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role.value)
        wanted = []
        for code in codes:
            app_label, codename = code.split(".", 1)
            wanted.extend(
                permission_model.objects.filter(
                    content_type__app_label=app_label, codename=codename
                )
            )
        group.permissions.set(wanted)
