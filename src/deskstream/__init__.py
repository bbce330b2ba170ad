"""deskstream: a Zendesk-compatible ticket service with wire-compatible Incremental Exports."""

__version__ = "0.1.0"
