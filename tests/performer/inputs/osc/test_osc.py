"""OSC in: raw datagram bytes through the dispatcher (no socket) for every address, type
coercions, patterns, bundles and timetags, bad input; then the real socket's bind policy."""

from __future__ import annotations

import logging
import socket
import struct
import time

import pytest
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.parsing import osc_types

from performer.core.control import Cue
from performer.inputs.osc import receiver as osc
from performer.inputs.osc.receiver import (
    MAX_ARRAY_DEPTH,
    MAX_BUNDLE_DEPTH,
    MAX_BUNDLE_ELEMENTS,
    MAX_DATAGRAM_CUES,
    MAX_TYPE_TAGS,
    Dispatcher,
    Inbox,
    OscReceiver,
    RateLimitedLog,
    RateLimiter,
)
from performer.inputs.osc.space import ADDRESS_TABLE, AddressSpace, pattern_matches
from performer.render.shaders import ParamSpec
from performer.show.osc import OscMapping

SCENES = ["wander", "rest", "still water"]
PARAMS = {
    "grade.saturation": ParamSpec(1.0, 0.0, 3.0),
    "grade.contrast": ParamSpec(1.0, 0.0, 3.0),
    "present.master": ParamSpec(1.0, 0.0, 1.0),
}


def msg(address: str, *args, types: str | None = None) -> bytes:
    """A datagram; `types` forces OSC type tags (i, f, s, T, F, d, h) the way Max/Live send."""
    b = OscMessageBuilder(address)
    for i, a in enumerate(args):
        b.add_arg(a, types[i] if types else None)
    return b.build().dgram


def bundle(timetag: float, *elements: bytes) -> bytes:
    """A bundle as the spec lays it out; timetag in Unix seconds (0 = "immediately")."""
    out = b"#bundle\x00" + osc_types.write_date(timetag)
    for e in elements:
        out += struct.pack(">i", len(e)) + e
    return out


def make(maps=(), **kw) -> tuple[Dispatcher, Inbox]:
    space = AddressSpace(lambda: SCENES, lambda: 3, PARAMS, ["1", "2", "3", "smile"], maps)
    assert not space.problems, space.problems
    inbox = Inbox()
    return Dispatcher(space, inbox, **kw), inbox


def cues_for(dgram: bytes, **kw) -> list[Cue]:
    d, inbox = make(**kw)
    d.feed(dgram)
    return [c for c, _ in inbox.drain(time.perf_counter() + 10)[0]]


# --- every address, with what Max and Live actually send ---------------------------------------

