"""The workload generator: realistic, seeded help-desk history written through the services.

``deskstream generate`` runs it; ``serve --demo`` runs it for the demo account.
"""

from deskstream.generate.workload import Summary, generate

__all__ = ["Summary", "generate"]
