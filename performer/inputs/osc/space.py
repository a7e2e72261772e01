"""The stage's OSC address space: the table, OSC 1.0 pattern matching, argument coercion, and
the show's own addresses mapped onto it. A message in, cues out; never a socket, never a thread.

Patterns are matched by `osc_pattern` in linear time (no regex is built from a sender's text)
and bounded: length, wildcards, alternatives, steps and fan-out (MAX_*); over a bound is
`OscTooComplex`.

Musicians' tools send ints for floats and floats for ints, and Max sends symbols as strings:
all are accepted. Values are clamped to the documented ranges; what cannot be read is an
`OscInputError` that names the address and what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from performer.core.automation import ENGINE_PARAMS, TEMPO_RANGE
from performer.core.control import Cue
from performer.inputs.osc.pattern import (  # noqa: F401 - re-exported: the space's errors and bounds
    MAX_ALTERNATIVES,
    MAX_DATAGRAM_STEPS,
    MAX_MATCH_STEPS,
    MAX_MATCHES,
    MAX_PATTERN,
    MAX_WILDCARDS,
    PATTERN_CACHE,
    AddressPattern,
    MatchWork,
    OscInputError,
    OscTooComplex,
    clip,
    pattern_matches,
    too_long,
)
from performer.render.shaders import ParamSpec
from performer.show.osc import OscMapping, fade_of

OFFSET_RANGE = (-10.0, 10.0)  # latent units along a direction (z ~ N(0, 1))
Z_RANGE = (-10.0, 10.0)
Z_MAX_VALUES = 4096

# (address, arguments, meaning): the README's table, the Max patch and the tests all follow it.
ADDRESS_TABLE: tuple[tuple[str, str, str], ...] = (
    (
        "/stage/scene",
        "name or index [fade]",
        "go to a scene (0-based index, or its name); fade in seconds, or beats as `8b`;"
        " default: the scene's own fade",
    ),
    ("/stage/cue/next", "", "go to the next cue"),
    ("/stage/cue/prev", "", "go to the previous cue"),
    ("/stage/cue/go", "index", "go to cue N (0-based, as in `[cues] order`)"),
    (
        "/stage/latent/<direction>",
        "float",
        "offset along a latent direction (the checkpoint's name, or 1…8 as the rehearsal keys),"
        " clamped to [-10, 10]",
    ),
    (
        "/stage/z",
        "float…",
        "a whole latent vector (the scene's anchor); padded or cut to the model's size, values"
        " clamped to [-10, 10]",
    ),
    (
        "/stage/param/<program.param>",
        "float [ramp]",
        "a shader parameter (`grade.saturation`) or engine parameter (`latent.speed`), clamped to"
        " its range, ramped over seconds or beats (`4b`); holds until the next scene change",
    ),
    ("/stage/tempo", "bpm", "the tempo for fades, ramps and drift in beats; clamped to [20, 999]"),
    ("/stage/beat", "", "a beat: beats in a row set the tempo (tap tempo, median of the last 4)"),
    ("/stage/face", "0 or 1", "face control off / on"),
    ("/stage/face/calibrate", "", "take the performer's current pose as neutral"),
    ("/stage/blackout", "0 or 1 [fade]", "fade to black (1) or back (0); fade default 1 s"),
    (
        "/stage/flash",
        "[1 [release]]",
        "a flash: `strobe.amount` to full, falling back over the release (seconds, or beats as"
        " `1b`; default 0.25 s), in the scene's `strobe.r/g/b`; a trigger",
    ),
    ("/stage/record", "0 or 1", "stop / start recording a take (video + cue log)"),
)
TRIGGER_NOTE = (
    "A trigger (no arguments in the table) fires on a message with no arguments or a non-zero"
    " first argument: a Max `bang`, or an Ableton button's 1.0; its release (0) is ignored."
)

_FIXED = {
    "/stage/scene": "scene",
    "/stage/cue/next": "next",
    "/stage/cue/prev": "prev",
    "/stage/cue/go": "cue",
    "/stage/z": "z",
    "/stage/tempo": "tempo",
    "/stage/beat": "beat",
    "/stage/face": "face",
    "/stage/face/calibrate": "calibrate",
    "/stage/blackout": "blackout",
    "/stage/flash": "flash",
    "/stage/record": "record",
}
TRIGGERS = {"next", "prev", "beat", "calibrate", "flash"}  # fire on a press, not its release
SWITCHES = {"face", "blackout", "record"}
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


@dataclass(frozen=True)
class Method:
    address: str
    kind: str
    key: str = ""  # param name, direction name, or the mapping's index
    spec: ParamSpec | None = None


# ---------------------------------------------------------------------------- argument coercion


def number(value: object, what: str) -> float:
    """int, float, bool or a numeric string (Max symbols) → a finite float."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        x = float(value)
    elif isinstance(value, str):
        try:
            x = float(value.strip())
        except ValueError:
            raise OscInputError(
                f"{what}: expected a number, got the string {clip(value)!r}"
            ) from None
    else:
        raise OscInputError(f"{what}: expected a number, got {_kind(value)}")
    if not math.isfinite(x):
        raise OscInputError(f"{what}: expected a finite number, got {x}")
    return x


