"""The fault plan as a value: a spec parses once, to the same plan whatever its spelling; a bad one is one line
naming what is wrong; the same seed draws the same faults in the same order."""

from __future__ import annotations

import pytest

from deskstream.faults import LATE_ONE_IN, FaultPlan, Faults, FaultSpecError, Outcome, parse


def test_a_spec_parses_to_a_typed_plan_that_prints_back_to_an_equal_spec() -> None:
    plan = parse(" tie_overflow=stall, http429_every=5,http503_rate=0.1,non_json_429, seed=7 ")
    assert plan == FaultPlan(tie_overflow="stall", http429_every=5, http503_rate=0.1, non_json_429=True, seed=7)
    assert parse(plan.spec()) == plan
    assert parse("") == FaultPlan() and not FaultPlan().active and FaultPlan().as_dict() == {}


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("bogus=1", "unknown fault 'bogus'"),
        ("tie_overflow=loop", "tie_overflow takes one value: stall"),
        ("http503_rate=1.5", "http503_rate is a probability from 0 to 1"),
        ("http429_every=-2", "http429_every takes a whole number"),
        ("slow_ms=fast", "slow_ms takes a number"),
        ("non_json_429=maybe", "non_json_429 is a flag"),
    ],
)
def test_a_bad_spec_is_refused_with_what_is_wrong(spec: str, says: str) -> None:
    with pytest.raises(FaultSpecError, match=says):
        parse(spec)


def draws(plan: FaultPlan, n: int = 200) -> list[Outcome]:
    faults = Faults(plan)
    return [faults.draw() for _ in range(n)]


def test_the_same_seed_draws_the_same_faults_in_the_same_order_and_another_seed_others() -> None:
    plan = parse("http429_rate=0.2,http503_rate=0.2,http504_rate=0.1,truncate_rate=0.1,seed=7")
    first = draws(plan)
    assert draws(plan) == first
    assert draws(parse(plan.spec().replace("seed=7", "seed=8"))) != first
    assert {Outcome.HTTP429, Outcome.HTTP503, Outcome.HTTP504, Outcome.TRUNCATE, Outcome.SERVE} == set(first)


def test_http429_every_n_refuses_exactly_every_nth_request() -> None:
    outcomes = draws(parse("http429_every=4"), 12)
    assert [n + 1 for n, o in enumerate(outcomes) if o is Outcome.HTTP429] == [4, 8, 12]


def test_late_commits_are_one_in_five_by_id_and_visible_once_their_delay_has_passed() -> None:
    plan = parse("late_commit_s=90,seed=3")
    late = [i for i in range(1, 1001) if plan.is_late(i, 1000, now=1050)]
    assert 0.1 < len(late) / 1000 < 0.3, LATE_ONE_IN
    assert not any(plan.is_late(i, 1000, now=1090) for i in late)
    assert late == [i for i in range(1, 1001) if plan.is_late(i, 1000, now=1089)]
