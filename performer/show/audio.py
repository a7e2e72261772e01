"""The show file's audio side: the `[audio]` section (where the band's sound comes from, how it
is analysed), its `[[audio.map]]` entries (a feature of the sound onto a stage address: the
default set) and named sets `[[audio.mappings.NAME]]`, which scenes choose (`audio = "NAME"`,
or `false` for none; a scene that names none gets `[audio] mapping`, else `[[audio.map]]`).

```toml
[audio]
source = "band.wav"      # a WAV file (played as if live), or a sound card: name part or index
channel = 0              # 1..N one input channel; 0: the mix of all
bands = [20, 250, 2000, 8000]   # edges of low, mid, high (Hz)
tempo = "follow"         # "follow": the tracked tempo sets the show's; "off" (default)
attack = 0.01            # smoothing, seconds rising / falling
release = 0.15
mapping = "verse"        # the set of scenes that name none (default: the [[audio.map]] entries)

[audio.smoothing]        # a feature's own [attack, release] (level db low mid high centroid...)
low = [0.005, 0.4]

[[audio.map]]
feature = "level"        # level db low mid high centroid centroid_hz flux tempo confidence phase
target = "/stage/param/grade.saturation"
range = [0, 1]           # the feature's values mapped (default: its own range)
to = [0.5, 2.0]          # onto these (default: the target's range)
curve = "smooth"
gain = 2.0               # the feature times this, before `range`
dead_zone = 0.05         # values this near the range's bottom read as the bottom

[[audio.map]]
feature = "beat"         # "onset" or "beat": fires a trigger; `beats = 4` every 4th beat
target = "/stage/cue/next"
beats = 4

[[audio.map]]
feature = "onset"        # a flash: each onset takes the parameter to the top of `to` over
target = "/stage/param/grade.saturation"   # `attack` seconds, then back to its bottom over
to = [1.0, 3.0]          # `release` (an onset during it starts it again)
envelope = [0.05, 0.4]   # [attack, release], seconds (0..10); onset/beat onto a parameter only

[[audio.mappings.verse]]  # a named set: same keys as [[audio.map]]
feature = "low"
target = "/stage/param/grade.saturation"

[[scenes]]
name = "chorus"
audio = "verse"          # this scene's set; false: none
```

Read through `show.py`'s `_Reader` (passed in as `r`): every problem names its key path and
line, like the rest of the show file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from performer.inputs.audio.features import FEATURES, SMOOTHED, TRIGGERS, unit_range
from performer.show.face import read_scene_set
from performer.show.osc import CURVES, _address, _pair

TEMPO_MODES = ("off", "follow")
SOUND_FILES = (".wav",)
OTHER_SOUND_FILES = (".mp3", ".flac", ".ogg", ".aif", ".aiff", ".m4a", ".opus")  # not read
PARAM = "/stage/param/"  # the targets an envelope can move
OFF = ""  # a scene's set name that means "the sound steers nothing here" (as the face's)
_NAME = re.compile(r"[A-Za-z_][\w\-]*")


@dataclass(frozen=True)
class AudioMap:
    """One feature of the sound onto a stage address (see the module's docstring)."""

    feature: str
    target: str
    range: tuple[float, float] | None = None  # None: the feature's own range
    to: tuple[float, float] | None = None
    curve: str = "linear"
    beats: int = 1  # "beat": fire every N beats
    gain: float = 1.0  # the feature times this, before `range`
    dead_zone: float = 0.0  # values this near the range's bottom read as the bottom
    envelope: tuple[float, float] | None = None  # onset/beat onto a param: [attack, release] s


@dataclass(frozen=True)
class AudioSpec:
    enabled: bool = True
    file: Path | None = None  # a sound file played as if live, or ...
    device: int | str | None = None  # ... a sound card (index, name part; None: the default)
    channel: int = 0  # 1..N; 0: the mix
    bands: tuple[float, ...] = (20.0, 250.0, 2000.0, 8000.0)
    tempo: str = "off"
    attack: float = 0.01
    release: float = 0.15
    loop: bool = False  # a file starts again at its end
    maps: tuple[AudioMap, ...] = ()  # [[audio.map]]: the default set unless `mapping` names one
    mapping: str | None = None  # the set of scenes that name none
    mappings: Mapping[str, tuple[AudioMap, ...]] = field(default_factory=dict)
    smoothing: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # own pairs

    def set_for(self, name: str | None) -> tuple[AudioMap, ...]:
        """A scene's set: `name` (None: the default set; OFF: none)."""
        if name is None:
            return self.mappings.get(self.mapping, ()) if self.mapping else self.maps
        return self.mappings.get(name, ())


def read_scene_audio(r: Any, sc: Mapping[str, Any], path: str) -> str | None:
    """A scene's `audio` key: a mapping set's name, or `false` for none; absent: the default."""
    return read_scene_set(r, sc, path, "audio", "an audio mapping set")


def read_audio(
    r: Any,
    data: Any,
    base: Path = Path("."),
    scene_sets: Sequence[tuple[int, str | None]] = (),
) -> AudioSpec | None:
    """The `[audio]` section; None when the show has none. A file is relative to `base`.
    `scene_sets`: each scene's index and `audio` value, to check the set names."""
    if data is None:
        for i, name in scene_sets:
            if name:
                r.problem(f"scenes[{i}].audio", "the show has no [audio] section")
        return None
    p = "audio"
    a = r.table(data, p)
    r.unknown(
        a, p, set(AudioSpec.__dataclass_fields__) - {"maps", "file", "device"} | {"map", "source"}
    )
    d = AudioSpec()
    file, device = None, None
    source = a.get("source")
    if isinstance(source, bool) or not isinstance(source, (int, str, type(None))):
        r.problem(f"{p}.source", f"expected a sound file, a device name or index, got {source!r}")
    elif isinstance(source, int):
        if source < 0:
            r.problem(f"{p}.source", f"expected a device index 0 or above, got {source}")
        device = source
    elif isinstance(source, str) and Path(source).suffix.lower() in SOUND_FILES:
        file = (base / source).resolve()
        if not file.is_file():
            r.problem(f"{p}.source", f"no sound file {file}")
    elif isinstance(source, str) and Path(source).suffix.lower() in OTHER_SOUND_FILES:
        r.problem(f"{p}.source", f"sound files are WAV (.wav); got {source!r}")
    elif source:
        device = source
    bands = a.get("bands", list(d.bands))
    if not (
        isinstance(bands, list)
        and len(bands) == 4
        and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bands)
        and all(0 < x < y for x, y in pairwise(bands))
        and bands[-1] <= 24_000
    ):
        r.problem(f"{p}.bands", f"expected four rising edges in Hz (≤ 24000), got {bands!r}")
        bands = list(d.bands)
    maps = []
    raw = a.get("map", [])
    if not isinstance(raw, list):
        r.problem(f"{p}.map", "expected [[audio.map]] tables")
        raw = []
    for i, m in enumerate(raw):
        mapping = _mapping(r, m, f"{p}.map[{i}]")
        if mapping is not None:
            maps.append(mapping)
    sets = _mapping_sets(r, a.get("mappings", {}))
    default = r.get(a, p, "mapping", "string", None)
    if default is not None and default not in sets:
        r.problem(f"{p}.mapping", _no_set(default, sets))
        default = None
    for i, name in scene_sets:
        if name and name not in sets:
            r.problem(f"scenes[{i}].audio", _no_set(name, sets))
    return AudioSpec(
        enabled=r.get(a, p, "enabled", "bool", d.enabled),
        file=file,
        device=device,
        channel=r.get(a, p, "channel", "int", d.channel, lo=0, hi=256),
        bands=tuple(float(b) for b in bands),
        tempo=r.get(a, p, "tempo", "string", d.tempo, choices=TEMPO_MODES),
        attack=r.get(a, p, "attack", "number", d.attack, lo=0, hi=10),
        release=r.get(a, p, "release", "number", d.release, lo=0, hi=10),
        loop=r.get(a, p, "loop", "bool", d.loop),
        maps=tuple(maps),
        mapping=default,
        mappings=sets,
        smoothing=_smoothing(r, a.get("smoothing", {})),
    )


