"""The show file's OSC side: the `[osc]` section, its `[[osc.map]]` addresses, and cue steps.

Read through `show.py`'s `_Reader` (passed in, so this module never imports `show`): every
problem names its key path and line, like the rest of the show file.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from performer.core.automation import parse_beats

CURVES = ("linear", "quadratic", "sqrt", "smooth", "exponential")
MAX_FADE_TEXT = 32  # a fade sent as text ("8b", "4 beats", "2.5s"); longer is not read at all
_PATTERN_CHARS = set("*?[]{}, #")


@dataclass(frozen=True)
class OscMapping:
    """A composer's own address, mapped onto one of the stage's (`target`).

    With `args`, a message at `address` fires the target with those arguments (on a trigger:
    no arguments, or the first rising through the middle of `range`). Without, the first argument
    is scaled from `range` through `curve` onto `to` (default: the target's own range)."""

    address: str
    target: str
    args: tuple = ()
    range: tuple[float, float] = (0.0, 1.0)
    to: tuple[float, float] | None = None
    curve: str = "linear"


@dataclass(frozen=True)
class OscSpec:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 9000  # 0: any free port (tests, benchmarks)
    network: bool = False  # must be true to listen on a non-loopback address
    allow: tuple[str, ...] = ()  # sender addresses let in; empty: anyone who reaches the port
    max_packet: int = 8192  # bytes; larger datagrams are dropped
    rate: float = 10_000.0  # datagrams a second per sender (token bucket); 0: no limit
    burst: int = 2_000  # datagrams a sender may send at once before `rate` applies
    feedback: bool = True
    feedback_host: str = "127.0.0.1"
    feedback_port: int = 9001
    face_features: bool = False  # /stage/face/<feature> every frame
    faceosc: bool = False  # the face also in FaceOSC's address scheme, every frame
    audio_features: bool = False  # /stage/audio/<feature> every frame, onsets, tempo
    maps: tuple[OscMapping, ...] = ()


@dataclass(frozen=True)
class CueStep:
    """One entry of `[cues] order`: a scene, and optionally its own fade and parameters."""

    scene: int
    fade: float | None = None  # seconds
    beats: float | None = None  # or a fade in beats at the current tempo
    params: Mapping[str, float] = field(default_factory=dict)
    flash: float | str | None = None  # a flash on the cue: its release, seconds or "1b"

    @property
    def fade_arg(self) -> float | str | None:
        """The fade as a cue argument: seconds, `"8b"`, or None for the scene's own."""
        return f"{self.beats:g}b" if self.beats is not None else self.fade


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _address(value: str) -> bool:
    return value.startswith("/") and not (_PATTERN_CHARS & set(value)) and "//" not in value


def read_osc(r: Any, data: Any) -> OscSpec:
    """The `[osc]` section."""
    p = "osc"
    osc = r.table(data, p)
    known = set(OscSpec.__dataclass_fields__) - {"maps"} | {"map"}
    r.unknown(osc, p, known)
    d = OscSpec()
    host = r.get(osc, p, "host", "string", d.host)
    network = r.get(osc, p, "network", "bool", d.network)
    if host is not None and not is_loopback(host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            r.problem(f"{p}.host", f"expected an IP address like 127.0.0.1, got {host!r}")
        else:
            if not network:
                r.problem(
                    f"{p}.host",
                    f"{host} listens beyond this machine: set osc.network = true to allow it"
                    " (and consider osc.allow)",
                )
    allow: list[str] = []
    raw_allow = osc.get("allow", [])
    if not isinstance(raw_allow, list):
        r.problem(f"{p}.allow", "expected an array of sender IP addresses")
        raw_allow = []
    for i, a in enumerate(raw_allow):
        try:
            allow.append(str(ipaddress.ip_address(a)))
        except ValueError:
            r.problem(f"{p}.allow[{i}]", f"expected an IP address, got {a!r}")
    maps = []
    raw_maps = osc.get("map", [])
    if not isinstance(raw_maps, list):
        r.problem(f"{p}.map", "expected [[osc.map]] tables")
        raw_maps = []
    seen: set[str] = set()
    for i, m in enumerate(raw_maps):
        mapping = _mapping(r, m, f"{p}.map[{i}]")
        if mapping is None:
            continue
        if mapping.address in seen:
            r.problem(f"{p}.map[{i}].address", f"{mapping.address} is mapped twice")
        seen.add(mapping.address)
        maps.append(mapping)
    return OscSpec(
        enabled=r.get(osc, p, "enabled", "bool", d.enabled),
        host=host if host is not None else d.host,
        port=r.get(osc, p, "port", "int", d.port, lo=0, hi=65535),
        network=network,
        allow=tuple(allow),
        max_packet=r.get(osc, p, "max_packet", "int", d.max_packet, lo=64, hi=65507),
        rate=r.get(osc, p, "rate", "number", d.rate, lo=0, hi=100_000),
        burst=r.get(osc, p, "burst", "int", d.burst, lo=1, hi=100_000),
        feedback=r.get(osc, p, "feedback", "bool", d.feedback),
        feedback_host=r.get(osc, p, "feedback_host", "string", d.feedback_host),
        feedback_port=r.get(osc, p, "feedback_port", "int", d.feedback_port, lo=1, hi=65535),
        face_features=r.get(osc, p, "face_features", "bool", d.face_features),
        faceosc=r.get(osc, p, "faceosc", "bool", d.faceosc),
        audio_features=r.get(osc, p, "audio_features", "bool", d.audio_features),
        maps=tuple(maps),
    )


def _pair(r: Any, m: Mapping[str, Any], p: str, key: str) -> tuple[float, float] | None:
    value = m.get(key)
    if value is None:
        return None
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in value
        )
        and value[0] != value[1]
    ):
        return (float(value[0]), float(value[1]))
    r.problem(f"{p}.{key}", f"expected [low, high], two different numbers, got {value!r}")
    return None


