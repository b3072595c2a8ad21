"""Pages of a CSV upload source: upload and preview, the column mapping (htmx), starting an
import (watched on the sync run's page) and downloading a run's bad rows."""

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cdp_site.errors import DomainError
from cdp_site.roles import Role, role_required
from integrations.selectors import source_get_for_user

from .guess import key_from_column
from .mapping import MESSAGE_TYPES
from .selectors import (
    TARGET_CHOICES,
    csv_file,
    csv_mapping,
    csv_preview_for_user,
    csv_run_get,
    csv_run_report,
    csv_run_report_for_user,
    csv_runs,
    mapping_rows,
    mapping_sample_messages,
)
from .services import (
    CSV_KIND,
    csv_import_start,
    csv_mapping_save,
    csv_upload_store,
)


def _csv_source(request, pk: int, perm: str = "integrations.view_source"):
    source = source_get_for_user(request.user, pk, perm=perm)
    if source.kind != CSV_KIND:
        raise Http404("This source does not take CSV files.")
    return source


def _run_url(run) -> str:
    return reverse("integrations:sync_run_detail", args=[run.source_id, run.pk])


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def csv_source_page(request, pk: int):
    """Upload a file, see its first rows, go on to the mapping and the import."""
    source = _csv_source(request, pk)
    file = csv_file(source)
    runs = csv_runs(source)
    return render(
        request,
        "integrations/csv_source.html",
        {
            "source": source,
            "file": file,
            "keep_days": settings.CDP_CSV_KEEP_DAYS,
            "header": file["format"]["header"] if file else [],
            "preview": csv_preview_for_user(user=request.user, source=source),
            "runs": [(run, csv_run_report(run) is not None) for run in runs],
        },
    )


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def csv_upload(request, pk: int):
    source = _csv_source(request, pk, perm="integrations.change_source")
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose a CSV file to upload.")
        return redirect("integrations:csv_source", pk=source.pk)
    try:
        file = csv_upload_store(
            source=source, chunks=upload.chunks(), name=upload.name, user=request.user
        )
    except DomainError as problem:
        messages.error(request, f"“{upload.name}” was not kept: {problem.message}")
        return redirect("integrations:csv_source", pk=source.pk)
    messages.success(
        request,
        f"“{file['name']}” uploaded: {file['lines']:,} lines after the header. "
        "Check the mapping of its columns, then import it.",
    )
    return redirect("integrations:csv_mapping", pk=source.pk)


def _mapping_from_post(post, header: list[str]) -> dict:
    columns = {}
    for index, column in enumerate(header):
        kind = post.get(f"kind_{index}", "ignore")
        if kind in ("trait", "property"):
            key = post.get(f"key_{index}", "").strip() or key_from_column(column)
            columns[column] = f"{kind}:{key}"
        else:
            columns[column] = kind
    return {
        "type": post.get("type", "identify"),
        "event": post.get("event", "").strip(),
        "columns": columns,
    }


@role_required(Role.INTEGRATION_ADMIN)
@require_http_methods(["GET", "POST"])
def csv_mapping_page(request, pk: int):
    """The mapping of the file's columns. With htmx, a change re-renders the form with what the
    first rows would become; "Save" keeps it (errors shown in place)."""
    source = _csv_source(request, pk)
    file = csv_file(source)
    mapping = csv_mapping(source)
    error = ""
    saved = False
    if request.method == "POST" and file:
        mapping = _mapping_from_post(request.POST, file["format"]["header"])
        if request.POST.get("action") == "save":
            source = _csv_source(request, pk, perm="integrations.change_source")
            try:
                mapping = csv_mapping_save(source=source, mapping=mapping)
                saved = True
            except DomainError as problem:
                error = problem.message
            if saved and not request.htmx:
                messages.success(request, "Mapping saved.")
                return redirect("integrations:csv_source", pk=source.pk)
    samples, sample_error = [], ""
    if file and not request.htmx:
        # The page shows the file's first values: audited once per page, not per re-render.
        csv_preview_for_user(user=request.user, source=source)
    if file:
        try:
            samples = mapping_sample_messages(source, mapping)
        except DomainError as problem:
            sample_error = problem.message
    template = "integrations/csv_mapping.html"
    return render(
        request,
        template + "#mapping" if request.htmx else template,
        {
            "source": source,
            "file": file,
            "mapping": mapping,
            "rows": mapping_rows(source, mapping),
            "target_choices": TARGET_CHOICES,
            "message_types": MESSAGE_TYPES.items(),
            "samples": samples,
            "sample_error": sample_error,
            "error": error,
            "saved": saved,
        },
    )


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def csv_import(request, pk: int):
    """Start importing the source's file; the run's page shows its progress."""
    source = _csv_source(request, pk, perm="integrations.change_source")
    try:
        run = csv_import_start(source=source, user=request.user)
    except DomainError as problem:
        messages.error(request, problem.message)
        return redirect("integrations:csv_source", pk=source.pk)
    messages.success(request, f"Import of “{csv_file(source)['name']}” started.")
    return redirect(_run_url(run))


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def csv_bad_rows(request, pk: int, run_id: int):
    """The bad rows of an import as a CSV file: line, reason, then the row as it was."""
    source = _csv_source(request, pk)
    run = csv_run_get(source, run_id)
    path = csv_run_report_for_user(user=request.user, source=source, run=run)
    if path is None:
        raise Http404("This run has no bad-row report.")
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"{source.name}-run-{run.pk}-bad-rows.csv",
        content_type="text/csv; charset=utf-8",
    )
