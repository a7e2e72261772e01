"""The stage played over OSC: real UDP from a separate process into a headless run; what it
records, what it sends back, a fuzzer and hostile patterns that must not stop it; OSC's health."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from models.checkpoint import save_checkpoint
from models.dcgan import DCGANConfig, Generator
from models.seed import calibrate
from performer.core.control import Cue
from performer.inputs.osc.link import HEALTH_WINDOW, OscLink
from performer.inputs.osc.receiver import RESTART_BACKOFF
from performer.inputs.osc.space import ADDRESS_TABLE
from performer.outputs.record import read_events
from performer.show import load_show
from performer.stage import RunOptions, Stage

TINY = DCGANConfig(z_dim=16, widths=(32, 16, 8))  # 32 px

# The other process: stdlib only, so it starts fast. Sends hex datagrams at given times, and
# optionally a flood of random and mutated datagrams first.
SENDER = r"""
import json, random, socket, struct, sys, time
spec = json.loads(open(sys.argv[1]).read())
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
target = ("127.0.0.1", spec["port"])
t0 = time.perf_counter()
fuzz = spec.get("fuzz")
if fuzz:
    rng = random.Random(fuzz["seed"])
    templates = [bytes.fromhex(h) for h in fuzz["templates"]]
    def mutant():
        kind = rng.randrange(9)
        if kind == 0:
            return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
        t = bytearray(rng.choice(templates))
        if kind == 1:
            return bytes(t[: rng.randrange(len(t))])
        if kind == 2:
            for _ in range(rng.randrange(1, 4)):
                t[rng.randrange(len(t))] = rng.randrange(256)
            return bytes(t)
        if kind == 3:
            i = t.find(b",")
            if i >= 0 and i + 1 < len(t):
                t[i + 1] = ord(rng.choice("cSm[]?xib"))
            return bytes(t)
        if kind == 4:
            return bytes(t) + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
        if kind == 5:
            return bytes(t) + b"\x00" * 9000
        if kind == 6:
            size = rng.choice([len(t), len(t) + 7, -4, 1 << 30])
            tag = struct.pack(">Q", rng.randrange(1 << 64))
            return b"#bundle\x00" + tag + struct.pack(">i", size) + bytes(t)
        if kind == 7:
            i = t.find(b",f")
            if i >= 0:
                j = (i + 4 + 3) // 4 * 4
                t[j : j + 4] = struct.pack(">f", rng.choice([float("nan"), float("inf"), 1e38]))
            return bytes(t)
        addr = "/" + "/".join(rng.choice(["stage", "*", "sc?ne", "[a-z]", "{x,y}", "[!", "p"])
                              for _ in range(rng.randrange(1, 4)))
        a = addr.encode() + b"\x00"
        return a + b"\x00" * (-len(a) % 4) + b",f\x00\x00" + struct.pack(">f", rng.random())
    n, seconds = fuzz["count"], fuzz["seconds"]
    for i in range(n):
        while time.perf_counter() - t0 < i * seconds / n:
            pass
        try:
            s.sendto(mutant(), target)
        except OSError:
            pass
for step in spec["steps"]:
    while time.perf_counter() - t0 < step["at"]:
        time.sleep(0.001)
    for h in step["hex"]:
        s.sendto(bytes.fromhex(h), target)
print(time.perf_counter() - t0, flush=True)
"""


def msg(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def tiny_show(tmp_path: Path, osc: str = "") -> Path:
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "tiny.pt", "dcgan", TINY, {"G": calibrate(Generator(TINY))})
    show = tmp_path / "show.toml"
    show.write_text(f"""
