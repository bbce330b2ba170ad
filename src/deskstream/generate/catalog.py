"""The words of a generated help desk: topics, subjects, what customers and agents write, names.

Plain data and small pickers driven by the caller's seeded :class:`random.Random`, so a seed fixes every word.
"""

from __future__ import annotations

import random

#: topic → (tag, subjects). A ticket's topic picks its subject, its first tag and its group.
TOPICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "login": (
        "login",
        (
            "Cannot log in to my account",
            "Password reset email never arrives",
            "Two-factor codes are rejected",
            "Locked out after too many attempts",
            "SSO redirect loops forever",
        ),
    ),
    "billing": (
        "billing",
        (
            "Invoice shows the wrong amount",
            "Refund for a duplicate charge",
            "Change the card on file",
            "VAT number missing on invoice",
            "Downgrade my plan",
        ),
    ),
    "product": (
        "product",
        (
            "App crashes when uploading a photo",
            "Search returns no results",
            "Dashboard is very slow",
            "Notifications arrive twice",
            "Export to CSV is empty",
        ),
    ),
    "api": (
        "api",
        (
            "API returns 500 on large requests",
            "Webhook deliveries are delayed",
            "Rate limit lower than documented",
            "OAuth token expires too early",
            "Pagination skips records",
        ),
    ),
    "shipping": (
        "shipping",
        (
            "Shipping address change",
            "Parcel marked delivered but not received",
            "Wrong item in my order",
            "Customs fees on delivery",
            "Order stuck in processing",
        ),
    ),
}

#: Groups of the generated account and the topics each handles.
GROUPS: dict[str, tuple[str, ...]] = {
    "Support": ("login", "product", "shipping"),
    "Billing": ("billing",),
    "Tier 2": ("api", "product"),
    "Logistics": ("shipping",),
}

CUSTOMER_LINES = (
    "Hello, I have been trying this since this morning and nothing works.",
    "Could you please look into this as soon as possible?",
    "I attached the details below; let me know if you need anything else.",
    "This is the second time this happens this month.",
    "My colleague sees the same problem on her account.",
    "Thanks for your help, it is blocking our team.",
    "I tried another browser and cleared the cache, no change.",
    "Is there a workaround in the meantime?",
)
AGENT_LINES = (
    "Thanks for reaching out, I am looking into this now.",
    "Could you send us a screenshot and the time it happened?",
    "I have reproduced the problem and passed it to our engineers.",
    "This should be fixed now; could you try again and confirm?",
    "I have applied a credit to your account for the trouble.",
    "We have updated the settings on our side.",
    "Let me know if there is anything else we can help with.",
)
NOTE_LINES = (
    "Customer is on the enterprise plan; handle with priority.",
    "Linked to the known issue in the last release.",
    "Checked the logs: the request never reached the backend.",
    "Escalating to Tier 2, needs database access.",
    "Waiting for engineering to confirm the fix.",
)
FIRST_NAMES = ("Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger", "Hedy",
               "Claude", "Radia", "Tim", "Sophie", "John", "Karen", "Niklaus", "Lynn", "Donald")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen",
              "Dijkstra", "Lamarr", "Shannon", "Perlman", "Berners-Lee", "Wilson", "McCarthy", "Jones", "Wirth",
              "Conway", "Knuth")
COMPANY_WORDS = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Soylent", "Cyberdyne",
                 "Wonka", "Aperture", "Vandelay", "Massive", "Dynamic", "Oceanic", "Pied Piper", "Gringotts")
COMPANY_SUFFIXES = ("Corp", "Labs", "Industries", "Systems", "GmbH", "Ltd", "Group", "Partners")


def person_name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def company_name(rng: random.Random, n: int) -> str:
    """A company name, unique per ``n`` (organization names are unique in an account)."""
    return f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIXES)} {n}"


def text(rng: random.Random, lines: tuple[str, ...], sentences: int = 2) -> str:
    """A comment body of a few sentences; paragraphs are separated by a blank line, as in an email."""
    picked = [rng.choice(lines) for _ in range(sentences)]
    return "\n\n".join(picked)
