"""The workload generator: realistic, seeded help-desk history written through the services (``deskstream generate``)."""

from deskstream.generate.workload import Summary, generate

__all__ = ["Summary", "generate"]
