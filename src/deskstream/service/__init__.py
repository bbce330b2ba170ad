"""The application services: every change enters deskstream here, one transaction each, through the domain rules.

The HTTP layer and the workload generator both call :class:`~deskstream.service.desk.Desk`; neither writes SQL.
"""

from deskstream.service.context import Actor
from deskstream.service.desk import Desk

__all__ = ["Actor", "Desk"]
