"""PostgreSQL table source: rows of a table or view, read incrementally through psycopg's
server-side (named) cursor in a read-only transaction."""

from collections.abc import Iterator

import psycopg
from psycopg import errors as pg_errors

from .base import TerminalError, TransientError
from .registry import register
from .table import TableConnector, table_fields

CONNECT_TIMEOUT_SECONDS = 10


@register
class PostgresTableConnector(TableConnector):
    key = "postgres_table"
    label = "PostgreSQL table"
    database_label = "PostgreSQL"
    description = (
        "Rows of a PostgreSQL table or view (customers, orders), read incrementally on an "
        "updated-at column."
    )
    fields = table_fields(5432)

    def connect(self):
        return psycopg.connect(
            host=self.value("host"),
            port=int(self.value("port")),
            dbname=self.value("database"),
            user=self.value("user"),
            password=self.value("password") or None,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="cdp-sync",
        )

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def table_columns(self, connection) -> list[str] | None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                (self.quoted_table(),),
            )
            columns = [row[0] for row in cursor.fetchall()]
            if columns:
                cursor.execute(
                    "SELECT has_table_privilege(to_regclass(%s), 'SELECT')", (self.quoted_table(),)
                )
                if not cursor.fetchone()[0]:
                    raise TerminalError(
                        f"User “{self.value('user')}” may not read {self.table_name}: "
                        f"GRANT SELECT ON {self.table_name} TO {self.value('user')}."
                    )
        connection.rollback()
        return columns or None

    def after_condition(self, updated: str, key: str) -> str:
        # A row comparison: PostgreSQL walks an index on (updated, key) from the position.
        return f"({updated}, {key}) > (%s, %s)"

    def after_params(self, updated: object, key: object) -> tuple:
        return (updated, key)

    def scalar(self, connection, query: str, params: tuple):
        with connection.cursor() as cursor:
            cursor.execute(query, params)
            value = cursor.fetchone()[0]
        connection.rollback()
        return value

    def stream(self, connection, query: str, params: tuple, size: int) -> Iterator[list[tuple]]:
        connection.read_only = True
        with connection.transaction(), connection.cursor(name="cdp_sync_read") as cursor:
            cursor.itersize = size
            cursor.execute(query, params)
            while rows := cursor.fetchmany(size):
                yield rows

    def translate(self, error: Exception) -> Exception:
        if isinstance(error, pg_errors.InsufficientPrivilege):
            return TerminalError(
                f"User “{self.value('user')}” may not read {self.table_name}: "
                f"GRANT SELECT ON {self.table_name} TO {self.value('user')}."
            )
        if isinstance(error, pg_errors.UndefinedTable | pg_errors.UndefinedColumn):
            return TerminalError(f"{error.diag.message_primary}: fix the source's settings.")
        if isinstance(error, psycopg.OperationalError):
            text = str(error)
            if "password authentication failed" in text or "no password supplied" in text:
                return TerminalError(
                    f"The server refused user “{self.value('user')}” with this password: "
                    "check the user and password."
                )
            if "does not exist" in text:
                return TerminalError(
                    f"The server has no database “{self.value('database')}” or no role "
                    f"“{self.value('user')}”: check the database and user."
                )
            return TransientError(
                f"Could not reach PostgreSQL at {self.value('host')}:{self.value('port')} "
                f"({text.splitlines()[-1] if text else type(error).__name__})."
            )
        if isinstance(error, psycopg.DataError | psycopg.ProgrammingError):
            return TerminalError(
                f"PostgreSQL refused the read of {self.table_name}: "
                f"{getattr(error.diag, 'message_primary', None) or error}."
            )
        return error
