"""The loop's one clock and the scheduler that splits the machine between new images and
presents, by measurement in alternating slices."""

from __future__ import annotations

import pytest

from performer.core.pacer import DRIFT_S, LATE_S, Pacer, Plan, Scheduler, plans


def test_the_pacer_sleeps_to_its_deadline_unless_vsync_paces():
    slept: list[float] = []
    p = Pacer(60.0, sleep=slept.append)
    p.start(0.0)
    p.wait(0.005)  # 5 ms of work: sleep the rest of the 1/60 s
    assert slept == [pytest.approx(1 / 60 - 0.005)]
    p.divisor = 2
    p.wait(p.deadline + 0.001)
    assert slept[-1] == pytest.approx(2 / 60 - 0.001)
    p.wait(10.0)  # far behind: counts from now, no burst to catch up
    assert p.deadline == 10.0 and len(slept) == 2
    v = Pacer(60.0, vsync_paces=True, sleep=slept.append)
    v.start(0.0)
    v.wait(0.001)  # the swap is the clock: never sleeps as well
    assert len(slept) == 2 and v.deadline == pytest.approx(1 / 60)


def test_plans_divide_the_refresh_on_cpu_only():
    assert plans([1, 2], 60.0, gpu=False) == [
        Plan(1, 1),
        Plan(1, 2),
        Plan(1, 3),
        Plan(2, 1),
        Plan(2, 2),
        Plan(2, 3),
    ]
    assert plans([2], 30.0, gpu=False) == [Plan(2, 1)]  # 15 fps would be too slow
    assert plans([1, 2], 60.0, gpu=True) == [Plan(1, 1), Plan(2, 1)]


def drive(
    s: Scheduler,
    measured: dict[Plan, tuple[float, float, float]],
    applied: list[Plan],
    now: float = 0.0,
    seconds: float = 30.0,
    stop: bool = True,
) -> float:
    """Feed the scheduler what each applied plan measures: (fresh/s, presents/s, missed/s)."""
    fresh = presents = missed = 0.0
    dt = 0.05
    while now < seconds:
        f, p, m = measured[applied[-1]] if applied else (0.0, 60.0, 0.0)
        fresh, presents, missed = fresh + f * dt, presents + p * dt, missed + m * dt
        now += dt
        s.update(now, int(fresh), int(presents), int(missed), settled=True)
        if stop and not s.comparing and s.chosen is not None:
            break
    return now


def test_threads_first_then_divisors_in_alternating_slices():
    applied: list[Plan] = []
    grid = plans([1, 2], 60.0, gpu=False)
    measured = {  # (fresh/s, presents/s, missed/s) each plan gives
        Plan(1, 1): (20.0, 60.0, 0.0),
        Plan(2, 1): (25.0, 60.0, 0.0),
        Plan(1, 2): (28.0, 30.0, 0.0),
        Plan(2, 2): (30.0, 30.0, 0.0),
        Plan(1, 3): (19.0, 20.0, 0.0),
        Plan(2, 3): (20.0, 20.0, 0.0),
    }
    s = Scheduler(grid, applied.append, slice_s=0.5, rounds=3)
    s.update(0.0, 0, 0, 0, settled=False)  # not settled: nothing compared yet
    assert applied == []
    drive(s, measured, applied)
    # thread counts at every refresh, alternating, not one slice each at start-up
    assert applied[:6] == [Plan(1, 1), Plan(2, 1)] * 3
    # 25 new images at 60 presents: presenting less often is worth trying, at 2 threads
    assert applied[6:15] == [Plan(2, 1), Plan(2, 2), Plan(2, 3)] * 3
    assert s.chosen == Plan(2, 2) and applied[-1] == Plan(2, 2) and s.choices == 1
    assert s.summary()["chosen"] == {"threads": 2, "divisor": 2}


def test_new_images_on_nearly_every_refresh_never_try_fewer_presents():
    applied: list[Plan] = []
    measured = {
        p: (58.0 if p.threads == 1 else 50.0, 60.0 / p.divisor, 0.0)
        for p in plans([1, 2], 60.0, gpu=False)
    }
    s = Scheduler(plans([1, 2], 60.0, gpu=False), applied.append, slice_s=0.5)
    drive(s, measured, applied)
    assert s.chosen == Plan(1, 1) and all(p.divisor == 1 for p in applied)