CASES = [
    (msg("/stage/scene", "rest"), [Cue("scene", ("rest",), "osc")]),
    (msg("/stage/scene", 2), [Cue("scene", (2,), "osc")]),
    (msg("/stage/scene", 2.0), [Cue("scene", (2,), "osc")]),
    (msg("/stage/scene", "2"), [Cue("scene", (2,), "osc")]),  # Max symbol
    (msg("/stage/scene", "still water", 4), [Cue("scene", ("still water", 4.0), "osc")]),
    (msg("/stage/scene", 1, "8b"), [Cue("scene", (1, "8b"), "osc")]),
    (msg("/stage/scene", 1, "8 beats"), [Cue("scene", (1, "8b"), "osc")]),
    (msg("/stage/scene", 1, "2.5"), [Cue("scene", (1, 2.5), "osc")]),
    (msg("/stage/scene", 1, 2.5, types="hd"), [Cue("scene", (1, 2.5), "osc")]),  # int64, double
    (msg("/stage/cue/next"), [Cue("next", (), "osc")]),  # Max bang
    (msg("/stage/cue/next", 1.0), [Cue("next", (), "osc")]),  # a Live button pressed ...
    (msg("/stage/cue/next", 0.0), []),  # ... and released
    (msg("/stage/cue/prev", 1), [Cue("prev", (), "osc")]),
    (msg("/stage/cue/prev", True, types="T"), [Cue("prev", (), "osc")]),
    (msg("/stage/cue/go", 2), [Cue("cue", (2,), "osc")]),
    (msg("/stage/cue/go", 1.0), [Cue("cue", (1,), "osc")]),
    (msg("/stage/cue/go", "0"), [Cue("cue", (0,), "osc")]),
    (msg("/stage/latent/1", 0.5), [Cue("offset", ("1", 0.5), "osc")]),
    (msg("/stage/latent/smile", 2), [Cue("offset", ("smile", 2.0), "osc")]),
    (msg("/stage/latent/3", "-1.5"), [Cue("offset", ("3", -1.5), "osc")]),
    (msg("/stage/z", 0.5, 1, "-2"), [Cue("z", (0.5, 1.0, -2.0), "osc")]),
    (msg("/stage/param/grade.saturation", 2), [Cue("param", ("grade.saturation", 2.0), "osc")]),
    (msg("/stage/param/grade.saturation", "1.5"), [Cue("param", ("grade.saturation", 1.5), "osc")]),
    (
        msg("/stage/param/grade.contrast", 2.0, "4b"),
        [Cue("param", ("grade.contrast", 2.0, "4b"), "osc")],
    ),
    (msg("/stage/param/latent.speed", 3), [Cue("param", ("latent.speed", 3.0), "osc")]),
    (
        msg("/stage/param/present.master", False, types="F"),
        [Cue("param", ("present.master", 0.0), "osc")],
    ),  # noqa: E501
    (msg("/stage/tempo", 128), [Cue("tempo", (128.0,), "osc")]),
    (msg("/stage/tempo", "140.5"), [Cue("tempo", (140.5,), "osc")]),
    (msg("/stage/beat"), [Cue("beat", (), "osc")]),
    (msg("/stage/beat", 1.0), [Cue("beat", (), "osc")]),
    (msg("/stage/face", 1), [Cue("face", (1,), "osc")]),
    (msg("/stage/face", "off"), [Cue("face", (0,), "osc")]),
    (msg("/stage/face", 0.0), [Cue("face", (0,), "osc")]),
    (msg("/stage/face/calibrate"), [Cue("calibrate", (), "osc")]),
    (msg("/stage/blackout", 1), [Cue("blackout", (1,), "osc")]),
    (msg("/stage/blackout", 0, 3), [Cue("blackout", (0, 3.0), "osc")]),
    (msg("/stage/blackout", True, "2b", types="Ts"), [Cue("blackout", (1, "2b"), "osc")]),
    (msg("/stage/flash"), [Cue("flash", (), "osc")]),
    (msg("/stage/flash", 1.0), [Cue("flash", (), "osc")]),
    (msg("/stage/flash", 0.0), []),  # a button's release
    (msg("/stage/flash", 1, "2b"), [Cue("flash", ("2b",), "osc")]),
    (msg("/stage/flash", 1, 0.5), [Cue("flash", (0.5,), "osc")]),
    (msg("/stage/record", 1.0), [Cue("record", (1,), "osc")]),
    (msg("/stage/record", False, types="F"), [Cue("record", (0,), "osc")]),
]


@pytest.mark.parametrize("dgram,expected", CASES, ids=[f"{i}" for i in range(len(CASES))])
def test_every_address_and_coercion(dgram, expected):
    assert cues_for(dgram) == expected


def test_the_cases_cover_the_address_table():
    covered = {c[0].split(b"\0")[0].decode() for c in CASES}
    for address, _, _ in ADDRESS_TABLE:
        prefix = address.split("<")[0]
        assert any(a == address or (prefix != address and a.startswith(prefix)) for a in covered)


def test_values_are_clamped_and_counted():
    d, inbox = make()
    d.feed(msg("/stage/param/grade.saturation", 9.0))
    d.feed(msg("/stage/latent/1", -1e9))
    d.feed(msg("/stage/tempo", 5))
    d.feed(msg("/stage/z", 99, 0.5))
    cues = [c for c, _ in inbox.drain(time.perf_counter() + 1)[0]]
    assert cues[0].args == ("grade.saturation", 3.0)
    assert cues[1].args == ("1", -10.0)
    assert cues[2].args == (20.0,)
    assert cues[3].args == (10.0, 0.5)
    assert d.counts["clamped"] == 4 and d.dropped() == 0


