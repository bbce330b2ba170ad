"""How a fixture's server runs: in the test's process or its own, its export budget, its faults, any other setting.

Options come in layers, later ones winning: the ini file (``deskstream_rate_limit``, ``deskstream_faults``,
``deskstream_process``), the command line (``--deskstream-process``), the test's ``@pytest.mark.deskstream(...)``,
and the keyword arguments of ``zendesk_factory(...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

#: Zendesk's figure: incremental export requests per minute per account.
ZENDESK_RATE_LIMIT = 10


def rate_limit_text(value: object) -> str:
    """A rate limit as ``serve --rate-limit`` takes it: a whole number, or ``off`` (for None, False, 0, "off")."""
    if value is None or value is False or str(value).strip().lower() in ("", "0", "off", "none", "false"):
        return "off"
    return str(value).strip()


@dataclass(frozen=True)
class Options:
    process: bool = False
    rate_limit: str = str(ZENDESK_RATE_LIMIT)
    faults: str = ""
    #: Any other setting of ``deskstream.settings.Settings`` (``change_sequence=True``, ``retention="1d"``...).
    settings: Mapping[str, Any] = field(default_factory=dict)

    def with_values(self, values: Mapping[str, Any]) -> Options:
        """These options with ``values`` (a marker's or the factory's keyword arguments) on top."""
        known: dict[str, Any] = {}
        if "process" in values:
            known["process"] = bool(values["process"])
        if "rate_limit" in values:
            known["rate_limit"] = rate_limit_text(values["rate_limit"])
        if "faults" in values:
            known["faults"] = str(values["faults"] or "")
        others = {k: v for k, v in values.items() if k not in ("process", "rate_limit", "faults")}
        return replace(self, **known, settings={**self.settings, **others})

    def settings_values(self) -> dict[str, Any]:
        return {**self.settings, "rate_limit": self.rate_limit, "faults": self.faults}
