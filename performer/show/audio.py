"""The show file's audio side: the `[audio]` section (where the band's sound comes from, how it
is analysed) and its `[[audio.map]]` entries (a feature of the sound onto a stage address).

```toml
[audio]
source = "band.wav"      # a WAV file (played as if live), or a sound card: name part or index
channel = 0              # 1..N one input channel; 0: the mix of all
bands = [20, 250, 2000, 8000]   # edges of low, mid, high (Hz)
tempo = "follow"         # "follow": the tracked tempo sets the show's; "off" (default)
attack = 0.01            # smoothing, seconds rising / falling
release = 0.15

[[audio.map]]
feature = "level"        # level db low mid high centroid centroid_hz flux tempo confidence phase
target = "/stage/param/grade.saturation"
range = [0, 1]           # the feature's values mapped (default: its own range)
to = [0.5, 2.0]          # onto these (default: the target's range)
curve = "smooth"

[[audio.map]]
feature = "beat"         # "onset" or "beat": fires a trigger; `beats = 4` every 4th beat
target = "/stage/cue/next"
beats = 4
```

Read through `show.py`'s `_Reader` (passed in as `r`): every problem names its key path and
line, like the rest of the show file.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from performer.inputs.audio.features import FEATURES, TRIGGERS
from performer.show.osc import CURVES, _address, _pair

TEMPO_MODES = ("off", "follow")
SOUND_FILES = (".wav",)
OTHER_SOUND_FILES = (".mp3", ".flac", ".ogg", ".aif", ".aiff", ".m4a", ".opus")  # not read


@dataclass(frozen=True)
class AudioMap:
    """One feature of the sound onto a stage address (see the module's docstring)."""

    feature: str
    target: str
    range: tuple[float, float] | None = None  # None: the feature's own range
    to: tuple[float, float] | None = None
    curve: str = "linear"
    beats: int = 1  # "beat": fire every N beats


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
    maps: tuple[AudioMap, ...] = ()


def read_audio(r: Any, data: Any, base: Path = Path(".")) -> AudioSpec | None:
    """The `[audio]` section; None when the show has none. A file is relative to `base`."""
    if data is None:
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
    )


def _mapping(r: Any, m: Any, p: str) -> AudioMap | None:
    m = r.table(m, p)
    r.unknown(m, p, {"feature", "target", "range", "to", "curve", "beats"})
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
    if not ok:
        return None
    return AudioMap(feature, target, _pair(r, m, p, "range"), to, curve or "linear", beats or 1)
