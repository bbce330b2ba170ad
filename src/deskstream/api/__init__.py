"""The HTTP layer: Zendesk's paths, wrapping, auth and error bodies over the services. Nothing else imports it."""

from deskstream.api.app import create_app

__all__ = ["create_app"]
