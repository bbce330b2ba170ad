"""tap-zendesk 2.8.2, pointed at deskstream: ``python run_tap.py BASE_URL [tap-zendesk's own arguments]``.

The one documented shim the tap needs (docs/clients.md). Its own HTTP layer formats class-level templates
``"https://{}.zendesk.com/api/v2/..."`` with the subdomain and has no setting for the host, so the templates are
rebased on BASE_URL, keeping the tap's own call ``template.format(subdomain, *rest)``; its zenpy calls honour zenpy's
documented ``ZENPY_FORCE_SCHEME``/``ZENPY_FORCE_NETLOC``. The tap's self-imposed pause (one minute after every 450
tickets, for Zendesk's audits rate limit) is lifted: it would turn a 5,000-ticket sync into ten minutes of sleeping.
Nothing of the tap's requests or of what it reads is changed.
"""

import os
import sys

BASE = sys.argv.pop(1)
os.environ["ZENPY_FORCE_SCHEME"], os.environ["ZENPY_FORCE_NETLOC"] = BASE.split("://", 1)

import tap_zendesk  # noqa: E402  (after the variables zenpy reads)
import tap_zendesk.streams as streams  # noqa: E402


class _Rebased(str):
    """A URL template whose ``format(subdomain, *rest)`` drops the subdomain the template no longer has."""

    def format(self, _subdomain, *rest, **named):
        return str.format(self, *rest, **named)


for stream in streams.STREAMS.values():
    if isinstance(getattr(stream, "endpoint", None), str):
        stream.endpoint = _Rebased(stream.endpoint.replace("https://{}.zendesk.com", BASE))
streams.AUDITS_REQUEST_PER_MINUTE = 10**9

tap_zendesk.main()
