"""docs/exports.md cannot drift from the export routes: every path, and every sampled resource, is documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from deskstream.api.routes import incremental
from deskstream.export.sideloads import TICKET_EMPTY, TICKET_PER_ITEM, TICKET_RECORDS, USER_RECORDS

DOCS = (Path(__file__).resolve().parents[2] / "docs" / "exports.md").read_text()
#: The sample route's ``{resource}`` is documented as the resources it samples.
SAMPLED = "{" + ",".join(incremental.SAMPLED) + "}"
PATHS = [r.path.replace("{resource}", SAMPLED) for r in incremental.router.routes if isinstance(r, APIRoute)]


@pytest.mark.parametrize("path", PATHS)
def test_every_export_path_is_in_the_endpoint_table(path: str) -> None:
    assert f"| `{path}` |" in DOCS


def test_every_sideload_is_documented() -> None:
    for name in (*TICKET_RECORDS, *TICKET_EMPTY, *TICKET_PER_ITEM, *USER_RECORDS, "comment_events", "last_audits"):
        assert f"`{name}`" in DOCS
