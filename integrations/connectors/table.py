"""What the database-table sources share: their settings, the mapping of a row to a message,
and the incremental read on (updated_at, primary key) through a server-side cursor.

A row becomes an `identify` (a customers table: identifiers and traits) or a `track` (an orders
table: an event name, properties and a timestamp). Runs are incremental: rows are read in
(updated_at, primary key) order after the checkpoint, the key breaking ties between rows updated
at the same instant, so a batch boundary never skips or repeats a row. Each database's module
supplies the driver: connecting, listing a table's columns, quoting, a server-side cursor.
"""

import datetime as dt
import math
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import ClassVar

from cdp_site.errors import InvalidInputError

from .base import (
    ConfigField,
    ConnectionCheck,
    Connector,
    ReadBatch,
    SourceRecord,
    TerminalError,
)

MESSAGE_TYPES = (
    ("identify", "identify: a person and their traits (a customers table)"),
    ("track", "track: something that happened (an orders table)"),
)


def table_fields(default_port: int) -> tuple[ConfigField, ...]:
    return (
        ConfigField("host", "Host", help_text="The database server's name or address."),
        ConfigField("port", "Port", kind="integer", default=default_port),
        ConfigField("database", "Database"),
        ConfigField(
            "user", "User", help_text="A user that may read the table (read-only is best)."
        ),
        ConfigField(
            "password",
            "Password",
            kind="secret",
            required=False,
            help_text="Stored encrypted and never shown again; leave blank to keep it.",
        ),
        ConfigField(
            "table",
            "Table or view",
            help_text="Its name, or schema.name, e.g. public.customers.",
        ),
        ConfigField(
            "updated_at_column",
            "Updated-at column",
            default="updated_at",
            help_text="When a row last changed: each run reads the rows changed since the last "
            "one. Rows where it is empty are skipped.",
        ),
        ConfigField(
            "primary_key_column",
            "Primary key column",
            default="id",
            help_text="Unique per row; orders rows changed at the same instant.",
        ),
        ConfigField(
            "message_type",
            "Each row is",
            kind="choice",
            default="identify",
            choices=MESSAGE_TYPES,
        ),
        ConfigField(
            "user_id_column",
            "User id column",
            required=False,
            help_text="The column holding your own id of the person (userId).",
        ),
        ConfigField(
            "email_column",
            "E-mail column",
            required=False,
            help_text="Matched to customers by e-mail.",
        ),
        ConfigField(
            "anonymous_id_column",
            "Anonymous id column",
            required=False,
            help_text="Without a user id or anonymous id column, each row is known by its "
            "table and primary key.",
        ),
        ConfigField(
            "columns",
            "Trait or property columns",
            required=False,
            help_text="Comma-separated; blank: every column but the id columns.",
        ),
        ConfigField(
            "event_name",
            "Event name",
            required=False,
            help_text="For track rows, e.g. Order Completed.",
        ),
        ConfigField(
            "timestamp_column",
            "Timestamp column",
            required=False,
            help_text="When it happened; blank: the updated-at column.",
        ),
        ConfigField(
            "batch_size",
            "Rows per batch",
            kind="integer",
            default=5000,
            required=False,
            help_text="Rows fetched and stored together (100 to 50,000).",
        ),
    )


# Values stored as they come: checked by exact type first, the common case of every row.
_PLAIN = frozenset({str, int, bool, type(None)})


def json_value(value: object) -> object:
    """A database value as JSON (numbers stay numbers; times in ISO-8601)."""
    if value.__class__ in _PLAIN or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict | list):
        return value
    return str(value)


def key_encode(value: object) -> object:
    """A cursor position value as JSON that `key_decode` turns back into the same type."""
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, uuid.UUID):
        return {"uuid": str(value)}
    return value


def key_decode(value: object) -> object:
    if isinstance(value, dict) and len(value) == 1:
        ((kind, text),) = value.items()
        decoders = {
            "datetime": dt.datetime.fromisoformat,
            "date": dt.date.fromisoformat,
            "decimal": Decimal,
            "uuid": uuid.UUID,
        }
        if kind in decoders:
            return decoders[kind](text)
    return value