def switch(value: object, what: str) -> bool:
    """0/1, T/F, "on"/"off" → bool."""
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("on", "true", "yes", "1"):
            return True
        if word in ("off", "false", "no", "0"):
            return False
    return number(value, what) >= 0.5


def fired(args: Sequence[object]) -> bool:
    """A trigger fires with no arguments or a non-zero first one (a button's release is 0)."""
    if not args or args[0] is None:
        return True
    first = args[0]
    if isinstance(first, str):
        return first.strip().lower() not in ("0", "off", "false", "0.0")
    if isinstance(first, (bool, int, float)):
        return bool(first) and not (isinstance(first, float) and math.isnan(first))
    return True


def _numeric(text: str) -> bool:
    """Whether a string reads as a (possibly negative) number: digits and dots, no regex."""
    body = text.strip().removeprefix("-")
    return bool(body) and not body.strip("0123456789.")


def _kind(value: object) -> str:
    names = {bytes: "a blob", list: "an array", tuple: "a MIDI/colour value", type(None): "nil"}
    return names.get(type(value), type(value).__name__)


def _clamp(x: float, lo: float, hi: float) -> tuple[float, bool]:
    y = min(max(x, lo), hi)
    return y, y != x


def _curve(name: str, u: float, lo: float, hi: float) -> float:
    if name == "exponential":
        return lo * (hi / lo) ** u
    u = {"quadratic": u * u, "sqrt": math.sqrt(u), "smooth": u * u * (3 - 2 * u)}.get(name, u)
    return lo + (hi - lo) * u


# ---------------------------------------------------------------------------- the space


