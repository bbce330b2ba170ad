"""Reads outside the export hot path: single records, a ticket's audits and comments, job statuses."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, Row, insert, select

from deskstream.store import schema


def record(conn: Connection, table: str, record_id: int) -> Row[Any] | None:
    """A record's stored JSON with the columns access checks need (``deleted_at``, and for tickets the requester)."""
    t = schema.metadata.tables[table]
    columns = [t.c.json, t.c.deleted_at]
    if table == "tickets":
        columns.append(t.c.requester_id)
    return conn.execute(select(*columns).where(t.c.id == record_id)).first()


def save_job_status(conn: Connection, job: dict[str, Any], created_at: int) -> None:
    conn.execute(insert(schema.job_statuses).values(id=job["id"], created_at=created_at, json=orjson.dumps(job)))


def job_status(conn: Connection, job_id: str) -> bytes | None:
    t = schema.job_statuses
    return conn.execute(select(t.c.json).where(t.c.id == job_id)).scalar()