# --- OSC 1.0 address patterns ------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern,address,hit",
    [
        ("/stage/cue/*", "/stage/cue/next", True),
        ("/stage/*", "/stage/cue/next", False),  # * stops at /
        ("/stage/cue/ne?t", "/stage/cue/next", True),
        ("/stage/cue/[mn]ext", "/stage/cue/next", True),
        ("/stage/cue/[!n]ext", "/stage/cue/next", False),
        ("/stage/cue/[a-z]ext", "/stage/cue/next", True),
        ("/stage/cue/{next,prev}", "/stage/cue/prev", True),
        ("/stage/param/grade.*", "/stage/param/grade.contrast", True),
        ("/stage/param/grade.*", "/stage/param/gradexcontrast", False),
    ],
)
def test_pattern_matching(pattern, address, hit):
    assert pattern_matches(pattern, address) is hit


def test_a_wildcard_fans_out_to_every_match():
    cues = cues_for(msg("/stage/param/grade.*", 2.5))
    assert sorted(c.args[0] for c in cues) == ["grade.contrast", "grade.saturation"]
    assert cues_for(msg("/stage/cue/{next,prev}")) == [
        Cue("next", (), "osc"),
        Cue("prev", (), "osc"),
    ]


# --- bad input: counted, logged at most once a second per address, dropped --------------------


def test_bad_input_is_counted_and_dropped(caplog):
    d, inbox = make(max_packet=512)
    bad = [
        b"",  # empty
        b"garbage\x00\x00",  # not OSC
        b"/stage/scene\x00\x00\x00\x00,s\x00\x00rest",  # unterminated string
        msg("/stage/tempo", float("nan")),
        msg("/stage/tempo", float("inf")),
        msg("/stage/tempo"),  # no argument
        msg("/stage/tempo", b"\x01\x02", types="b"),  # a blob
        msg("/stage/scene", "nowhere"),
        msg("/stage/scene", 17),
        msg("/stage/cue/go", -1),
        msg("/stage/scene", 1, "soon"),
        msg("/stage/nothing", 1),
        msg("/stage/cue/[oops", 1),
        b"/stage/tempo\x00\x00\x00\x00,c\x00\x00\x00\x00\x00\x00A",  # a type python-osc skips
        msg("/stage/z", *([0.5] * 200)),  # oversize (> 512 bytes)
        b"#bundle\x00" + b"\x00" * 7,  # truncated bundle
        # element sizes that send python-osc 1.10.2's bundle parser backwards forever, or past
        # the end: caught before it parses
        b"#bundle\x00" + b"\x00" * 7 + b"\x01" + struct.pack(">i", -4) + msg("/stage/beat"),
        b"#bundle\x00" + b"\x00" * 7 + b"\x01" + struct.pack(">i", 1 << 30) + msg("/stage/beat"),
    ]
    with caplog.at_level(logging.WARNING, "stage.osc"):
        for dgram in bad:
            d.feed(dgram)
    assert inbox.drain(time.perf_counter() + 1)[0] == []
    c = d.counts
    assert c["malformed"] == 7 and c["oversize"] == 1 and c["unknown"] == 1
    assert c["bad_args"] == 9
    assert d.dropped() == len(bad)
    text = caplog.text
    assert "/stage/tempo: expected a finite number, got nan" in text
    assert "no scene named 'nowhere'" in text and "no such address '/stage/nothing'" in text
    assert "unsupported OSC type tag(s) 'c'" in text


def test_a_flood_of_bad_messages_logs_once_a_second(caplog):
    clock = {"t": 0.0}
    d, _ = make()
    d.log = RateLimitedLog(logging.getLogger("stage.osc"), clock=lambda: clock["t"])
    with caplog.at_level(logging.WARNING, "stage.osc"):
        for i in range(3000):
            clock["t"] = i / 1000  # 3000 messages over 3 s
            d.feed(msg("/stage/tempo", float("nan")))
            d.feed(msg(f"/random/{i}", 1))  # a different unknown address each time
    assert d.counts["bad_args"] == 3000 and d.counts["unknown"] == 3000
    tempo_lines = [r for r in caplog.records if "/stage/tempo" in r.getMessage()]
    assert len(tempo_lines) == 3  # t = 0, 1, 2
    assert "more like it since" in tempo_lines[1].getMessage()
    assert len(caplog.records) <= 3 * 21  # ≤ 20 lines a second, then one summary
    assert "more warnings held back" in caplog.text