def _no_set(name: str, sets: Mapping[str, Any]) -> str:
    have = ", ".join(sets) if sets else "none ([[audio.mappings.NAME]] tables)"
    return f"no audio mapping set {name!r}; the show has: {have}"


def _mapping_sets(r: Any, data: Any) -> dict[str, tuple[AudioMap, ...]]:
    """`[[audio.mappings.NAME]]`: named sets of mappings."""
    sets: dict[str, tuple[AudioMap, ...]] = {}
    for name, rows in r.table(data, "audio.mappings").items():
        path = f"audio.mappings.{name}"
        if not _NAME.fullmatch(name):
            r.problem(path, "a mapping set's name must be a plain word")
            continue
        if not isinstance(rows, list):
            r.problem(path, f"expected [[{path}]] tables, got {type(rows).__name__}")
            continue
        maps = [_mapping(r, row, f"{path}[{i}]") for i, row in enumerate(rows)]
        sets[name] = tuple(m for m in maps if m is not None)
    return sets


def _smoothing(r: Any, data: Any) -> dict[str, tuple[float, float]]:
    """`[audio.smoothing]`: a feature's own [attack, release] in seconds."""
    p = "audio.smoothing"
    t = r.table(data, p)
    r.unknown(t, p, set(SMOOTHED))
    out = {}
    for name, pair in t.items():
        if name not in SMOOTHED:
            continue
        if (
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair)
            and all(0 <= v <= 10 for v in pair)
        ):
            out[name] = (float(pair[0]), float(pair[1]))
        else:
            r.problem(f"{p}.{name}", f"expected [attack, release] in seconds (0..10), got {pair!r}")
    return out