class TableConnector(Connector):
    """A source reading one table or view incrementally; subclasses speak to one database."""

    database_label: ClassVar[str]
    # The next batch is fetched from the source database while this one is stored.
    prefetch = True

    @classmethod
    def config_validate(cls, config: dict) -> None:
        if config.get("message_type") == "track" and not config.get("event_name"):
            raise InvalidInputError("Track rows need an event name.", field="event_name")
        size = config.get("batch_size") or 5000
        if not 100 <= size <= 50_000:
            raise InvalidInputError("Rows per batch: 100 to 50,000.", field="batch_size")
        table = config.get("table", "")
        if not table or len(table.split(".")) > 2 or not all(table.split(".")):
            raise InvalidInputError("Name the table as name or schema.name.", field="table")

    # -- supplied by each database's module ------------------------------------------------

    def connect(self):
        raise NotImplementedError

    def table_columns(self, connection) -> list[str] | None:
        """The table's column names, None when there is no such table or view."""
        raise NotImplementedError

    def quote(self, name: str) -> str:
        raise NotImplementedError

    def after_condition(self, updated: str, key: str) -> str:
        """SQL true for rows after the position (%s placeholders: updated, key)."""
        raise NotImplementedError

    def after_params(self, updated: object, key: object) -> tuple:
        raise NotImplementedError

    def scalar(self, connection, query: str, params: tuple):
        raise NotImplementedError

    def stream(self, connection, query: str, params: tuple, size: int) -> Iterator[list[tuple]]:
        """Lists of up to `size` rows from a server-side cursor."""
        raise NotImplementedError

    def translate(self, error: Exception) -> Exception:
        """The driver's error as a TransientError or TerminalError (or itself if unknown)."""
        return error

    # -- shared ---------------------------------------------------------------------------

    @property
    def table_name(self) -> str:
        return self.config["table"]

    def quoted_table(self) -> str:
        return ".".join(self.quote(part) for part in self.table_name.split("."))

    def _mapping(self, columns: list[str]) -> dict:
        """The columns the settings name, checked against the table; TerminalError naming a
        missing one."""
        wanted = {
            "updated-at column": self.value("updated_at_column"),
            "primary key column": self.value("primary_key_column"),
        }
        for name, label in (
            ("user_id_column", "user id column"),
            ("email_column", "e-mail column"),
            ("anonymous_id_column", "anonymous id column"),
            ("timestamp_column", "timestamp column"),
        ):
            if self.value(name):
                wanted[label] = self.value(name)
        listed = [c.strip() for c in (self.value("columns") or "").split(",") if c.strip()]
        for column in listed:
            wanted[f"column {column}"] = column
        present = set(columns)
        for label, column in wanted.items():
            if column not in present:
                raise TerminalError(
                    f"The {label} “{column}” is not in table {self.table_name}: fix the "
                    f"source's settings (its columns: {', '.join(columns[:30])})."
                )
        ids = {self.value("user_id_column"), self.value("anonymous_id_column")}
        values = listed or [c for c in columns if c not in ids]
        return {"values": values}

    def _columns_checked(self, connection) -> list[str]:
        columns = self.table_columns(connection)
        if not columns:
            raise TerminalError(
                f"There is no table or view “{self.table_name}” that user "
                f"“{self.value('user')}” can read in database “{self.value('database')}”: "
                "check the name (schema.name) and the user's privileges."
            )
        return columns

    def check_connection(self) -> ConnectionCheck:
        try:
            connection = self.connect()
            try:
                columns = self._columns_checked(connection)
                self._mapping(columns)
                rows = self.scalar(connection, f"SELECT count(*) FROM {self.quoted_table()}", ())  # noqa: S608
            finally:
                connection.close()
        except (TerminalError, InvalidInputError) as problem:
            return ConnectionCheck(ok=False, message=problem.message)
        except Exception as error:
            translated = self.translate(error)
            if translated is error:
                raise
            return ConnectionCheck(ok=False, message=translated.message)
        return ConnectionCheck(
            ok=True, message=f"Connected: {rows:,} rows visible in {self.table_name}."
        )

    def read(self, checkpoint: dict) -> Iterator[ReadBatch]:
        try:
            yield from self._read(checkpoint)
        except (TerminalError, InvalidInputError):
            raise
        except Exception as error:
            translated = self.translate(error)
            if translated is error:
                raise
            raise translated from None

    def _read(self, checkpoint: dict) -> Iterator[ReadBatch]:
        connection = self.connect()
        try:
            columns = self._columns_checked(connection)
            mapping = self._mapping(columns)
            updated_col = self.value("updated_at_column")
            key_col = self.value("primary_key_column")
            selected = list(
                dict.fromkeys([key_col, updated_col, *self._id_columns(), *mapping["values"]])
            )
            index = {name: position for position, name in enumerate(selected)}
            where = f"{self.quote(updated_col)} IS NOT NULL"
            params: tuple = ()
            if checkpoint.get("updated_at") is not None:
                where += " AND " + self.after_condition(
                    self.quote(updated_col), self.quote(key_col)
                )
                params = self.after_params(
                    key_decode(checkpoint["updated_at"]), key_decode(checkpoint["key"])
                )
            table = self.quoted_table()
            total = self.scalar(connection, f"SELECT count(*) FROM {table} WHERE {where}", params)  # noqa: S608
            query = (
                f"SELECT {', '.join(self.quote(c) for c in selected)} FROM {table} "  # noqa: S608
                f"WHERE {where} ORDER BY {self.quote(updated_col)}, {self.quote(key_col)}"
            )
            to_message = self._row_mapper(index, mapping["values"])
            done = 0
            for rows in self.stream(
                connection, query, params, int(self.value("batch_size") or 5000)
            ):
                records = [to_message(row) for row in rows]
                done += len(rows)
                last = rows[-1]
                yield ReadBatch(
                    records=records,
                    checkpoint={
                        "updated_at": key_encode(last[index[updated_col]]),
                        "key": key_encode(last[index[key_col]]),
                    },
                    total=total,
                    done=done,
                )
        finally:
            connection.close()

    def _id_columns(self) -> list[str]:
        return [
            c
            for c in (
                self.value("user_id_column"),
                self.value("email_column"),
                self.value("anonymous_id_column"),
                self.value("timestamp_column"),
            )
            if c
        ]

    def _row_mapper(self, index: dict[str, int], values: list[str]):
        """A function from a row to its SourceRecord, with the lookups done once."""
        table = self.table_name
        key_at = index[self.value("primary_key_column")]
        key_name = self.value("primary_key_column")
        updated_at = index[self.value("updated_at_column")]
        user_at = index.get(self.value("user_id_column") or "")
        email_at = index.get(self.value("email_column") or "")
        anonymous_at = index.get(self.value("anonymous_id_column") or "")
        time_at = index.get(self.value("timestamp_column") or "", updated_at)
        value_at = [(name, index[name]) for name in values]
        plain = _PLAIN
        track = self.value("message_type") == "track"
        event = self.value("event_name")

        kind = "track" if track else "identify"
        # The converted updated-at value serves the version, the timestamp and the trait alike:
        # computed once per row (this runs for every row of every run).
        updated_name = self.value("updated_at_column")
        value_at = [(name, at) for name, at in value_at if at != updated_at]
        keep_updated = updated_name in values

        def to_record(row: tuple) -> SourceRecord:
            key = row[key_at]
            updated = row[updated_at]
            if updated.__class__ is dt.datetime and updated.tzinfo is None:
                updated = updated.replace(tzinfo=dt.UTC)
            version = json_value(updated)
            fields = {
                name: value if (value := row[at]).__class__ in plain else json_value(value)
                for name, at in value_at
            }
            if keep_updated:
                fields[updated_name] = version
            message: dict = {"type": kind}
            if user_at is not None and (user_id := row[user_at]) is not None and user_id != "":
                message["userId"] = str(user_id)
            if (
                anonymous_at is not None
                and (anonymous_id := row[anonymous_at]) is not None
                and anonymous_id != ""
            ):
                message["anonymousId"] = str(anonymous_id)
            if "userId" not in message and "anonymousId" not in message:
                message["anonymousId"] = f"{table}:{key}"
            email = row[email_at] if email_at is not None else None
            if track:
                message["event"] = event
                message["properties"] = fields
                if email:
                    message["context"] = {"traits": {"email": email}}
            else:
                if email:
                    fields["email"] = email
                message["traits"] = fields
            if time_at == updated_at:
                message["timestamp"] = version
            else:
                when = row[time_at]
                if when.__class__ is dt.datetime and when.tzinfo is None:
                    when = when.replace(tzinfo=dt.UTC)
                if when is not None:
                    message["timestamp"] = json_value(when)
            return SourceRecord(
                record_id=f"{key_name}={key}", version=str(version), message=message
            )

        return to_record
