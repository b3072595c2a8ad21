"""Template context shared by every page: the navigation the current person may use."""

from .navigation import nav_items_for_user
from .roles import user_roles


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "current_roles": []}
    current = request.resolver_match.view_name if request.resolver_match else ""
    items = [
        {"label": item.label, "url": item.url, "active": item.url_name == current}
        for item in nav_items_for_user(user)
    ]
    return {"nav_items": items, "current_roles": sorted(r.label for r in user_roles(user))}
