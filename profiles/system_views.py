"""The profiles app's part of the System page: the identity-resolution backlog (a fragment the
page polls), and the identity rules page of integration admins."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from cdp_site.roles import Role, role_required

from .backlog import resolution_backlog
from .forms import IdentityRuleForm
from .identity_rules import (
    globally_blocked_values,
    identity_rule_for_kind,
    identity_rule_save,
    identity_rules_in_force,
    identity_rules_rebuild_needed,
)


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def resolution_backlog_fragment(request):
    return render(
        request,
        "profiles/_resolution_backlog.html",
        {"backlog": resolution_backlog()},
    )


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def identity_rules(request):
    return render(
        request,
        "profiles/identity_rules.html",
        {
            "rules": identity_rules_in_force(),
            "rebuild": identity_rules_rebuild_needed(),
            "always_blocked": globally_blocked_values(),
            "new_form": IdentityRuleForm(),
        },
    )


@role_required(Role.INTEGRATION_ADMIN)
@require_http_methods(["GET", "POST"])
def identity_rule_edit(request, kind: str | None = None):
    """Change the rule of one identifier kind, or (without `kind`) add a rule for a new one."""
    rule = identity_rule_for_kind(kind) if kind is not None else None
    form = IdentityRuleForm(request.POST or None, instance=rule)
    if kind is not None:
        form.fields["kind"].disabled = True
    if request.method == "POST" and form.is_valid():
        saved = identity_rule_save(user=request.user, rule=form.save(commit=False))
        messages.success(
            request,
            f"Rule for “{saved.kind}” saved. It applies to events resolved from now on; "
            "rebuild the profiles to apply it to the history.",
        )
        return redirect("profiles:identity_rules")
    return render(
        request,
        "profiles/identity_rule_edit.html",
        {"form": form, "kind": kind, "always_blocked": globally_blocked_values()},
    )