# --- bounds on the work one datagram may cause -------------------------------------------------


def test_the_pattern_that_froze_the_show_is_answered():
    d, inbox = make()
    hostile = msg("/stage/param/" + "*" * 20 + "z", 1.0)  # 40 bytes; exponential for a regex
    for _ in range(100):
        d.feed(hostile)
    assert d.counts["unknown"] == 100 and d.space.steps < 2000  # matched once, then remembered
    d.feed(msg("/stage/param/" + "*a" * 40, 1.0))  # 40 wildcards: refused
    d.feed(msg("/stage/" + "*" * 30 + "/" + "*" * 30, 1.0))  # '**' is '*': /stage/*/*
    assert d.counts["too_complex"] == 1
    actions = {c.action for c, _ in inbox.drain(time.perf_counter() + 1)[0]}
    assert actions == {"next", "prev", "cue", "calibrate", "param", "offset"}


def test_messages_over_a_bound_are_refused_as_too_complex(caplog):
    d, inbox = make(max_packet=65507)
    many = msg("/stage/z", *([0.5] * (MAX_TYPE_TAGS + 1)))
    deep = msg("/stage/cue/next", [[[[[1.0]]]]])  # arrays nested 5 deep
    assert MAX_ARRAY_DEPTH == 4
    beat = msg("/stage/beat")
    wide = bundle(0, *([beat] * (MAX_BUNDLE_ELEMENTS + 1)))
    nested = beat
    for _ in range(MAX_BUNDLE_DEPTH + 2):
        nested = bundle(0, nested)
    with caplog.at_level(logging.WARNING, "stage.osc"):
        for i, dgram in enumerate((many, deep, wide, nested)):
            d.feed(dgram, f"10.0.0.{i}")  # one log line per sender and kind a second
    assert d.counts["too_complex"] == 4 and d.dropped() == 4
    assert inbox.drain(time.perf_counter() + 1)[0] == []  # not one beat of the wide bundle
    assert "arguments (at most" in caplog.text and "arrays nested 5 deep" in caplog.text
    assert f"more than {MAX_BUNDLE_ELEMENTS} elements" in caplog.text
    assert f"nested more than {MAX_BUNDLE_DEPTH} deep" in caplog.text


def test_a_wildcard_fan_out_is_capped_per_datagram():
    d, inbox = make()
    fan = msg("/stage/param/*", 0.5)  # every shader and engine parameter
    n = len(d.space.match("/stage/param/*"))
    assert n * 200 > MAX_DATAGRAM_CUES
    d.feed(bundle(0, *([fan] * 200)))  # n x 200 cues asked for
    assert MAX_DATAGRAM_CUES <= d.counts["cues"] < MAX_DATAGRAM_CUES + n
    assert d.counts["too_complex"] == 200 - d.counts["cues"] // n


def test_what_max_and_live_send_is_never_refused():
    d, inbox = make(max_packet=65507)
    sends = [
        msg("/stage/z", *([0.25] * 512)),  # a whole latent
        msg("/stage/z", [0.25] * 512),  # ... as one array
        bundle(0, *(msg("/stage/latent/1", i / 64) for i in range(64))),  # a bundle of 64
        bundle(time.time() + 1, bundle(time.time() + 2, msg("/stage/beat"))),
        msg("/stage/param/grade.*", 1.5, "4b"),
        msg("/stage/cue/{next,prev}"),
        msg("/stage/latent/[1-3]", 0.5),
        msg("/stage/scene", 1, "8 beats"),
    ]
    for dgram in sends:
        d.feed(dgram)
    assert d.dropped() == 0, d.counts
    assert d.counts["messages"] == 2 + 64 + 1 + 4


