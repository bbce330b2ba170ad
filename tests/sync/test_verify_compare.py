"""``verify``'s comparison: two id-ordered walks of ``(id, version)`` merged, in bounded memory."""

from __future__ import annotations

from deskstream.sync.verify import SHOWN, compare


def test_ids_only_upstream_are_missing_only_mirrored_are_extra_and_older_mirrored_versions_are_stale() -> None:
    check = compare("tickets", iter([(1, 5), (2, 5), (4, 7), (6, 1)]), iter([(2, 4), (3, 1), (4, 7), (5, 2)]))
    assert (check.upstream, check.mirror) == (4, 4)
    assert (check.missing.first, check.extra.first, check.stale.first) == ([1, 6], [3, 5], [2])
    assert not check.ok


def test_a_newer_mirrored_version_is_not_stale_and_equal_walks_are_ok() -> None:
    assert compare("users", iter([(1, 5), (2, 5)]), iter([(1, 6), (2, 5)])).ok
    assert compare("users", iter([]), iter([])).ok


def test_every_difference_is_counted_but_only_the_first_few_are_kept_to_name() -> None:
    check = compare("ticket_events", iter((i, 1) for i in range(10_000)), iter([]))
    assert check.missing.count == 10_000 and check.missing.first == list(range(SHOWN))
    assert str(check.missing) == "10,000 (e.g. 0, 1, 2, 3, 4)"
