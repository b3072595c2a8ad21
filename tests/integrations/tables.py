"""Real source databases for the table connectors' tests: a PostgreSQL database and a MariaDB
database of their own, with customers and orders tables filled by the tests.

Names derive from the test database's, so suites run side by side (or under xdist) never share
one. Import the fixtures into a test module to use them.
"""

import os
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.conf import settings

CUSTOMERS_DDL = (
    "CREATE TABLE customers (id integer PRIMARY KEY, email text, external_id text, "
    "name text, plan text, score numeric(6,2), updated_at timestamptz)"
)
ORDERS_DDL = (
    "CREATE TABLE orders (id integer PRIMARY KEY, customer_email text, total numeric(10,2), "
    "currency text, placed_at timestamptz, updated_at timestamptz)"
)
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def _pg_conninfo(dbname: str) -> dict:
    db = settings.DATABASES["default"]
    return {
        "host": db.get("HOST") or "127.0.0.1",
        "port": int(db.get("PORT") or 5432),
        "user": db.get("USER") or "postgres",
        "password": db.get("PASSWORD") or None,
        "dbname": dbname,
    }


def customer_rows(count: int, *, start: int = 1, same_time_every: int = 3) -> list[tuple]:
    """Customers whose updated_at repeats in runs of `same_time_every`, so the primary key must
    break ties at batch boundaries."""
    return [
        (
            n,
            f"person{n}@example.com",
            f"ext-{n}",
            f"Person {n}",
            "pro" if n % 2 else "free",
            n % 100 + 0.5,
            BASE_TIME + timedelta(minutes=n // same_time_every),
        )
        for n in range(start, start + count)
    ]


class PostgresTables:
    """A PostgreSQL database of its own, emptied for each test."""

    def __init__(self) -> None:
        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            pytest.skip("The PostgreSQL table source is tested on PostgreSQL")
        self.dbname = settings.DATABASES["default"]["NAME"] + "_tables"
        info = _pg_conninfo("postgres")
        with psycopg.connect(**info, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{self.dbname}"')

    def connect(self):
        return psycopg.connect(**_pg_conninfo(self.dbname), autocommit=True)

    def execute(self, sql: str, params=None) -> None:
        with self.connect() as connection:
            connection.execute(sql, params)

    def insert_customers(self, rows: list[tuple]) -> None:
        with self.connect() as connection, connection.cursor() as cursor:
            cursor.executemany("INSERT INTO customers VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)

    def config(self, **overrides) -> dict:
        info = _pg_conninfo(self.dbname)
        values = {
            "host": info["host"],
            "port": info["port"],
            "database": self.dbname,
            "user": info["user"],
            "password": info["password"] or "",
            "table": "public.customers",
            "updated_at_column": "updated_at",
            "primary_key_column": "id",
            "message_type": "identify",
            "user_id_column": "external_id",
            "email_column": "email",
            "batch_size": 100,
        }
        values.update(overrides)
        return values

    def drop(self) -> None:
        with psycopg.connect(**_pg_conninfo("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')


@pytest.fixture
def pg_tables(db):
    tables = PostgresTables()
    tables.execute(CUSTOMERS_DDL)
    tables.execute(ORDERS_DDL)
    yield tables
    tables.drop()


class MariadbTables:
    """A MariaDB database of its own (skipped when no server answers)."""

    def __init__(self) -> None:
        import pymysql

        # Named after the PostgreSQL test database, so suites run side by side never share one.
        prefix = os.environ.get("CDP_TEST_MYSQL_DATABASE_PREFIX", "cdp_")
        self.dbname = (prefix + settings.DATABASES["default"]["NAME"])[:64]
        self.host = os.environ.get("CDP_TEST_MYSQL_HOST", "127.0.0.1")
        self.port = int(os.environ.get("CDP_TEST_MYSQL_PORT", "3306"))
        self.user = os.environ.get("CDP_TEST_MYSQL_USER", "root")
        self.password = os.environ.get("CDP_TEST_MYSQL_PASSWORD", "")
        try:
            admin = pymysql.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password,
                connect_timeout=3,
                autocommit=True,
            )
        except pymysql.MySQLError as problem:
            pytest.skip(f"No MariaDB/MySQL server at {self.host}:{self.port}: {problem}")
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{self.dbname}`")
            cursor.execute(f"CREATE DATABASE `{self.dbname}`")
        admin.close()

    def connect(self):
        import pymysql

        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=self.dbname,
            autocommit=True,
        )

    def execute(self, sql: str, params=None) -> None:
        connection = self.connect()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        connection.close()

    def insert_customers(self, rows: list[tuple]) -> None:
        connection = self.connect()
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO customers VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [(*row[:6], row[6].replace(tzinfo=None)) for row in rows],
            )
        connection.close()

    def config(self, **overrides) -> dict:
        values = {
            "host": self.host,
            "port": self.port,
            "database": self.dbname,
            "user": self.user,
            "password": self.password,
            "table": "customers",
            "updated_at_column": "updated_at",
            "primary_key_column": "id",
            "message_type": "identify",
            "user_id_column": "external_id",
            "email_column": "email",
            "batch_size": 100,
        }
        values.update(overrides)
        return values

    def drop(self) -> None:
        self.execute(f"DROP DATABASE IF EXISTS `{self.dbname}`")


@pytest.fixture
def mysql_tables(db):
    tables = MariadbTables()
    tables.execute(
        "CREATE TABLE customers (id int PRIMARY KEY, email varchar(200), "
        "external_id varchar(100), name varchar(200), plan varchar(20), score decimal(6,2), "
        "updated_at datetime(6), KEY by_update (updated_at, id))"
    )
    yield tables
    tables.drop()