# --- the per-sender rate limit ------------------------------------------------------------------


def test_each_sender_is_held_to_its_rate():
    d, inbox = make(rate=100, burst=10)
    beat = msg("/stage/beat")
    for _ in range(15):
        d.feed(beat, "10.0.0.1", now=0.0)
    d.feed(beat, "10.0.0.2", now=0.0)  # another sender: its own bucket
    assert d.counts["rate_limited"] == 5 and d.counts["cues"] == 11
    for i in range(50):  # 1 s at 50 a second: all through
        d.feed(beat, "10.0.0.1", now=0.02 * (i + 1))
    assert d.counts["rate_limited"] == 5
    assert d.limiter.senders(since=0.0) == ["10.0.0.1"]
    assert d.limiter.senders(since=0.5) == []
    assert d.offenders == {"10.0.0.1": 0.0}


def test_a_rate_of_zero_is_no_limit_and_buckets_are_bounded():
    d, _ = make()  # a bare Dispatcher: no limit (the show's default is in OscSpec)
    for _ in range(5000):
        d.feed(msg("/stage/beat"), now=0.0)
    assert d.counts["rate_limited"] == 0
    limiter = RateLimiter(rate=10, burst=2, max_senders=50)
    for i in range(1000):  # a spoofed flood of senders
        limiter.allow(f"10.0.{i // 250}.{i % 250}", now=i * 0.001)
    assert len(limiter._buckets) <= 50


# --- the inbox: bundles, timetags, coalescing ---------------------------------------------------


def test_bundle_timetag_schedules_without_delaying_what_follows():
    now, wall = {"t": 100.0}, {"t": 5_000.0}
    d, inbox = make()
    d.clock, d.wall = (lambda: now["t"]), (lambda: wall["t"])
    d.feed(bundle(wall["t"] + 0.3, msg("/stage/scene", "rest"), msg("/stage/beat")))
    d.feed(msg("/stage/cue/next"))  # right behind it
    d.feed(bundle(0, msg("/stage/face", 1)))  # timetag "immediately"
    d.feed(bundle(wall["t"] - 5, msg("/stage/record", 1)))  # late: now
    assert [c.action for c, _ in inbox.drain(100.0)[0]] == ["next", "face", "record"]
    assert inbox.drain(100.29)[0] == []
    assert [c.action for c, _ in inbox.drain(100.301)[0]] == ["scene", "beat"]
    assert d.counts["scheduled"] == 2


def test_nested_bundles_and_far_future_timetags():
    d, inbox = make()
    d.wall = lambda: 1000.0
    inner = bundle(0, msg("/stage/cue/prev"))  # immediately: its enclosing bundle's time
    d.feed(bundle(1000.5, inner), now=10.0)
    d.feed(bundle(1000.0 + 3600, msg("/stage/cue/next")), now=10.0)
    assert d.counts["too_far"] == 1
    assert inbox.drain(10.4)[0] == []
    assert [c.action for c, _ in inbox.drain(10.5)[0]] == ["prev"]


def test_a_nested_bundle_timetagged_before_its_parent_is_refused_whole(caplog):
    d, inbox = make()
    d.wall = lambda: 1000.0
    early = bundle(1000.5, msg("/stage/cue/prev"))
    with caplog.at_level(logging.WARNING, "stage.osc"):
        d.feed(bundle(1001.0, msg("/stage/beat"), early), now=10.0)
    assert d.counts["malformed"] == 1 and d.counts["messages"] == 0  # not even the beat
    assert "before the bundle around it" in caplog.text
    d.feed(bundle(1001.0, bundle(1001.0, msg("/stage/beat")), bundle(0, msg("/stage/cue/next"))))
    d.feed(bundle(0, bundle(1000.2, msg("/stage/cue/prev"))))  # "immediately", then a time
    beat = msg("/stage/beat")
    zero = b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", len(beat)) + beat  # a sloppy 0
    d.feed(bundle(1001.0, zero))  # taken as "immediately": its parent's time
    assert d.counts["malformed"] == 1 and d.counts["scheduled"] == 4


