"""The help desk's rules: tickets, audits, users. Pure functions over plain dicts; no HTTP, no SQL."""
