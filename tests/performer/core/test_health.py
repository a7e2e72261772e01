"""The health model: what is logged (changes, once), the overall state, the corner mark, the
HUD lines, OSC feedback messages, and a report that raises."""

from __future__ import annotations

import logging

import pytest

from performer.core.health import DEGRADED, FAILED, OFF, OK, Health, PartHealth


@pytest.fixture
def clock():
    return {"now": 0.0}


def make(clock) -> Health:
    return Health(repeat_s=30.0, clock=lambda: clock["now"])


def logged(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "stage.health"]


def test_changes_are_logged_once_and_a_good_start_is_not_news(caplog, clock):
    caplog.set_level(logging.INFO, logger="stage.health")
    h = make(clock)
    assert not h.update("engine", PartHealth(OK))
    assert not h.update("engine", PartHealth(OK, "warming up"))  # an ok remark: not news
    assert h.update("camera", PartHealth(DEGRADED, "lost: unplugged; retrying"))
    assert not h.update("camera", PartHealth(DEGRADED, "lost: unplugged; retrying"))
    clock["now"] = 1.0
    assert not h.update("camera", PartHealth(DEGRADED, "lost: unplugged; retrying (2)"))
    clock["now"] = 40.0  # the same trouble in new words, a while later: said again
    assert h.update("camera", PartHealth(DEGRADED, "lost: unplugged; retrying (9)"))
    assert h.update("camera", PartHealth(FAILED, "given up"))  # a new state: at once
    assert h.update("camera", PartHealth(OK))
    assert logged(caplog) == [
        "health: camera degraded: lost: unplugged; retrying",
        "health: camera degraded: lost: unplugged; retrying (9)",
        "health: camera failed: given up",
        "health: camera ok",
    ]
    levels = [r.levelno for r in caplog.records if r.name == "stage.health"]
    assert levels == [logging.WARNING, logging.WARNING, logging.ERROR, logging.INFO]


def test_overall_mark_hud_and_snapshot(clock):
    h = make(clock)
    h.update("loop", PartHealth(OK, figures={"fps": 60.0}))
    h.update("osc", PartHealth(OFF))
    assert h.overall == OK and h.mark() is None
    assert h.hud_lines() == ["health OK: loop ok"]
    h.update("recorder", PartHealth(DEGRADED, "dropping frames", {"dropped": 3}))
    h.update("engine", PartHealth(FAILED, "CUDA error"))
    assert h.overall == FAILED
    assert h.mark() == "ENGINE RECORDER"  # worst first
    lines = h.hud_lines()
    assert lines[0].startswith("health FAILED: loop ok  recorder degraded  engine failed")
    assert lines[1:] == ["  engine: CUDA error", "  recorder: dropping frames"]
    snap = h.snapshot()
    assert snap["recorder"] == {"state": "degraded", "detail": "dropping frames", "dropped": 3}


def test_osc_messages_carry_state_then_figures(clock):
    h = make(clock)
    h.update("engine", PartHealth(DEGRADED, "slow", {"errors": 2, "since_fresh_s": 2.5}))
    h.update("disk", PartHealth(OK, figures={"free_mb": 100.0}))
    messages = h.osc_messages(["engine"])
    assert messages == [
        ("/stage/health/engine", ("degraded", "errors", 2.0, "since_fresh_s", 2.5)),
        ("/stage/health", ("degraded",)),
    ]
    assert len(h.osc_messages()) == 3  # every part, then the overall state


def test_a_report_that_raises_is_a_failed_part(clock):
    h = make(clock)

    def broken() -> PartHealth:
        raise ZeroDivisionError("a bug in a health report")

    h.poll({"face": broken, "loop": lambda: PartHealth(OK)})
    assert h.parts["face"].state == FAILED and "ZeroDivisionError" in h.parts["face"].detail
    assert h.parts["loop"].state == OK


def test_states_are_checked():
    with pytest.raises(ValueError, match="one of"):
        PartHealth("fine")