def test_continuous_values_coalesce_within_a_frame_but_order_holds():
    d, inbox = make()
    for v in (0.5, 1.0, 1.5):
        d.feed(msg("/stage/param/grade.saturation", v))
    d.feed(msg("/stage/scene", 1))
    d.feed(msg("/stage/param/grade.saturation", 2.0))
    d.feed(msg("/stage/param/grade.contrast", 2.0))
    out, coalesced = inbox.drain(time.perf_counter() + 1)
    assert [c.args for c, _ in out] == [
        (1,),
        ("grade.saturation", 2.0),
        ("grade.contrast", 2.0),
    ]
    assert coalesced == 3


def test_user_mappings_scale_curve_and_trigger():
    maps = [
        OscMapping("/live/sat", "/stage/param/grade.saturation"),  # 0..1 → its range 0..3
        OscMapping("/live/dir", "/stage/latent/2", range=(0, 127), to=(-2, 2)),  # a MIDI CC
        OscMapping("/live/tempo", "/stage/tempo", to=(60, 240), curve="exponential"),
        OscMapping("/live/knob", "/stage/scene"),  # 0..1 → scene 0..2, on a new index only
        OscMapping("/live/go", "/stage/cue/next"),  # a button: rising edge
        OscMapping("/max/ember", "/stage/scene", args=("still water", "8b")),
        OscMapping("/live/black", "/stage/blackout"),  # a toggle: on change
        OscMapping("/live/kick", "/stage/flash"),  # a pad: a flash on each press
        OscMapping("/live/long", "/stage/flash", args=("1", "2b")),  # … with its own release
    ]
    d, inbox = make(maps)

    def send(address, *args):
        d.feed(msg(address, *args))
        return [c for c, _ in inbox.drain(time.perf_counter() + 1)[0]]

    assert send("/live/sat", 0.5) == [Cue("param", ("grade.saturation", 1.5), "osc")]
    assert send("/live/sat", 7) == [Cue("param", ("grade.saturation", 3.0), "osc")]  # clamps u
    assert send("/live/dir", 127) == [Cue("offset", ("2", 2.0), "osc")]
    assert send("/live/tempo", 0.5)[0].args[0] == pytest.approx(120.0)
    assert send("/live/knob", 0.0) == [Cue("scene", (0,), "osc")]
    assert send("/live/knob", 0.1) == []  # still scene 0
    assert send("/live/knob", 0.6) == [Cue("scene", (1,), "osc")]
    assert send("/live/go", 1.0) == [Cue("next", (), "osc")]
    assert send("/live/go", 1.0) == []  # held
    assert send("/live/go", 0.0) == []  # released
    assert send("/live/go", 1) == [Cue("next", (), "osc")]
    assert send("/max/ember") == [Cue("scene", ("still water", "8b"), "osc")]  # a bang
    assert send("/live/black", 1.0) == [Cue("blackout", (1,), "osc")]
    assert send("/live/black", 0.9) == []
    assert send("/live/black", 0) == [Cue("blackout", (0,), "osc")]
    assert send("/live/kick", 1.0) == [Cue("flash", (), "osc")]
    assert send("/live/kick", 0.0) == []  # the pad's release
    assert send("/live/kick", 0.8) == [Cue("flash", (), "osc")]
    assert send("/live/long") == [Cue("flash", ("2b",), "osc")]
    assert d.counts["unknown"] == 0


def test_mappings_to_nothing_are_reported_not_fatal():
    space = AddressSpace(
        lambda: SCENES, lambda: 3, PARAMS, ["1"], [OscMapping("/x", "/stage/param/nope.nope")]
    )
    assert space.problems == ["osc.map[0] (/x): no stage address /stage/param/nope.nope"]
    assert space.match("/x") == []


# --- the socket ---------------------------------------------------------------------------------


def test_binding_beyond_loopback_needs_the_explicit_setting():
    d, _ = make()
    with pytest.raises(OSError, match="osc.network = true"):
        OscReceiver(d, "0.0.0.0", 0)
    r = OscReceiver(d, "0.0.0.0", 0, network=True)
    try:
        assert r.address[0] == "0.0.0.0" and r.alive
    finally:
        r.close()
        r.close()
    assert not r.alive


