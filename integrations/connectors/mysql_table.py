"""MySQL and MariaDB table source: rows of a table or view, read incrementally through PyMySQL's
unbuffered (server-side) cursor, which streams rows instead of loading the result."""

from collections.abc import Iterator

import pymysql
import pymysql.cursors

from .base import TerminalError, TransientError
from .registry import register
from .table import TableConnector, table_fields

CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 600

# MySQL error numbers that no retry will fix.
ACCESS_DENIED = {1044, 1045, 1142, 1143}
UNKNOWN_DATABASE = 1049
NO_SUCH_TABLE = 1146
UNKNOWN_COLUMN = 1054


@register
class MysqlTableConnector(TableConnector):
    key = "mysql_table"
    label = "MySQL / MariaDB table"
    database_label = "MySQL"
    description = (
        "Rows of a MySQL or MariaDB table or view (customers, orders), read incrementally on "
        "an updated-at column."
    )
    fields = table_fields(3306)

    def connect(self):
        return pymysql.connect(
            host=self.value("host"),
            port=int(self.value("port")),
            database=self.value("database"),
            user=self.value("user"),
            password=self.value("password") or "",
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
            charset="utf8mb4",
        )

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def table_columns(self, connection) -> list[str] | None:
        parts = self.table_name.split(".")
        schema, table = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s "
                "ORDER BY ORDINAL_POSITION",
                (schema, table),
            )
            return [row[0] for row in cursor.fetchall()] or None

    def after_condition(self, updated: str, key: str) -> str:
        # Spelt out rather than a row comparison, which MySQL's range optimiser uses less well.
        return f"({updated} > %s OR ({updated} = %s AND {key} > %s))"

    def after_params(self, updated: object, key: object) -> tuple:
        return (updated, updated, key)

    def scalar(self, connection, query: str, params: tuple):
        with connection.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchone()[0]

    def stream(self, connection, query: str, params: tuple, size: int) -> Iterator[list[tuple]]:
        with connection.cursor(pymysql.cursors.SSCursor) as cursor:
            cursor.execute(query, params)
            while rows := cursor.fetchmany(size):
                yield list(rows)

    def translate(self, error: Exception) -> Exception:
        if not isinstance(error, pymysql.MySQLError):
            return error
        code = error.args[0] if error.args and isinstance(error.args[0], int) else None
        detail = error.args[1] if len(error.args) > 1 else str(error)
        if code in ACCESS_DENIED:
            return TerminalError(
                f"The server refused user “{self.value('user')}”: check the user, password "
                f"and its SELECT privilege ({detail})."
            )
        if code == UNKNOWN_DATABASE:
            return TerminalError(f"The server has no database “{self.value('database')}”.")
        if code in (NO_SUCH_TABLE, UNKNOWN_COLUMN):
            return TerminalError(f"{detail}: fix the source's settings.")
        if isinstance(error, pymysql.OperationalError | pymysql.InterfaceError):
            return TransientError(
                f"Could not reach MySQL at {self.value('host')}:{self.value('port')} ({detail})."
            )
        return TerminalError(f"MySQL refused the read of {self.table_name}: {detail}.")
