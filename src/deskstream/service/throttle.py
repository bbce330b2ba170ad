"""Failed sign-ins, throttled: a wrong password costs a guesser its budget, never the account's owner theirs.

Two budgets of wrong passwords per window (fixed windows aligned to the server's clock, as the export budgets):

- one per (email, client address): a guesser hammering one account from one address is stopped after
  :data:`FAILURES_PER_ACCOUNT_AND_ADDRESS` wrong passwords, while the owner signing in from anywhere else is not
  (their pair has its own budget);
- one per client address, whatever the emails: :data:`FAILURES_PER_ADDRESS` stops one address spraying a password
  over many accounts.

Over either, a password attempt answers 429 ``APIRateLimitExceeded`` with ``Retry-After`` (the seconds until the
window ends) *before* the password is looked at, right or wrong, cached or not: otherwise the answers would still
tell a right guess from a wrong one. API tokens (``email/token:TOKEN``, ``Bearer TOKEN``) are never throttled and
never counted: they are 240 random bits that no guesser can find, and an integration's token must keep working
while someone hammers its account's password. Unknown emails are counted like known ones, so a 429 says nothing
about whether an account exists.

The counts are rows of ``rate_limit_counters`` (:meth:`deskstream.store.accounts.Accounts.count_hit`), so every server
process on the database shares them. A password attempt reserves its place in both budgets first (one short write
transaction that counts it) and gives the place back when the password turns out right: however many requests
arrive at once, at most the budget's number of wrong passwords are ever checked in a window. Counter keys are
digests of the email and the address (the column holds 64 characters; no email is stored there). Neither the email
nor any secret is logged: only the client address, once per window when its budget runs out.

What this does not stop: one account guessed from many addresses at once (each address has its own budget; an
account-wide budget would let anyone lock any account out). Behind a proxy every client has the proxy's address,
so the per-address budget is shared by all of them, unless ``serve --trusted-proxies`` names the proxy: only then is
its ``X-Forwarded-For`` believed, since any client can write one.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from deskstream.clock import Clock
from deskstream.exceptions import RateLimited
from deskstream.store.engine import Store
from deskstream.store.writer import Writer

log = logging.getLogger("deskstream")

#: Wrong passwords one client address may send for one email per window. A person who mistyped, or an integration
#: left with an old password, fails a handful of times; twenty leaves room for both (and for a client that retries a
#: few times before it gives up) while holding a guesser to 20 guesses per 5 minutes, under 6,000 a day, where the
#: unthrottled server took 1,400 a minute.
FAILURES_PER_ACCOUNT_AND_ADDRESS = 20
#: Wrong passwords one client address may send per window, over all emails: five accounts' worth, for an office
#: behind one address; a password sprayed over many accounts stops at 100 tries per 5 minutes.
FAILURES_PER_ADDRESS = 100
#: The window, in seconds: long enough that a guesser waits (``Retry-After`` up to 5 minutes) rather than retrying at
#: once, short enough that someone who mistyped is back within minutes.
FAILURE_WINDOW = 300

DESCRIPTION = "Number of allowed failed sign-in attempts exceeded. Try again later"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:40]


class SignInThrottle:
    """The two budgets of wrong passwords, kept in the store and read on the server's clock."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    @staticmethod
    def budgets(email: str, client: str | None) -> list[tuple[str, int]]:
        """(counter key, limit) of each budget a password attempt for ``email`` from ``client`` spends."""
        address = client or ""
        return [
            ("signin:" + _digest("account+address", email.lower(), address), FAILURES_PER_ACCOUNT_AND_ADDRESS),
            ("signin-address:" + _digest("address", address), FAILURES_PER_ADDRESS),
        ]

    def window(self) -> tuple[int, int]:
        """(start of the current window, whole seconds until it ends)."""
        now = self.clock.now()
        start = now - now % FAILURE_WINDOW
        return start, start + FAILURE_WINDOW - now

    def check(self, r: Writer, email: str, client: str | None) -> None:
        """Refuse (429) an attempt whose budgets are spent, in the caller's read transaction."""
        start, retry_after = self.window()
        budgets = self.budgets(email, client)
        counts = r.hit_counts([key for key, _ in budgets], start)
        if any(count >= limit for count, (_, limit) in zip(counts, budgets, strict=True)):
            raise RateLimited(retry_after, DESCRIPTION)

    def reserve(self, email: str, client: str | None) -> Reservation:
        """Count the attempt in both budgets before its password is checked; refuse it (429, counted in neither)
        when either is spent."""
        start, retry_after = self.window()
        budgets = self.budgets(email, client)
        with self.store.writing(stamped=False) as w:  # counters stamp nothing an export serves
            counts = [w.count_hit(key, start) for key, _ in budgets]
            if any(count > limit for count, (_, limit) in zip(counts, budgets, strict=True)):
                for key, _ in budgets:
                    w.take_back_hit(key, start)
                raise RateLimited(retry_after, DESCRIPTION)
        spends = [count == limit for count, (_, limit) in zip(counts, budgets, strict=True)]
        return Reservation(start, [key for key, _ in budgets], spends[0], spends[1])

    def release(self, reservation: Reservation) -> None:
        """The password was right: give back the places :meth:`reserve` took."""
        with self.store.writing(stamped=False) as w:  # counters stamp nothing an export serves
            for key in reservation.keys:
                w.take_back_hit(key, reservation.window_start)

    @staticmethod
    def failed(reservation: Reservation, client: str | None) -> None:
        """The password was wrong, and stays counted; say so once per window, when a budget is spent."""
        if reservation.spends_account:
            log.warning("sign-in throttled: %d wrong passwords for one account from %s within %d s; refusing more "
                        "until the window ends", FAILURES_PER_ACCOUNT_AND_ADDRESS, client, FAILURE_WINDOW)
        if reservation.spends_address:
            log.warning("sign-in throttled: %d wrong passwords from %s within %d s; refusing more until the window "
                        "ends", FAILURES_PER_ADDRESS, client, FAILURE_WINDOW)


@dataclass(frozen=True)
class Reservation:
    """A password attempt's places in its budgets: the window and counter keys, and whether it took the last
    place of the account-and-address or the address budget."""

    window_start: int
    keys: list[str]
    spends_account: bool
    spends_address: bool