def test_senders_outside_the_allow_list_are_ignored():
    d, inbox = make()
    r = OscReceiver(d, "127.0.0.1", 0, allow=["127.0.0.2"])
    try:
        for source in ("127.0.0.1", "127.0.0.2"):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind((source, 0))
                s.sendto(msg("/stage/scene", source), r.address)
        deadline = time.monotonic() + 2
        while d.counts["denied"] + d.counts["bad_args"] < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        r.close()
    assert d.counts["denied"] == 1  # from 127.0.0.1
    assert d.counts["bad_args"] == 1  # from 127.0.0.2: let in (no scene of that name)
    assert inbox.drain(time.perf_counter())[0] == []


class Boom(BaseException):
    """What no `except Exception` catches: it kills the receiver thread."""


def test_a_dead_receiver_thread_is_restarted_with_back_off(monkeypatch):
    d, inbox = make()
    r = OscReceiver(d, "127.0.0.1", 0)
    feed = d.feed

    def fatal(dgram, sender="127.0.0.1", now=None):
        if dgram.startswith(b"/boom"):
            raise Boom("a bug")
        feed(dgram, sender, now)

    d.feed = fatal
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(msg("/boom"), r.address)
            deadline = time.monotonic() + 2
            while r.alive and time.monotonic() < deadline:
                time.sleep(0.01)
            assert not r.alive and r.death == "Boom: a bug"
            assert r.revive(now=100.0) is False  # found dead: the back-off starts
            assert r.revive(now=100.0 + osc.RESTART_BACKOFF / 2) is False
            assert r.revive(now=100.0 + osc.RESTART_BACKOFF) is True and r.restarts == 1
            s.sendto(msg("/stage/cue/next"), r.address)
            while d.counts["cues"] < 1 and time.monotonic() < deadline + 2:
                time.sleep(0.01)
            assert [c.action for c, _ in inbox.drain(time.perf_counter())[0]] == ["next"]
            for k in range(2, osc.RESTART_LIMIT + 2):  # the next deaths wait longer, then stop
                s.sendto(msg("/boom"), r.address)
                while r.alive and time.monotonic() < deadline + 2 * k:
                    time.sleep(0.01)
                wait = osc.RESTART_BACKOFF * 2 ** (k - 1)
                r.revive(now=200.0 * k)
                assert r.revive(now=200.0 * k + wait * 0.9) is False
                assert r.revive(now=200.0 * k + wait) is (k <= osc.RESTART_LIMIT)
        assert r.restarts == osc.RESTART_LIMIT and r.gave_up
    finally:
        r.close()


def test_a_bundle_300_ms_ahead_over_real_udp():
    d, inbox = make()
    r = OscReceiver(d, "127.0.0.1", 0)
    got: dict[str, float] = {}
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            sent = time.perf_counter()
            s.sendto(bundle(time.time() + 0.3, msg("/stage/scene", "rest")), r.address)
            s.sendto(msg("/stage/cue/next"), r.address)
        while len(got) < 2 and time.perf_counter() - sent < 2:
            for cue, _ in inbox.drain(time.perf_counter())[0]:
                got[cue.action] = time.perf_counter() - sent
            time.sleep(0.002)  # a 500 fps "frame loop"
    finally:
        r.close()
    assert got["next"] < 0.1  # not held behind the bundle
    assert 0.28 <= got["scene"] <= 0.4, got


def test_timetags_are_ntp_seconds_since_1900():
    """A hand-made bundle (as Max's or Live's OSC objects write it) one second ahead."""
    tag = struct.pack(">Q", int((time.time() + 2_208_988_800 + 1.0) * 2**32))
    beat = msg("/stage/beat")
    d, inbox = make()
    d.feed(b"#bundle\x00" + tag + struct.pack(">i", len(beat)) + beat, now=50.0)
    assert d.counts["scheduled"] == 1
    assert inbox.drain(50.9)[0] == []
    assert [c.action for c, _ in inbox.drain(51.1)[0]] == ["beat"]
