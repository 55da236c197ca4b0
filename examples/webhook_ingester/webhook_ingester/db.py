"""The app's own tables, in the same database as Outlast's (a trigger inside the app's
transaction needs both in one database). SQLAlchemy, so the same code runs on SQLite in
development and on PostgreSQL in production."""

from __future__ import annotations

import functools
import os

from sqlalchemy import (
    CheckConstraint,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
)

metadata = MetaData()

#: every delivery received, by the provider's webhook id
webhook_events = Table(
    "app_webhook_events", metadata,
    Column("id", String, primary_key=True),
    Column("type", String, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("run_id", String),
)

payments = Table(
    "app_payments", metadata,
    Column("id", String, primary_key=True),
    Column("amount", Integer, CheckConstraint("amount > 0", name="positive_amount"),
           nullable=False),
    Column("currency", String, nullable=False),
    Column("email", String, nullable=False),
    Column("status", String, nullable=False),
)


def database_url() -> str:
    """Outlast's database: `OUTLAST_DATABASE_URL`, else the dev server's SQLite file."""
    return os.environ.get("OUTLAST_DATABASE_URL", "sqlite:///.outlast/dev.db")


@functools.cache
def engine_for(url: str) -> Engine:
    """A SQLAlchemy engine for an Outlast database URL (psycopg 3 for PostgreSQL)."""
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    engine = create_engine(url)
    metadata.create_all(engine)  # the app's tables, beside Outlast's
    return engine