def test_equal_images_prefer_more_presents_and_no_misses():
    applied: list[Plan] = []
    a, b, c = Plan(1, 1), Plan(1, 2), Plan(2, 1)
    # the GPU case: presenting every refresh costs nothing, so a and b give the same images
    measured = {a: (40.0, 60.0, 0.0), b: (40.0, 30.0, 0.0), c: (41.0, 55.0, 5.0)}
    s = Scheduler([a, b, c], applied.append, slice_s=0.5)
    drive(s, measured, applied)
    assert s.chosen == a  # c: as many images but misses presents; b: fewer presents
    assert b in applied  # (40 of 60 presents new: fewer presents were tried)


def test_it_compares_again_when_new_images_drift():
    applied: list[Plan] = []
    a, b = Plan(1, 1), Plan(1, 2)
    measured = {a: (20.0, 60.0, 0.0), b: (30.0, 30.0, 0.0)}
    s = Scheduler([a, b], applied.append, slice_s=0.5)
    now = drive(s, measured, applied)
    assert s.chosen == b and not s.comparing
    measured[b] = (10.0, 30.0, 0.0)  # a heavier model: far fewer images than when chosen
    measured[a] = (12.0, 60.0, 0.0)
    drive(s, measured, applied, now=now, seconds=now + DRIFT_S + 2.5, stop=False)
    assert s.comparing or s.choices == 2


def test_a_single_plan_is_applied_at_once():
    applied: list[Plan] = []
    s = Scheduler([Plan(4, 1)], applied.append)
    assert applied == [Plan(4, 1)] and s.chosen == Plan(4, 1) and not s.comparing


def test_counts_started_afresh_do_not_read_as_a_drift():
    """The figures may be started again between runs (a benchmark does): the slice starts
    again instead of reading a negative rate."""
    applied: list[Plan] = []
    a, b = Plan(1, 1), Plan(1, 2)
    s = Scheduler([a, b], applied.append, slice_s=0.5)
    now = drive(s, {a: (20.0, 60.0, 0.0), b: (30.0, 30.0, 0.0)}, applied)
    assert s.chosen == b
    for i in range(200):  # counts from zero again, at the chosen plan's own rate
        s.update(now + i * 0.05, int(i * 0.05 * 30), i * 3, 0, settled=True)
    assert not s.comparing and s.choices == 1


def test_more_new_images_than_chosen_is_no_reason_to_compare_again():
    applied: list[Plan] = []
    a, b = Plan(1, 1), Plan(1, 2)
    measured = {a: (30.0, 60.0, 0.0), b: (20.0, 30.0, 0.0)}
    s = Scheduler([a, b], applied.append, slice_s=0.5)
    now = drive(s, measured, applied)
    assert s.chosen == a
    measured[a] = (55.0, 60.0, 0.0)  # steady play beats the slices' figure by far
    drive(s, measured, applied, now=now, seconds=now + 3 * DRIFT_S, stop=False)
    assert not s.comparing and s.choices == 1


def late_after_choosing(missed_then: float, missed_later: float, seconds: float) -> Scheduler:
    """Two thread counts, the first chosen while missing `missed_then` presents a second; then
    `seconds` of it missing `missed_later`."""
    applied: list[Plan] = []
    a, b = Plan(1, 1), Plan(2, 1)
    measured = {a: (50.0, 60.0, missed_then), b: (40.0, 60.0, missed_then)}
    s = Scheduler([a, b], applied.append, slice_s=0.5)
    now = drive(s, measured, applied)
    assert s.chosen == a and not s.comparing
    measured[a] = (50.0, 60.0, missed_later)
    drive(s, measured, applied, now=now, seconds=now + seconds, stop=False)
    return s


def test_it_compares_again_when_presents_go_late():
    """The same new images, but one present in five late (a heavier scene's effects): the
    plan no longer fits the load, so the plans are compared again."""
    s = late_after_choosing(0.0, 12.0, LATE_S + 2.5)
    assert s.comparing or s.choices == 2


def test_late_presents_the_choice_already_had_are_no_reason_to_compare_again():
    s = late_after_choosing(9.0, 9.0, 4 * LATE_S)  # every plan misses 15 %
    assert not s.comparing and s.choices == 1
