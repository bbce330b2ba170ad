"""``deskstream sync`` and ``deskstream verify``: a client that mirrors any Zendesk-compatible upstream into a local
target without losing or duplicating a record (spec/sync.md).

It never imports the server: it speaks to an upstream over HTTP only (:mod:`.upstream`), follows each stream's
pages with loop guards (:mod:`.streams`), writes each page and its checkpoint together (:mod:`.targets`), and shows
what it does (:mod:`.report`). :mod:`.runner` ties them together; :mod:`.verify` proves a mirror.
"""
