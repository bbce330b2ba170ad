"""Airbyte's source-zendesk-support (4.9.1), pointed at deskstream: ``python run_airbyte.py BASE_URL <its arguments>``.

The connector has no setting for the host: its manifest's ``url_base`` and its connection check both build
``https://{subdomain}.zendesk.com``. The one shim rewrites that prefix to BASE_URL where every request leaves the
process (requests' transport adapter), so the connector's own code, paths, parameters and pagination run as
released; next links the server returns are followed as they are.
"""

import sys

import requests.adapters

BASE = sys.argv.pop(1).rstrip("/")
_send = requests.adapters.HTTPAdapter.send


def _rebased(self, request, *args, **kwargs):
    prefix = "https://local.zendesk.com"
    if request.url.startswith(prefix):
        request.url = BASE + request.url[len(prefix):]
    return _send(self, request, *args, **kwargs)


requests.adapters.HTTPAdapter.send = _rebased

from source_zendesk_support.run import run  # noqa: E402  (after the transport is rebased)

run()
