"""The engine with a fake generator: latest request wins, errors are values and recover, a dead
worker is restarted (with a limit). (Thread counts are chosen by performer/core/pacer.py.)"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from models.checkpoint import Loaded
from performer.engine import worker as engine_module
from performer.engine.worker import Engine


class FakeGenerator(nn.Module):
    """z → a flat grey image of brightness z[0]; can be made slow, or to raise."""

    z_dim = 4

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.seen: list[float] = []
        self.fail = False
        self.gate: threading.Event | None = None  # when set: each decode waits on it

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.gate is not None:
            self.gate.wait(5.0)
        if self.fail:
            raise RuntimeError("out of memory (fake)")
        self.seen.append(float(z[0, 0]))
        return (z[:, :1, None, None] * self.scale).expand(-1, 3, 8, 8).clamp(-1, 1)


def make_engine(g: FakeGenerator | None = None) -> tuple[Engine, FakeGenerator]:
    g = g or FakeGenerator()
    loaded = Loaded(Path("fake.pt"), "dcgan", None, {"G": g})
    return Engine({"fake": loaded}, device="cpu", threads=1), g


def z(value: float) -> np.ndarray:
    return np.array([value, 0, 0, 0], np.float32)


def wait_until(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_latest_request_wins():
    engine, g = make_engine()
    g.gate = threading.Event()
    engine.start()
    try:
        engine.submit("fake", z(0.1), 1)
        assert wait_until(lambda: engine._request is None)  # the worker took request 1
        for stamp, value in ((2, 0.2), (3, 0.3), (4, 0.4)):  # while it is busy
            engine.submit("fake", z(value), stamp)
        g.gate.set()
        frame = engine.wait_for(4, time.perf_counter() + 5.0)
        assert frame is not None and frame.stamp == 4
        assert g.seen == pytest.approx([0.1, 0.4])  # 2 and 3 were replaced, never decoded
        assert frame.image.shape == (8, 8, 3) and abs(int(frame.image[0, 0, 0]) - 178) <= 1
    finally:
        engine.close()


def test_a_failing_generator_is_a_value_and_recovers(caplog):
    engine, g = make_engine()
    engine.start()
    caplog.set_level(logging.INFO, logger="stage.engine")
    try:
        engine.submit("fake", z(0.5), 1)
        good = engine.wait_for(1, time.perf_counter() + 5)
        assert good is not None and engine.health().state == "ok"
        g.fail = True
        for stamp in range(2, 7):
            engine.submit("fake", z(0.9), stamp)
            assert wait_until(lambda s=stamp: engine.errors >= s - 1)
        assert engine.latest() is good  # the last good frame stays
        report = engine.health()
        assert report.state == "failed" and "out of memory" in report.detail
        assert "last good frame" in report.detail and report.figures["errors"] == 5
        failures = [r for r in caplog.records if "failed" in r.getMessage()]
        assert len(failures) == 1  # logged once, not once a frame
        g.fail = False
        engine.submit("fake", z(-0.5), 7)
        frame = engine.wait_for(7, time.perf_counter() + 5)
        assert frame is not None and frame.stamp == 7
        assert engine.health().state == "ok" and engine.error is None
        assert any("works again" in r.getMessage() for r in caplog.records)
    finally:
        engine.close()


def test_a_dead_worker_is_restarted_and_counted(monkeypatch):
    engine, g = make_engine()
    monkeypatch.setattr(engine_module, "BACKOFF", (0.0, 0.0))
    engine._backoff = 0.0
    real = engine._next_request
    calls = {"n": 0}

    def dies_once():
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug in the worker")
        return real()

    monkeypatch.setattr(engine, "_next_request", dies_once)
    engine.start()
    try:
        assert wait_until(lambda: not engine._thread.is_alive())
        report = engine.health()
        assert report.state == "failed" and "a bug in the worker" in report.detail
        assert "test_engine.py" in (engine.crashed or "")  # where it happened
        engine.submit("fake", z(0.3), 1)  # the loop's next frame: supervise notices
        engine.submit("fake", z(0.3), 2)  # … and restarts it after the back-off
        assert engine.restarts == 1 and engine._thread.is_alive()
        frame = engine.wait_for(2, time.perf_counter() + 5)
        assert frame is not None and frame.stamp == 2
        assert engine.health().state == "degraded"  # recently restarted
    finally:
        engine.close()


def test_a_worker_that_keeps_dying_is_given_up(monkeypatch, caplog):
    engine, g = make_engine()
    monkeypatch.setattr(engine_module, "BACKOFF", (0.0, 0.0))
    monkeypatch.setattr(engine_module, "RESTARTS", 3)
    engine._backoff = 0.0

    def always_dies():
        raise RuntimeError("broken for good")

    monkeypatch.setattr(engine, "_next_request", always_dies)
    engine.start()
    try:
        for stamp in range(40):
            engine.submit("fake", z(0.1), stamp)
            wait_until(lambda: not engine._thread.is_alive(), 1.0)
            if engine.given_up:
                break
        assert engine.given_up and engine.restarts == 3
        assert engine.health().state == "failed" and "given up" in engine.health().detail
        assert any("given up" in r.getMessage() for r in caplog.records)
    finally:
        engine.close()


def test_infer_times_are_a_ring():
    engine, _ = make_engine()
    for i in range(700):
        engine.infer_times.append(float(i))
    assert len(engine.infer_times) == 600
