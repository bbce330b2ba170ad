"""The upstream over HTTP: credentials, retries and politeness (spec/sync.md § Guarantees, "Polite").

Every request goes through :meth:`Upstream.get`, which honours ``Retry-After`` on 429 and 503, backs off with
jitter on other 5xx, timeouts, dropped connections, truncated or non-JSON bodies, and paces itself on the budget the
upstream advertises (``Zendesk-RateLimit-incremental-exports``, ``ratelimit-remaining``), shared by every stream, so
that concurrent streams never ask for more than the upstream allows. A 401 or 403 is :class:`AuthRefused` at once.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

#: ``(stream, seconds, why)``: told before every wait, so the user sees when and why the client waits.
OnWait = Callable[[str, float, str], None]
#: ``(stream, what the upstream did, what the client did about it)``: every fault met, for the closing summary.
OnFault = Callable[[str, str, str], None]
#: Backoff of retried failures: 0.5 s doubling to at most 30 s, with full jitter; at most this many attempts.
BACKOFF_BASE, BACKOFF_CAP, MAX_ATTEMPTS = 0.5, 30.0, 12
#: The longest ``Retry-After`` honoured as given (a larger one is waited in pieces of this, and re-asked).
MAX_RETRY_AFTER = 120.0


class SyncError(Exception):
    """The sync cannot go on (one line for the user)."""


class Interrupted(SyncError):
    """The user stopped the sync (Ctrl-C): every stream stops at its next request or wait."""


class AuthRefused(SyncError):
    """The upstream refused the credentials (exit 3)."""


class UpstreamFailed(SyncError):
    """The upstream kept failing, or answered what no retry can fix."""


class NotOffered(UpstreamFailed):
    """404: the upstream has no such path (real Zendesk has no change feed)."""


class Gone(UpstreamFailed):
    """410: what was asked for is gone (a change feed position past its retention); ``body`` says what to do."""

    def __init__(self, message: str, body: dict[str, Any]) -> None:
        super().__init__(message)
        self.body = body


@dataclass(frozen=True)
class Credentials:
    """How to sign in: an API token, a password or an OAuth bearer token. Never printed."""

    email: str
    token: str | None = None
    password: str | None = None
    bearer: str | None = None

    def apply(self, client: httpx.Client) -> None:
        if self.bearer:
            client.headers["Authorization"] = f"Bearer {self.bearer}"
        elif self.token:
            client.auth = httpx.BasicAuth(f"{self.email}/token", self.token)
        else:
            client.auth = httpx.BasicAuth(self.email, self.password or "")


def base_url(source: str) -> str:
    """``--from``: a base URL, ``SUBDOMAIN.zendesk.com``, or a bare subdomain."""
    source = source.strip().rstrip("/")
    if re.match(r"^https?://", source):
        return source
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", source):
        return f"https://{source}.zendesk.com"
    if re.fullmatch(r"[A-Za-z0-9.-]+(:\d+)?", source):
        return f"https://{source}"
    raise SyncError(f"--from: not a URL, a host or a Zendesk subdomain: {source!r}")


def _retry_after(headers: httpx.Headers) -> float | None:
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _budget(headers: httpx.Headers) -> tuple[int, float] | None:
    """``(remaining, seconds until reset)`` of the export budget, from Zendesk's header or the IETF draft's."""
    zendesk = headers.get("zendesk-ratelimit-incremental-exports")
    if zendesk:
        fields = dict(part.strip().split("=", 1) for part in zendesk.split(";") if "=" in part)
        if "remaining" in fields and "resets" in fields:
            return int(fields["remaining"]), float(fields["resets"])
    if "ratelimit-remaining" in headers and "ratelimit-reset" in headers:
        return int(headers["ratelimit-remaining"]), float(headers["ratelimit-reset"])
    return None


#: What the client does about each kind of fault (the summary's "handled" column).
WAITED_AS_TOLD = "waited as Retry-After said, asked again"
BACKED_OFF = "backed off with jitter, asked again"
WAITED_FOR_BUDGET = "waited for the budget's window to reset"


def _transport_fault(error: httpx.TransportError) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    if isinstance(error, httpx.RemoteProtocolError):
        return "connection closed mid-body"
    return f"connection failed ({type(error).__name__})"


def _is_json(response: httpx.Response) -> bool:
    try:
        orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return False
    return True


def _object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _status_fault(response: httpx.Response) -> str:
    """A failed answer as the summary names it: its status, and what was odd about its body."""
    kind = response.headers.get("content-type", "").split(";")[0].strip() or "no content type"
    body = "a JSON body" if _is_json(response) else f"a body that is not JSON ({kind})"
    return f"{response.status_code} with {body}"


class Pacer:
    """The upstream's advertised budget, shared by every stream: requests wait while none is left."""

    def __init__(self, sleep: Callable[[float], None]) -> None:
        self._lock = threading.Lock()
        self._remaining: int | None = None
        self._reset_at = 0.0
        self._sleep = sleep

    def take(self, stream: str, on_wait: OnWait, on_fault: OnFault) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                if self._remaining is None or self._remaining > 0 or now >= self._reset_at:
                    if self._remaining is not None:
                        self._remaining = self._remaining - 1 if now < self._reset_at else None
                    return
                wait = self._reset_at - now
            on_fault(stream, "the advertised rate limit spent", WAITED_FOR_BUDGET)
            on_wait(stream, wait, "rate limit: no request left this window")
            self._sleep(wait)

    def observe(self, headers: httpx.Headers) -> None:
        budget = _budget(headers)
        if budget is not None:
            with self._lock:
                self._remaining = min(budget[0], self._remaining if self._remaining is not None else budget[0])
                self._reset_at = time.monotonic() + budget[1]