def _mapping(r: Any, m: Any, p: str) -> AudioMap | None:
    m = r.table(m, p)
    keys = {"feature", "target", "range", "to", "curve", "beats", "gain", "dead_zone", "envelope"}
    r.unknown(m, p, keys)
    feature = r.get(m, p, "feature", "string", choices=FEATURES + TRIGGERS)
    target = r.get(m, p, "target", "string")
    ok = feature is not None and target is not None
    if target is not None and not (target.startswith("/stage/") and _address(target)):
        r.problem(f"{p}.target", f"expected a stage address (/stage/...), got {target!r}")
        ok = False
    curve = r.get(m, p, "curve", "string", "linear", choices=CURVES)
    to = _pair(r, m, p, "to")
    if curve == "exponential" and to is not None and to[0] * to[1] <= 0:
        r.problem(f"{p}.to", "an exponential curve needs both ends above (or below) zero")
        ok = False
    beats = r.get(m, p, "beats", "int", 1, lo=1, hi=1024)
    if "beats" in m and feature != "beat":
        r.problem(f"{p}.beats", 'only a feature = "beat" entry counts beats')
        ok = False
    gain = r.get(m, p, "gain", "number", 1.0, lo=-1000, hi=1000)
    dead = r.get(m, p, "dead_zone", "number", 0.0, lo=0, hi=1e6)
    for key in ("gain", "dead_zone"):
        if key in m and feature in TRIGGERS:
            r.problem(f"{p}.{key}", f'a feature = "{feature}" entry fires; it has no {key}')
            ok = False
    range_ = _pair(r, m, p, "range")
    if feature in FEATURES and dead:
        lo, hi = range_ or unit_range(feature)
        if dead >= abs(hi - lo):
            r.problem(f"{p}.dead_zone", f"expected less than the range's span {abs(hi - lo):g}")
            ok = False
    envelope = _envelope(r, m, p)
    if "envelope" in m and feature is not None and feature not in TRIGGERS:
        r.problem(f"{p}.envelope", 'only a feature = "onset" or "beat" entry has an envelope')
        ok = False
    elif "envelope" in m and target is not None and not target.startswith(PARAM):
        r.problem(f"{p}.envelope", f"an envelope moves a parameter ({PARAM}...), not {target}")
        ok = False
    if "envelope" in m and envelope is None:
        ok = False
    if not ok:
        return None
    return AudioMap(
        feature,
        target,
        range_,
        to,
        curve or "linear",
        beats or 1,
        float(gain if gain is not None else 1.0),
        float(dead or 0.0),
        envelope,
    )


def _envelope(r: Any, m: Mapping[str, Any], p: str) -> tuple[float, float] | None:
    """`envelope = [attack, release]`: seconds, each 0..10; None if absent or wrong."""
    value = m.get("envelope")
    if value is None:
        return None
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        and all(0 <= v <= 10 for v in value)  # (NaN fails this too)
    ):
        return (float(value[0]), float(value[1]))
    r.problem(f"{p}.envelope", f"expected [attack, release] in seconds (0..10), got {value!r}")
    return None