class AddressSpace:
    """Every address the stage answers, and how a message at one becomes cues.

    `scenes` and `cue_count` are called per message, so scenes saved in rehearsal are reachable.
    Not thread-safe: one receiver thread calls `handle`."""

    def __init__(
        self,
        scenes: Callable[[], Sequence[str]],
        cue_count: Callable[[], int],
        params: Mapping[str, ParamSpec],
        directions: Sequence[str],
        maps: Sequence[OscMapping] = (),
    ) -> None:
        self.scenes, self.cue_count = scenes, cue_count
        self.methods: dict[str, Method] = {a: Method(a, k) for a, k in _FIXED.items()}
        for name, spec in {**params, **ENGINE_PARAMS}.items():
            address = f"/stage/param/{name}"
            self.methods[address] = Method(address, "param", name, spec)
        for name in directions:
            if name and _NAME_CHARS.issuperset(name):
                address = f"/stage/latent/{name}"
                self.methods[address] = Method(address, "offset", name)
        self.problems: list[str] = []
        self.maps: list[tuple[OscMapping, Method, tuple[float, float]]] = []
        self._state: dict[int, object] = {}
        for i, m in enumerate(maps):
            resolved = self._resolve_map(i, m)
            if resolved is not None:
                self.methods[m.address] = Method(m.address, "map", str(len(self.maps)))
                self.maps.append(resolved)
        # what wildcards can name (not the show's own addresses), by segment count
        self._by_depth: dict[int, list[tuple[list[str], Method]]] = {}
        for a, m in self.methods.items():
            if m.kind != "map":
                parts = a.split("/")
                self._by_depth.setdefault(len(parts), []).append((parts, m))
        self._patterns: dict[str, list[Method] | tuple[type, str]] = {}
        self.steps = 0  # matcher steps spent on new patterns, all told (tests, benchmarks)
        self.last_steps = 0  # ... on the latest one

    def _resolve_map(self, i: int, m: OscMapping) -> tuple[OscMapping, Method, tuple] | None:
        where = f"osc.map[{i}] ({m.address})"
        target = self.methods.get(m.target)
        if target is None or target.kind == "map":
            self.problems.append(f"{where}: no stage address {m.target}")
            return None
        if m.args:
            return (m, target, (0.0, 1.0))
        if target.kind == "z":
            self.problems.append(f"{where}: /stage/z takes a whole vector; map it with `args`")
            return None
        default = {
            "param": (target.spec.min, target.spec.max) if target.spec else (0.0, 1.0),
            "offset": (-3.0, 3.0),
            "tempo": (60.0, 180.0),
            "scene": (0.0, max(len(self.scenes()) - 1, 0)),
            "cue": (0.0, max(self.cue_count() - 1, 0)),
        }.get(target.kind, (0.0, 1.0))
        return (m, target, m.to or default)

    def match(self, pattern: str, budget: MatchWork | None = None) -> list[Method]:
        """The methods an address pattern names (exact addresses first, then OSC wildcards).

        A new pattern is matched once and remembered (methods or refusal, PATTERN_CACHE of
        them); its steps are charged to `budget` (one datagram's), and a spent budget refuses
        further new patterns. Raises OscInputError (bad syntax) or OscTooComplex."""
        exact = self.methods.get(pattern)
        if exact is not None:
            return [exact]
        if not any(c in pattern for c in "*?[{"):
            return []
        if len(pattern) > MAX_PATTERN:  # refused at once, and not remembered (memory)
            raise OscTooComplex(too_long(pattern))
        found = self._patterns.get(pattern)
        if found is None:
            if budget is not None and budget.steps >= budget.limit:
                raise OscTooComplex(
                    f"{clip(pattern)}: this datagram's {budget.limit} matching steps are spent"
                )
            work = MatchWork()
            try:
                found = self._select(AddressPattern(pattern, work))
            except OscInputError as e:
                found = (type(e), str(e))
            self.steps += work.steps
            self.last_steps = work.steps
            if budget is not None:
                budget.steps += work.steps
            if len(self._patterns) >= PATTERN_CACHE:
                self._patterns.clear()
            self._patterns[pattern] = found
        if isinstance(found, tuple):
            raise found[0](found[1])
        return found

    def _select(self, glob: AddressPattern) -> list[Method]:
        """The methods a pattern names, filtered one segment level at a time; each distinct
        segment text at a level is matched once."""
        survivors = self._by_depth.get(len(glob.segments), [])
        for level in range(len(glob.segments)):
            seen: dict[str, bool] = {}
            kept = []
            for parts, method in survivors:
                text = parts[level]
                hit = seen.get(text)
                if hit is None:
                    hit = seen[text] = glob.segment_matches(level, text)
                if hit:
                    kept.append((parts, method))
            glob.work.spend(len(survivors), clip(glob.text))
            survivors = kept
            if not survivors:
                return []
        if len(survivors) > MAX_MATCHES:
            raise OscTooComplex(
                f"{clip(glob.text)}: names {len(survivors)} addresses (at most {MAX_MATCHES})"
            )
        return [m for _, m in survivors]

    def handle(
        self, address: str, args: Sequence[object], budget: MatchWork | None = None
    ) -> tuple[list[Cue], int]:
        """Cues for one message, and how many of its values were clamped. Unknown address: []."""
        cues: list[Cue] = []
        clamped = 0
        errors: list[OscInputError] = []
        arglist = list(args)
        for method in self.match(address, budget):
            try:
                if method.kind == "map":
                    more, c = self._mapped(int(method.key), args)
                else:
                    more, c = self._call(method, arglist)
            except OscInputError as e:  # a wildcard may name methods that take other arguments
                errors.append(e)
                continue
            cues += more
            clamped += c
        if errors and not cues:
            raise errors[0]
        return cues, clamped

    # -- one method
    def _call(self, m: Method, args: list[object]) -> tuple[list[Cue], int]:
        where = m.address
        kind = m.kind
        if kind in TRIGGERS:
            if not fired(args):
                return [], 0
            # a flash takes an optional release after its value
            extra = (self._fade(args[1], where),) if kind == "flash" and len(args) > 1 else ()
            return [Cue(kind, extra, "osc")], 0
        if not args:
            raise OscInputError(f"{where}: expected arguments ({_usage(where)}), got none")
        if kind == "scene":
            cue_args: tuple = (self._scene_ref(args[0], where),)
            if len(args) > 1:
                cue_args += (self._fade(args[1], where),)
            return [Cue("scene", cue_args, "osc")], 0
        if kind == "cue":
            count = self.cue_count()
            index = round(number(args[0], where))
            if not 0 <= index < count:
                raise OscInputError(f"{where}: no cue {index}; cues are 0..{count - 1}")
            return [Cue("cue", (index,), "osc")], 0
        if kind == "param":
            assert m.spec is not None
            value, c = _clamp(number(args[0], where), m.spec.min, m.spec.max)
            extra = (self._fade(args[1], where),) if len(args) > 1 else ()
            return [Cue("param", (m.key, value, *extra), "osc")], int(c)
        if kind == "offset":
            value, c = _clamp(number(args[0], where), *OFFSET_RANGE)
            return [Cue("offset", (m.key, value), "osc")], int(c)
        if kind == "z":
            flat = [v for a in args for v in (a if isinstance(a, list) else [a])]
            if len(flat) > Z_MAX_VALUES:
                raise OscInputError(f"{where}: {len(flat)} values; at most {Z_MAX_VALUES}")
            values = [_clamp(number(v, f"{where}[{i}]"), *Z_RANGE) for i, v in enumerate(flat)]
            return [Cue("z", tuple(v for v, _ in values), "osc")], sum(c for _, c in values)
        if kind == "tempo":
            value, c = _clamp(number(args[0], where), *TEMPO_RANGE)
            return [Cue("tempo", (value,), "osc")], int(c)
        if kind in SWITCHES:
            cue_args = (int(switch(args[0], where)),)
            if kind == "blackout" and len(args) > 1:
                cue_args += (self._fade(args[1], where),)
            return [Cue(kind, cue_args, "osc")], 0
        raise OscInputError(f"{where}: no handler for {kind}")

    def _scene_ref(self, ref: object, where: str) -> str | int:
        names = self.scenes()
        if isinstance(ref, str) and ref in names:
            return ref
        if isinstance(ref, str) and not _numeric(ref):
            raise OscInputError(
                f"{where}: no scene named {clip(ref)!r}; scenes are: {', '.join(names)}"
            )
        index = round(number(ref, where))
        if not 0 <= index < len(names):
            raise OscInputError(f"{where}: no scene {index}; scenes are 0..{len(names) - 1}")
        return index

    def _fade(self, value: object, where: str) -> float | str:
        fade = fade_of(value)
        if fade is None:
            raise OscInputError(
                f"{where}: expected a fade in seconds or beats ('8b'), got {clip(repr(value))}"
            )
        return fade

    # -- the show's own addresses
    def _mapped(self, i: int, args: Sequence[object]) -> tuple[list[Cue], int]:
        m, target, (lo, hi) = self.maps[i]
        if m.args:
            if (
                not args
                or not isinstance(args[0], (int, float, bool, str))
                or (isinstance(args[0], str) and not _numeric(args[0]))
            ):
                return self._call(target, list(m.args)) if fired(args) else ([], 0)
            if self._edge(i, self._unit(m, args[0])):
                return self._call(target, list(m.args))
            return [], 0
        if not args:
            raise OscInputError(f"{m.address}: expected a number (mapped to {m.target})")
        u = self._unit(m, args[0])
        kind = target.kind
        if kind in TRIGGERS:
            return self._call(target, []) if self._edge(i, u) else ([], 0)
        if kind in SWITCHES:
            on = u >= 0.5
            if self._state.get(i) == on:
                return [], 0
            self._state[i] = on
            return self._call(target, [int(on)])
        y = _curve(m.curve, u, lo, hi)
        if kind in ("scene", "cue"):
            index = round(y)
            if self._state.get(i) == index:  # a knob over scenes fires on a new index only
                return [], 0
            self._state[i] = index
            return self._call(target, [index])
        return self._call(target, [y])

    def _unit(self, m: OscMapping, value: object) -> float:
        x = number(value, m.address)
        lo, hi = m.range
        return min(max((x - lo) / (hi - lo), 0.0), 1.0)

    def _edge(self, i: int, u: float) -> bool:
        """True when `u` rises through 0.5 (a button press; its release does nothing)."""
        was = self._state.get(i, 0.0)
        self._state[i] = u
        return u >= 0.5 > was  # type: ignore[operator]


def _usage(address: str) -> str:
    for a, args, _ in ADDRESS_TABLE:
        if a == address or (a.endswith(">") and address.startswith(a.split("<")[0])):
            return f"{a} {args}".strip()
    return address
