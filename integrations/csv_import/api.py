"""REST endpoints of CSV upload sources: upload a file (multipart), read and set the mapping,
start an import (then follow it at /api/sync-runs/{id}/)."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp_site.errors import InvalidInputError
from cdp_site.roles import Role, user_has_role
from integrations.selectors import source_get_for_user

from .selectors import csv_file, csv_mapping, csv_preview_for_user
from .services import (
    CSV_KIND,
    csv_import_start,
    csv_mapping_save,
    csv_upload_store,
)


class IsIntegrationAdmin(BasePermission):
    message = "Your role does not give access to sources."

    def has_permission(self, request, view):
        return user_has_role(request.user, [Role.INTEGRATION_ADMIN])


def _csv_source(request, pk: int, perm: str = "integrations.view_source"):
    source = source_get_for_user(request.user, pk, perm=perm)
    if source.kind != CSV_KIND:
        raise InvalidInputError("This source does not take CSV files.", code="not_csv_source")
    return source


def _file_body(source, user) -> dict:
    file = csv_file(source)
    if not file:
        return {"file": None, "preview": [], "mapping": csv_mapping(source)}
    return {
        "file": {
            "id": file["id"],
            "name": file["name"],
            "size": file["size"],
            "lines": file["lines"],
            "header": file["format"]["header"],
            "delimiter": file["format"]["delimiter"],
            "encoding": file["format"]["encoding"],
            "uploaded_at": file["uploaded_at"],
        },
        "preview": [
            {"line": line, "fields": fields}
            for line, fields in csv_preview_for_user(user=user, source=source)
        ],
        "mapping": csv_mapping(source),
    }


def _run_body(run) -> dict:
    return {"id": run.pk, "status": run.status, "source": run.source_id}


UPLOAD_ANSWER = inline_serializer(
    "CsvUpload",
    {
        "file": serializers.DictField(allow_null=True),
        "preview": serializers.ListField(child=serializers.DictField()),
        "mapping": serializers.DictField(),
        "run": serializers.DictField(required=False),
    },
)


MAPPING = inline_serializer(
    "CsvMapping",
    {
        "type": serializers.ChoiceField(choices=["identify", "track"]),
        "columns": serializers.DictField(child=serializers.CharField()),
    },
)
RUN_ANSWER = inline_serializer(
    "CsvImportRun",
    {
        "id": serializers.IntegerField(),
        "status": serializers.CharField(),
        "source": serializers.IntegerField(),
    },
)


class CsvUpload(APIView):
    """GET: the source's file, its first rows and the mapping. POST (multipart, field `file`;
    `import=true` to start importing it at once): upload a file; the file is streamed to disk."""

    permission_classes = [IsAuthenticated, IsIntegrationAdmin]
    parser_classes = [MultiPartParser]

    @extend_schema(responses=UPLOAD_ANSWER)
    def get(self, request, pk: int):
        return Response(_file_body(_csv_source(request, pk), request.user))

    @extend_schema(
        request=inline_serializer(
            "CsvUploadRequest",
            {"file": serializers.FileField(), "import": serializers.BooleanField(required=False)},
        ),
        responses={201: UPLOAD_ANSWER, 202: UPLOAD_ANSWER},
    )
    def post(self, request, pk: int):
        source = _csv_source(request, pk, perm="integrations.change_source")
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInputError(
                "Send the CSV file in the multipart field “file”.", field="file"
            )
        csv_upload_store(source=source, chunks=upload.chunks(), name=upload.name, user=request.user)
        body = _file_body(source, request.user)
        if str(request.data.get("import", "")).lower() in ("1", "true", "yes", "on"):
            body["run"] = _run_body(
                csv_import_start(source=source, user=request.user, trigger="api")
            )
            return Response(body, status=status.HTTP_202_ACCEPTED)
        return Response(body, status=status.HTTP_201_CREATED)


class CsvMapping(APIView):
    """GET the source's column mapping; PUT a new one (checked against the file's header)."""

    permission_classes = [IsAuthenticated, IsIntegrationAdmin]

    @extend_schema(responses=MAPPING)
    def get(self, request, pk: int):
        return Response(csv_mapping(_csv_source(request, pk)))

    @extend_schema(request=MAPPING, responses=MAPPING)
    def put(self, request, pk: int):
        source = _csv_source(request, pk, perm="integrations.change_source")
        return Response(csv_mapping_save(source=source, mapping=request.data))


class CsvImport(APIView):
    """POST: import the source's file from its first row, as a new sync run (202 with the run)."""

    permission_classes = [IsAuthenticated, IsIntegrationAdmin]

    @extend_schema(request=None, responses={202: RUN_ANSWER})
    def post(self, request, pk: int):
        source = _csv_source(request, pk, perm="integrations.change_source")
        run = csv_import_start(source=source, user=request.user, trigger="api")
        return Response(_run_body(run), status=status.HTTP_202_ACCEPTED)