def _mapping(r: Any, m: Any, p: str) -> OscMapping | None:
    m = r.table(m, p)
    r.unknown(m, p, {"address", "target", "args", "range", "to", "curve"})
    address = r.get(m, p, "address", "string")
    target = r.get(m, p, "target", "string")
    ok = True
    if address is not None and not _address(address):
        r.problem(f"{p}.address", f"expected an OSC address like /live/fader1, got {address!r}")
        ok = False
    if address is not None and address.startswith("/stage/"):
        r.problem(f"{p}.address", "/stage/... is the stage's own address space; pick another")
        ok = False
    if target is not None and not (target.startswith("/stage/") and _address(target)):
        r.problem(f"{p}.target", f"expected a stage address (/stage/...), got {target!r}")
        ok = False
    args = m.get("args", [])
    if not isinstance(args, list) or not all(
        isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in args
    ):
        r.problem(f"{p}.args", f"expected an array of numbers and strings, got {args!r}")
        ok = False
    curve = r.get(m, p, "curve", "string", "linear", choices=CURVES)
    to = _pair(r, m, p, "to")
    if curve == "exponential" and to is not None and to[0] * to[1] <= 0:
        r.problem(f"{p}.to", "an exponential curve needs both ends above (or below) zero")
        ok = False
    if not ok or address is None or target is None:
        return None
    return OscMapping(
        address, target, tuple(args), _pair(r, m, p, "range") or (0.0, 1.0), to, curve or "linear"
    )


def read_cue_step(r: Any, ref: Mapping[str, Any], p: str, names: list[str]) -> CueStep | None:
    """`{ scene = "name" | index, fade = seconds | beats = n, params = {...}, flash = release }`
    (the release in seconds or as beats, `"1b"`)."""
    r.unknown(ref, p, {"scene", "fade", "beats", "params", "flash"})
    scene = ref.get("scene")
    if isinstance(scene, str) and scene in names:
        index = names.index(scene)
    elif isinstance(scene, int) and not isinstance(scene, bool) and 0 <= scene < len(names):
        index = scene
    else:
        r.problem(f"{p}.scene", f"no scene {scene!r}; scenes are: {', '.join(names)}")
        return None
    fade = r.get(ref, p, "fade", "number", None, lo=0, hi=3600)
    beats = r.get(ref, p, "beats", "number", None, lo=0, hi=1024)
    if fade is not None and beats is not None:
        r.problem(p, "give the fade as either `fade` (seconds) or `beats`, not both")
    params = r.params(ref.get("params", {}), f"{p}.params")
    flash = ref.get("flash")
    release = None if flash is None else fade_of(flash)
    if flash is not None and release is None:
        r.problem(f"{p}.flash", f"a flash's release is seconds or beats like '1b', got {flash!r}")
    return CueStep(index, fade, beats, params, release)


def fade_of(value: Any) -> float | str | None:
    """A fade argument as a cue carries it: seconds (float) or beats (`"8b"`); None if neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and math.isfinite(value):
        return min(max(float(value), 0.0), 3600.0)
    if isinstance(value, str) and len(value) <= MAX_FADE_TEXT:
        beats = parse_beats(value)
        if beats is not None:
            return f"{min(beats, 1024.0):g}b"
        text = value.strip().lower().removesuffix("s").strip()
        if _decimal(text):
            return min(float(text), 3600.0)
    return None


def _decimal(text: str) -> bool:
    """`[0-9]*\\.?[0-9]+` without a regex: digits, at most one dot, a digit last."""
    return (
        bool(text) and text[-1].isdigit() and text.count(".") <= 1 and not text.strip("0123456789.")
    )