[models.tiny]
checkpoint = "tiny.pt"
[output]
width = 64
height = 64
fps = 30
[shaders]
chain = []
[[scenes]]
name = "wander"
seed = 1
drift = {{ speed = 0.5, amplitude = 1.5 }}
[[scenes]]
name = "rest"
seed = 2
[osc]
port = 0
{osc}
""")
    return show


def send_from_another_process(tmp_path: Path, port: int, spec: dict) -> subprocess.Popen:
    path = tmp_path / "sender.json"
    path.write_text(json.dumps({"port": port, **spec}))
    return subprocess.Popen([sys.executable, "-c", SENDER, str(path)], stdout=subprocess.PIPE)


def frames_of(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            return out
        out.append(f.astype(np.float32))


@pytest.fixture
def listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    yield s
    s.close()


def test_a_scene_cue_over_udp_changes_the_recording_and_is_fed_back(tmp_path, listener):
    port = listener.getsockname()[1]
    show = tiny_show(tmp_path, f"feedback_port = {port}")
    out = tmp_path / "osc.mp4"
    stage = Stage(load_show(show), RunOptions(headless=True, record=out, rehearse=True))
    try:
        assert stage.osc is not None and stage.osc.address is not None
        cue = msg("/stage/scene", "rest", 0)
        sender = send_from_another_process(
            tmp_path, stage.osc.address[1], {"steps": [{"at": 0.6, "hex": [cue.hex()]}]}
        )
        stage.opts.seconds = 1.6
        stage.run()
        assert sender.wait(timeout=10) == 0
        hud = "\n".join(stage.hud(99.0) or [])
        assert f"osc 127.0.0.1:{stage.osc.address[1]}  1 msgs  dropped 0" in hud
        assert "/stage/scene 'rest' 0" in hud
        assert stage.controller.scene.name == "rest"
        assert len(stage.osc.latency) == 1 and stage.osc.latency[0] < 0.2
    finally:
        stage.close()
    (event,) = [e for e in read_events(out.with_suffix(".events.jsonl")) if e["kind"] == "cue"]
    assert event["action"] == "scene" and event["args"] == ["rest", 0] and event["source"] == "osc"
    frames = frames_of(out)
    k = round(event["t"] * 30)  # the frame that applied the cue (its image: one decode later)
    steps = [np.abs(a - b).mean() for a, b in zip(frames, frames[1:], strict=False)]
    before, after = steps[2 : k - 1], steps[k + 2 :]
    assert len(after) > 10 and np.median(before) > 1.0  # "wander" drifts
    assert np.median(after) < 0.2  # "rest" is still (bar the codec's key frames)
    cut = np.abs(frames[k - 1] - frames[-1]).mean()
    assert cut > 3 * np.median(before)  # a cut to another scene, not drift
    assert max(steps[k - 1 : k + 2]) == max(steps[2:])  # where the cue says
    got = []
    while True:
        try:
            packet = OscPacket(listener.recv(65535))  # a frame's messages: one bundle
            got += [(m.message.address, m.message.params) for m in packet.messages]
        except BlockingIOError:
            break
    assert ("/stage/scene", [0, "wander"]) in got and ("/stage/scene", [1, "rest"]) in got
    assert ("/stage/cue", [0]) in got and any(a == "/stage/fps" for a, _ in got)


def test_a_fuzzer_does_not_stop_the_show(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a fuzzed /stage/record 1 writes its take here
    show = tiny_show(tmp_path, "max_packet = 4096\nfeedback = false")
    stage = Stage(load_show(show), RunOptions(headless=True))
    try:
        port = stage.osc.address[1]
        templates = [
            msg(a.split("<")[0] + ("1" if "latent" in a else ""), 0.5).hex()
            for a, _, _ in ADDRESS_TABLE
        ]
        templates += [
            msg("/stage/param/grade.saturation", 1.5).hex(),
            msg("/stage/z", 1.0, 2.0).hex(),
        ]
        finale = [
            msg("/stage/record", 0),
            msg("/stage/blackout", 0, 0),
            msg("/stage/scene", "rest", 0),
        ]
        sender = send_from_another_process(
            tmp_path,
            port,
            {
                "fuzz": {"seed": 7, "count": 4000, "seconds": 1.0, "templates": templates},
                "steps": [{"at": 1.4, "hex": [m.hex() for m in finale]}],
            },
        )
        stage.opts.seconds = 2.0
        summary = stage.run()
        assert sender.wait(timeout=10) == 0
        assert summary["frames"] >= 40  # it kept rendering through the flood
        counts = stage.osc.stats()
        assert stage.osc.receiver.alive
        assert counts["datagrams"] >= 1000
        for kind in ("malformed", "unknown", "bad_args", "oversize"):
            assert counts[kind] > 0, counts
        assert stage.controller.scene.name == "rest"  # the valid cue after the storm
        stage.opts.seconds = 0.3
        assert stage.run()["frames"] >= 5
        assert stage.display.read_pixels().mean() > 10  # not blacked out, still drawing
    finally:
        stage.close()
        stage.close()


def test_a_cue_shows_in_the_very_next_frame(tmp_path):
    stage = Stage(load_show(tiny_show(tmp_path)), RunOptions(headless=True, offline=True))
    try:
        stage.opts.frames = 2
        stage.run()
        assert stage.display.read_pixels().mean() > 10
        stage.osc.dispatcher.feed(msg("/stage/blackout", 1, 0))  # as if just received
        stage.opts.frames = 1
        stage.run()
        assert stage.display.read_pixels().max() == 0
        stage.osc.dispatcher.feed(msg("/stage/blackout", 0, "0"))
        stage.run()
        assert stage.display.read_pixels().mean() > 10
    finally:
        stage.close()


def test_record_takes_start_and_stop_by_cue(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stage = Stage(load_show(tiny_show(tmp_path)), RunOptions(headless=True, offline=True))
    try:
        stage.apply(Cue("record", (1,), "osc"), 0.0)
        stage.opts.frames = 12
        stage.run()
        stage.apply(Cue("record", (1,), "osc"), 0.0)  # already recording: the same take
        stage.apply(Cue("record", (0,), "osc"), 0.0)
        stage.run()  # not recorded
    finally:
        stage.close()
    (take,) = (tmp_path / "out").glob("show-take-*.mp4")
    assert len(frames_of(take)) == 12


def test_a_busy_port_leaves_the_show_running_without_osc(tmp_path, caplog):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        show = (
            tiny_show(tmp_path).read_text().replace("port = 0", f"port = {taken.getsockname()[1]}")
        )
        (tmp_path / "show.toml").write_text(show)
        stage = Stage(
            load_show(tmp_path / "show.toml"),
            RunOptions(headless=True, offline=True, rehearse=True),
        )
        try:
            assert stage.osc.receiver is None
            health = stage.osc.health()
            assert health.state == "failed" and "not listening on 127.0.0.1:" in health.detail
            stage.opts.frames = 3
            assert stage.run()["frames"] == 3
            assert any("OFF" in line for line in stage.hud(9.0))
        finally:
            stage.close()
    assert "cannot listen on 127.0.0.1" in caplog.text


def test_hostile_patterns_over_udp_do_not_freeze_the_show(tmp_path):
    stage = Stage(load_show(tiny_show(tmp_path, "feedback = false")), RunOptions(headless=True))
    try:
        rng = random.Random(3)

        def hostile() -> bytes:  # a new one each time: nothing is answered from the cache
            tail = "".join(rng.choice("abcxyz") for _ in range(4))
            return rng.choice(
                [
                    msg("/stage/param/" + "*" * 20 + "z" + tail, 0.0),  # the one that froze it
                    msg("/stage/param/" + "*" * 24 + tail, 0.0),
                    msg(f"/stage/{'*' * 30}{tail}/{'*' * 30}", 0.0),
                    msg("/stage/param/" + "*a" * 14 + tail, 0.0),
                    msg("/stage/param/" + "*?" * 16 + tail, 0.0),
                    msg("/stage/param/{" + ",".join(["a*"] * 40) + "}" + tail, 0.0),
                    msg("/stage/" + "*p" * 30 + "/" + "*r" * 30 + tail, 0.0),  # refused
                ]
            )

        steps = [
            {"at": 0.2 + 0.02 * k, "hex": [hostile().hex() for _ in range(10)]} for k in range(60)
        ]
        steps.append({"at": 1.6, "hex": [msg("/stage/scene", "rest", 0).hex()]})
        presents: list[float] = []
        present = stage.display.present

        def timed_present():
            present()
            presents.append(time.perf_counter())

        stage.display.present = timed_present
        sender = send_from_another_process(tmp_path, stage.osc.address[1], {"steps": steps})
        stage.opts.seconds = 2.2
        summary = stage.run()
        assert sender.wait(timeout=10) == 0
        assert summary["frames"] >= 40  # it kept presenting (a freeze is seconds to forever)
        assert max(b - a for a, b in zip(presents, presents[1:], strict=False)) < 1.0
        counts = stage.osc.stats()
        assert counts["messages"] >= 590 and counts["too_complex"] > 0 and counts["unknown"] > 0
        assert stage.controller.scene.name == "rest"  # the valid cue after them
        assert stage.osc.receiver.alive
    finally:
        stage.close()


def open_link(tmp_path: Path, osc: str = "") -> OscLink:
    """An OscLink on its own: a show, and just enough of a controller for the address space."""
    show = load_show(tiny_show(tmp_path, "feedback = false\n" + osc))
    return OscLink(show, SimpleNamespace(show=show), {}, ["1"])


def test_health_is_degraded_by_recent_drops_naming_counters_and_senders(tmp_path):
    link = open_link(tmp_path, "rate = 100\nburst = 5")
    try:
        assert link.health(now=0.0).state == "ok"
        d = link.dispatcher
        d.feed(msg("/stage/nothing", 1), "10.0.0.7", now=1.0)
        d.feed(msg("/stage/param/" + "*a" * 40, 1), "10.0.0.7", now=1.0)
        for _ in range(20):
            d.feed(msg("/stage/beat"), "10.0.0.9", now=1.0)
        h = link.health(now=1.0)
        assert h.state == "degraded"
        assert h.detail.startswith(f"dropped in the last {HEALTH_WINDOW:g} s: ")
        assert "too_complex, rate_limited;" in h.detail  # the numbers: in figures
        assert "unknown" not in h.detail  # addresses the show does not answer: HUD only
        assert "from 10.0.0.7, 10.0.0.9;" in h.detail and "over osc.rate: 10.0.0.9" in h.detail
        assert h.figures["rate_limited"] == 15 and h.figures["limited_senders"] == 1
        assert h.figures["cues"] == 5 and h.figures["dropped"] == 17
        assert h.figures["unknown"] == 1 and h.figures["too_complex"] == 1
        later = link.health(now=1.0 + HEALTH_WINDOW + 0.1)  # quiet since: well again
        assert later.state == "ok" and later.figures["dropped"] == 17
        d.feed(msg("/stage/nothing", 1), "10.0.0.8", now=6.5)  # only unknown: still well
        assert link.health(now=6.5).state == "ok"
        d.feed(msg("/stage/cue/next", [[[[1.0]]]]), now=7.0)  # nested arrays: a trigger fires
        assert "/stage/cue/next [1 values]" in "\n".join(link.hud_lines(now=7.0))
    finally:
        link.close()


class Boom(BaseException):
    """What no `except Exception` catches: it kills the receiver thread."""


def test_health_fails_while_the_receiver_is_dead_and_counts_its_restarts(tmp_path):
    link = open_link(tmp_path)
    d, r = link.dispatcher, link.receiver
    feed = d.feed

    def fatal(dgram, sender="127.0.0.1", now=None):
        raise Boom("a bug")

    try:
        d.feed = fatal
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(msg("/stage/beat"), link.address)
            deadline = time.monotonic() + 2
            while r.alive and time.monotonic() < deadline:
                time.sleep(0.01)
            h = link.health()
            assert h.state == "failed"
            assert h.detail == "receiver thread died (Boom: a bug); restarting"
            d.feed = feed
            now = time.perf_counter()
            assert link.drain(now) == [] and not r.alive  # the back-off first
            link.drain(now + RESTART_BACKOFF)  # drain() revives it, once a frame
            assert r.alive
            h = link.health()
            assert h.state == "ok" and h.figures["restarts"] == 1
            s.sendto(msg("/stage/beat"), link.address)
            while d.counts["cues"] < 1 and time.monotonic() < deadline + 2:
                time.sleep(0.01)
            assert [c.action for c in link.drain()] == ["beat"]
    finally:
        link.close()