@dataclass
class Upstream:
    """One upstream, shared by every stream's thread (httpx clients are thread-safe)."""

    url: str
    credentials: Credentials
    on_wait: OnWait
    on_fault: OnFault
    timeout: float = 60.0

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=self.timeout, headers={"Accept": "application/json"},
                                   follow_redirects=True)  # fmt: skip
        self.credentials.apply(self.client)
        self.pacer = Pacer(self.sleep)
        self._random = random.Random()
        self._stopping = threading.Event()

    def close(self) -> None:
        self.client.close()

    def stop(self) -> None:
        """Make every stream raise :class:`Interrupted` at its next request or wait (waits end at once)."""
        self._stopping.set()

    def sleep(self, seconds: float) -> None:
        if self._stopping.wait(seconds):
            raise Interrupted("interrupted")

    def _backoff(self, stream: str, attempt: int, why: str) -> None:
        wait = self._random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))
        self.on_fault(stream, why, BACKED_OFF)
        self.on_wait(stream, wait, f"retrying: {why}")
        self.sleep(wait)

    def get(self, stream: str, url: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One page as JSON, however many attempts it takes: waits told by ``Retry-After`` are not failures, and
        :data:`MAX_ATTEMPTS` failures in a row give up. Every fault met is told to ``on_fault``."""
        why, failures = "", 0
        while failures < MAX_ATTEMPTS:
            self.sleep(0)  # a stream that was told to stop stops here
            self.pacer.take(stream, self.on_wait, self.on_fault)
            try:
                response = self.client.get(url, params=params)
            except httpx.TransportError as error:
                why = _transport_fault(error)
            else:
                self.pacer.observe(response.headers)
                status = response.status_code
                if status == 401:
                    raise AuthRefused(f"the upstream refused the credentials (401 on {url})")
                if status == 403:
                    raise AuthRefused(f"the upstream refused this user (403 on {url}): its exports are admins' only")
                if status in (429, 503) and (given := _retry_after(response.headers)) is not None:
                    self.on_fault(stream, f"{_status_fault(response)} and Retry-After", WAITED_AS_TOLD)
                    self.on_wait(stream, min(given, MAX_RETRY_AFTER), f"{status}, Retry-After {given:g} s")
                    self.sleep(min(given, MAX_RETRY_AFTER))
                    continue  # waited as told: not a failure
                if status >= 500 or status == 429:
                    why = _status_fault(response) + (" without Retry-After" if status in (429, 503) else "")
                elif status == 404:
                    raise NotOffered(f"404 on {url}: the upstream has no such path")
                elif status == 410:
                    raise Gone(f"410 on {url}: {response.text[:200].strip()}", _object(response))
                elif status >= 400:
                    raise UpstreamFailed(f"{status} on {url}: {response.text[:200].strip()}")
                else:
                    try:
                        body = orjson.loads(response.content)
                    except orjson.JSONDecodeError:
                        why = f"{status} with a body that is not JSON"
                    else:
                        if isinstance(body, dict):
                            return body
                        why = f"{status} with a body that is not a JSON object"
            self._backoff(stream, failures, why)
            failures += 1
        raise UpstreamFailed(f"{stream}: gave up after {MAX_ATTEMPTS} attempts; last: {why}")
