"""show.toml → frozen dataclasses, validated with precise errors.

Every problem names its key path and line (`scenes[2].fade (line 41): expected seconds ≥ 0,
got -1`); all problems are collected, so `stage check` can report them in one go.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from performer.show.audio import AudioSpec, read_audio, read_scene_audio
from performer.show.face import FaceSpec, read_face, read_scene_face
from performer.show.midi import MidiSpec, read_midi
from performer.show.osc import CueStep, OscSpec, read_cue_step, read_osc
from performer.show.outputs import OutputEntry, read_outputs
from performer.show.presets import append_table

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SHADER_DIR = PROJECT_ROOT / "shaders"
FIRST_PASS, LAST_PASS = "upscale", "present"  # every chain's implicit first and last programs
DEFAULT_SHOW = PROJECT_ROOT / "show.toml"

_MISSING = object()
LAYOUTS = ("side_by_side", "top_bottom", "first", "second")


class ShowError(Exception):
    """One or more problems in a show file; `problems` lists each, with key path and line."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))

    def __str__(self) -> str:
        return "\n".join(f"{self.path}: {p}" for p in self.problems)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    checkpoint: Path
    # a dual-generator checkpoint: both generators side by side / top over bottom on one
    # latent, or one of them alone ("first", "second"); a single generator ignores it
    layout: str = "side_by_side"
    # a StyleGAN network pickle (checkpoint = "NAME.pkl", imported once): its class, for a
    # conditional network, and the truncation ψ it plays unless `truncation.psi` is set
    class_index: int | None = None
    truncation: float | None = None


@dataclass(frozen=True)
class OutputSpec:
    mode: str = "window"  # window | fullscreen
    monitor: int = 0
    width: int = 1280
    height: int = 720
    vsync: bool = True
    fps: float = 60.0
    effects_scale: float = 2.0  # effects run at ≤ this × the generator's size; 0 = full size
    status: bool = True  # a small corner mark on the screen while a part is not well


@dataclass(frozen=True)
class Drift:
    speed: float = 0.0  # walk rate, in cycles of the slowest component per minute-ish
    amplitude: float = 0.0  # offset scale in latent units (z ~ N(0, 1))


@dataclass(frozen=True)
class Scene:
    name: str
    model: str
    seed: int | None = None
    z: tuple[float, ...] | None = None
    drift: Drift = Drift()
    fade: float = 2.0
    params: Mapping[str, float] = field(default_factory=dict)
    face: str | None = None  # its face mapping set; None: [face] mapping; "": none (show_face)
    mix: str | None = None  # StyleGAN style mixing: the scene whose latent gives the fine layers
    audio: str | None = None  # its audio mapping set; None: the default set; "": none (show/audio)
    chain: tuple[str, ...] | None = None  # its own shader chain; None: the show's [shaders]
    image: Path | None = None  # VAE-GAN: the anchor is this picture's code (engine/anchors.py)


@dataclass(frozen=True)
class Rehearsal:
    presets: Path
    nudge: float = 0.5  # latent units per second while a nudge key is held
    directions: int = 8  # how many latent directions the keys can nudge along


@dataclass(frozen=True)
class Show:
    path: Path
    title: str
    models: tuple[ModelSpec, ...]
    output: OutputSpec
    shader_dir: Path
    chain: tuple[str, ...]
    params: Mapping[str, float]
    scenes: tuple[Scene, ...]
    cues: tuple[int, ...]  # indices into scenes, in performance order
    rehearsal: Rehearsal
    follow: float = 0.0  # seconds after a cue to go to the next by itself; 0 = wait for a cue
    cue_steps: tuple[CueStep, ...] = ()  # per cue: its scene, fade and parameters (show_osc)
    tempo: float = 120.0  # beats per minute until OSC sets or taps another
    osc: OscSpec = OscSpec()
    face: FaceSpec | None = None  # the performer's face: camera, tracker, mappings (show_face)
    outputs: tuple[OutputEntry, ...] = ()  # NDI, virtual camera (show_outputs)
    midi: MidiSpec | None = None  # [midi]: controllers / a .mid file (show/midi.py)
    audio: AudioSpec | None = None  # [audio]: the band's sound, features, mappings (show/audio.py)

    def model(self, name: str) -> ModelSpec:
        return next(m for m in self.models if m.name == name)

    def scene_chain(self, scene: Scene) -> tuple[str, ...]:
        """The shader chain a scene plays through: its own, else the show's."""
        return self.chain if scene.chain is None else scene.chain

    @property
    def programs(self) -> tuple[str, ...]:
        """Every program some scene's chain runs, the first and last passes included."""
        names = dict.fromkeys((FIRST_PASS, *self.chain))
        for scene in self.scenes:
            names.update(dict.fromkeys(scene.chain or ()))
        names[LAST_PASS] = None
        return tuple(names)

    def scene_index(self, name: str) -> int:
        return next(i for i, s in enumerate(self.scenes) if s.name == name)


# ---------------------------------------------------------------------------- line lookup


class _Lines:
    """Maps key paths like `scenes[2].fade` to the line of the TOML text that sets them."""

    _header = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
    _key = re.compile(r"^\s*(\"[^\"]+\"|'[^']+'|[A-Za-z0-9_\-.]+)\s*=")

    def __init__(self, text: str) -> None:
        self.where: dict[str, int] = {}
        counts: dict[str, int] = {}
        table = ""
        for n, line in enumerate(text.splitlines(), start=1):
            if m := self._header.match(line):
                name = m.group(2).strip()
                if m.group(1) == "[[":
                    counts[name] = counts.get(name, -1) + 1
                    table = f"{name}[{counts[name]}]"
                else:
                    table = name
                self.where.setdefault(table, n)
            elif m := self._key.match(line):
                key = m.group(1).strip("\"'")
                self.where.setdefault(f"{table}.{key}" if table else key, n)

    def line(self, path: str) -> int | None:
        while path:
            if path in self.where:
                return self.where[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return None


# ---------------------------------------------------------------------------- reading


class _Reader:
    """Typed access to a TOML table that records problems instead of raising at the first."""

    def __init__(self, lines: _Lines, problems: list[str]) -> None:
        self.lines = lines
        self.problems = problems

    def problem(self, path: str, message: str) -> None:
        n = self.lines.line(path)
        self.problems.append(f"{path}{f' (line {n})' if n else ''}: {message}")

    def table(self, data: Any, path: str) -> dict[str, Any]:
        if isinstance(data, dict):
            return data
        self.problem(path, f"expected a table, got {_describe(data)}")
        return {}

    def unknown(self, data: Mapping[str, Any], path: str, known: set[str]) -> None:
        for key in data:
            if key not in known:
                full = f"{path}.{key}" if path else key
                self.problem(full, f"unknown key; expected one of: {', '.join(sorted(known))}")

    def get(
        self,
        data: Mapping[str, Any],
        path: str,
        key: str,
        kind: str,
        default: Any = _MISSING,
        *,
        lo: float | None = None,
        hi: float | None = None,
        choices: tuple[str, ...] = (),
    ) -> Any:
        full = f"{path}.{key}" if path else key
        if key not in data:
            if default is _MISSING:
                self.problem(full, f"required key missing (expected {kind})")
            return None if default is _MISSING else default
        value = data[key]
        ok = {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, (int, float)) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
            "string": isinstance(value, str),
        }[kind]
        if kind == "number" and ok and not math.isfinite(value):
            ok = False
        bounds = _bounds(lo, hi)
        if ok and ((lo is not None and value < lo) or (hi is not None and value > hi)):
            ok = False
        if ok and choices and value not in choices:
            self.problem(full, f"expected one of {', '.join(map(repr, choices))}, got {value!r}")
            return default if default is not _MISSING else None
        if not ok:
            self.problem(full, f"expected {kind}{bounds}, got {_describe(value)}")
            return default if default is not _MISSING else None
        return float(value) if kind == "number" else value

    def params(self, data: Any, path: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, value in self.table(data, path).items():
            if not re.fullmatch(r"[A-Za-z_]\w*\.[A-Za-z_]\w*", key):
                self.problem(
                    f"{path}.{key}", 'expected a name like "grade.saturation" (program.param)'
                )
                continue
            number = self.get({key: value}, path, key, "number")
            if number is not None:
                out[key] = number
        return out


def _bounds(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" in [{lo:g}, {hi:g}]"
    if lo is not None:
        return f" ≥ {lo:g}"
    if hi is not None:
        return f" ≤ {hi:g}"
    return ""


def _describe(value: Any) -> str:
    names = {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "table",
    }
    return f"{names.get(type(value), type(value).__name__)} {value!r}"


# ---------------------------------------------------------------------------- the show


def load_show(path: str | Path, problems: list[str] | None = None) -> Show:
    """Read and validate a show file; raises ShowError listing every problem found. With a
    `problems` list, problems are appended there instead and the best-effort Show is returned
    (for `stage check`, which goes on to open checkpoints and compile shaders)."""
    path = Path(path).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ShowError(path, [f"cannot read the show file: {e.strerror or e}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ShowError(path, [f"not valid TOML: {e}"]) from None
    return show_from_dict(data, path, text, problems)


def show_from_dict(
    data: dict[str, Any], path: Path, text: str = "", collect: list[str] | None = None
) -> Show:
    problems: list[str] = [] if collect is None else collect
    r = _Reader(_Lines(text), problems)
    base = path.parent
    r.unknown(
        data,
        "",
        {
            "show",
            "models",
            "output",
            "outputs",
            "shaders",
            "scenes",
            "cues",
            "rehearsal",
            "osc",
            "face",
            "midi",
            "audio",
        },
    )

    meta = r.table(data.get("show", {}), "show")
    r.unknown(meta, "show", {"title"})
    title = r.get(meta, "show", "title", "string", path.stem)

    models: list[ModelSpec] = []
    for name, spec in r.table(data.get("models", {}), "models").items():
        p = f"models.{name}"
        spec = r.table(spec, p)
        r.unknown(spec, p, {"checkpoint", "layout", "class", "truncation"})
        ckpt = r.get(spec, p, "checkpoint", "string")
        layout = r.get(spec, p, "layout", "string", "side_by_side", choices=LAYOUTS)
        class_index = r.get(spec, p, "class", "int", None, lo=0, hi=1_000_000)
        truncation = r.get(spec, p, "truncation", "number", None, lo=0, hi=1.5)
        if ckpt is not None:
            checkpoint = (base / ckpt).resolve()
            pickle = checkpoint.suffix == ".pkl"
            if (class_index is not None or truncation is not None) and not pickle:
                r.problem(p, "`class` and `truncation` are for a network pickle (checkpoint.pkl)")
            models.append(ModelSpec(name, checkpoint, layout, class_index, truncation))
    if not models and "models" not in data:
        r.problem("models", 'a show needs at least one model: [models.NAME] checkpoint = "..."')
    model_names = [m.name for m in models]

    out = r.table(data.get("output", {}), "output")
    r.unknown(
        out,
        "output",
        {"mode", "monitor", "width", "height", "vsync", "fps", "effects_scale", "status"},
    )
    d = OutputSpec()
    output = OutputSpec(
        mode=r.get(out, "output", "mode", "string", d.mode, choices=("window", "fullscreen")),
        monitor=r.get(out, "output", "monitor", "int", d.monitor, lo=0),
        width=r.get(out, "output", "width", "int", d.width, lo=16, hi=16384),
        height=r.get(out, "output", "height", "int", d.height, lo=16, hi=16384),
        vsync=r.get(out, "output", "vsync", "bool", d.vsync),
        fps=r.get(out, "output", "fps", "number", d.fps, lo=1, hi=1000),
        effects_scale=r.get(out, "output", "effects_scale", "number", d.effects_scale, lo=0, hi=64),
        status=r.get(out, "output", "status", "bool", d.status),
    )

    sh = r.table(data.get("shaders", {}), "shaders")
    r.unknown(sh, "shaders", {"dir", "chain", "params"})
    shader_dir_name = r.get(sh, "shaders", "dir", "string", None)
    shader_dir = (base / shader_dir_name).resolve() if shader_dir_name else DEFAULT_SHADER_DIR
    chain = read_chain(r, sh.get("chain", ["grade", "trails"]), "shaders.chain", shader_dir)
    params = r.params(sh.get("params", {}), "shaders.params")

    raw_scenes = data.get("scenes", [])
    if not isinstance(raw_scenes, list) or not raw_scenes:
        r.problem("scenes", "a show needs at least one [[scenes]] table")
        raw_scenes = []
    scenes = [_scene(r, sc, i, model_names, shader_dir, base) for i, sc in enumerate(raw_scenes)]
    names = [s.name for s in scenes]
    for n in sorted({n for n in names if names.count(n) > 1}):
        r.problem(
            f"scenes[{names.index(n, names.index(n) + 1)}].name", f"duplicate scene name {n!r}"
        )
    _check_mix(r, scenes, names, "scenes")

    cue_table = r.table(data.get("cues", {}), "cues")
    r.unknown(cue_table, "cues", {"order", "follow", "tempo"})
    tempo = r.get(cue_table, "cues", "tempo", "number", 120.0, lo=20, hi=999)
    follow = r.get(cue_table, "cues", "follow", "number", 0.0, lo=0, hi=86400)
    order = cue_table.get("order", list(range(len(scenes))))
    cues: list[int] = []
    if not isinstance(order, list):
        r.problem(
            "cues.order", f"expected an array of scene names or indices, got {_describe(order)}"
        )
        order = []
    steps: list[CueStep] = []
    for i, ref in enumerate(order):
        if isinstance(ref, dict):  # { scene = ..., fade = ... | beats = ..., params = {...} }
            if step := read_cue_step(r, ref, f"cues.order[{i}]", names):
                cues.append(step.scene)
                steps.append(step)
        elif isinstance(ref, str) and ref in names:
            cues.append(names.index(ref))
            steps.append(CueStep(cues[-1]))
        elif isinstance(ref, int) and not isinstance(ref, bool) and 0 <= ref < len(scenes):
            cues.append(ref)
            steps.append(CueStep(ref))
        else:
            r.problem(f"cues.order[{i}]", f"no scene {ref!r}; scenes are: {', '.join(names)}")
    if scenes and not cues and not order:
        r.problem("cues.order", "the cue list is empty")
    for i, step in enumerate(steps):
        own = scenes[step.scene].chain
        if step.flash is not None and "strobe" not in (chain if own is None else own):
            r.problem(
                f"cues.order[{i}].flash",
                f"scene {names[step.scene]!r} plays through no `strobe` program: add it to its"
                " chain for the flash to show",
            )

    reh = r.table(data.get("rehearsal", {}), "rehearsal")
    r.unknown(reh, "rehearsal", {"presets", "nudge", "directions"})
    presets_name = r.get(reh, "rehearsal", "presets", "string", f"{path.stem}.presets.toml")
    rehearsal = Rehearsal(
        presets=(base / presets_name).resolve(),
        nudge=r.get(reh, "rehearsal", "nudge", "number", 0.5, lo=0, hi=100),
        directions=r.get(reh, "rehearsal", "directions", "int", 8, lo=1, hi=9),
    )
    if rehearsal.presets == path:
        r.problem("rehearsal.presets", "must not be the show file itself (it is never overwritten)")
    osc = read_osc(r, data.get("osc", {}))
    outputs = read_outputs(r, data.get("outputs"))
    midi = read_midi(r, data.get("midi"), base)
    audio = read_audio(r, data.get("audio"), base, [(i, s.audio) for i, s in enumerate(scenes)])
    faces = [(i, s.face) for i, s in enumerate(scenes)]
    face = read_face(r, data.get("face"), base, faces, names)

    if problems and collect is None:
        raise ShowError(path, problems)
    try:
        scenes += _presets(rehearsal.presets, model_names, [s.name for s in scenes])
    except ShowError as e:
        if collect is None:
            raise
        collect += [f"{e.path.name}: {p}" for p in e.problems]
    return Show(
        path,
        title,
        tuple(models),
        output,
        shader_dir,
        tuple(chain),
        params,
        tuple(scenes),
        tuple(cues),
        rehearsal,
        follow,
        tuple(steps),
        tempo,
        osc,
        face,
        outputs,
        midi=midi,
        audio=audio,
    )


def read_chain(r: _Reader, raw: Any, path: str, shader_dir: Path) -> tuple[str, ...]:
    """A shader chain: an array of program names (file stems in the shader folder)."""
    if not isinstance(raw, list):
        r.problem(path, f"expected an array of program names, got {_describe(raw)}")
        return ()
    chain: list[str] = []
    for i, name in enumerate(raw):
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][\w\-]*", name):
            r.problem(
                f"{path}[{i}]",
                f"expected a program name (a file stem in {shader_dir}), got {_describe(name)}",
            )
        elif name in (FIRST_PASS, LAST_PASS):
            r.problem(f"{path}[{i}]", f"{name!r} is always in the chain (first/last pass)")
        else:
            chain.append(name)
    return tuple(chain)


def _scene(
    r: _Reader,
    sc: Any,
    i: int,
    model_names: list[str],
    shader_dir: Path = DEFAULT_SHADER_DIR,
    base: Path = Path("."),
) -> Scene:
    p = f"scenes[{i}]"
    sc = r.table(sc, p)
    keys = {"name", "model", "seed", "z", "drift", "fade", "params", "face", "mix", "audio"}
    keys |= {"chain", "image"}
    r.unknown(sc, p, keys)
    name = r.get(sc, p, "name", "string", f"scene {i + 1}")
    model = r.get(sc, p, "model", "string", model_names[0] if model_names else "")
    if model and model_names and model not in model_names:
        r.problem(f"{p}.model", f"no model named {model!r}; the show has: {', '.join(model_names)}")
    seed = r.get(sc, p, "seed", "int", None, lo=0)
    z = sc.get("z")
    if z is not None:
        if (
            not isinstance(z, list)
            or not z
            or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                for v in z
            )
        ):
            r.problem(f"{p}.z", f"expected a non-empty array of finite numbers, got {_describe(z)}")
            z = None
        else:
            z = tuple(float(v) for v in z)
    image = None
    image_name = r.get(sc, p, "image", "string", None)
    if image_name is not None:
        image = (base / image_name).resolve()
        if not image.is_file():
            r.problem(f"{p}.image", f"no picture at {image}")
    if sum(x is not None for x in (seed, z, image_name)) > 1:
        r.problem(p, "give the anchor as one of `seed`, `z` or `image`")
    if seed is None and z is None and image_name is None:
        seed = i
    dr = r.table(sc.get("drift", {}), f"{p}.drift")
    r.unknown(dr, f"{p}.drift", {"speed", "amplitude"})
    drift = Drift(
        speed=r.get(dr, f"{p}.drift", "speed", "number", 0.0, lo=0, hi=100),
        amplitude=r.get(dr, f"{p}.drift", "amplitude", "number", 0.0, lo=0, hi=10),
    )
    fade = r.get(sc, p, "fade", "number", 2.0, lo=0, hi=3600)
    params = r.params(sc.get("params", {}), f"{p}.params")
    mix = r.get(sc, p, "mix", "string", None)
    face = read_scene_face(r, sc, p)
    audio = read_scene_audio(r, sc, p)
    chain = read_chain(r, sc["chain"], f"{p}.chain", shader_dir) if "chain" in sc else None
    return Scene(name, model, seed, z, drift, fade, params, face, mix, audio, chain, image)


def _check_mix(r: _Reader, scenes: list[Scene], names: list[str], where: str) -> None:
    """Each scene's `mix` names an existing scene (its latent gives the fine style layers)."""
    for i, s in enumerate(scenes):
        if s.mix is not None and s.mix not in names:
            r.problem(
                f"{where}[{i}].mix", f"no scene named {s.mix!r}; scenes are: {', '.join(names)}"
            )


def _presets(path: Path, model_names: list[str], taken: list[str]) -> list[Scene]:
    """Scenes saved in rehearsal, appended after the show's own (reachable by number and OSC).
    A broken presets file is reported, never fatal: the show itself is fine."""
    if not path.is_file():
        return []
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ShowError(path, [f"presets file unreadable: {e}"]) from None
    problems: list[str] = []
    r = _Reader(_Lines(text), problems)
    r.unknown(data, "", {"scenes", "midi"})  # (midi: maps learnt in rehearsal)
    raw = data.get("scenes", [])
    scenes = [
        _scene(r, sc, i, model_names, base=path.parent)
        for i, sc in enumerate(raw if isinstance(raw, list) else [])
    ]
    for s in scenes:
        if s.name in taken:
            problems.append(f"preset scene {s.name!r}: the show already has a scene of that name")
    _check_mix(r, scenes, taken + [s.name for s in scenes], "scenes")
    if problems:
        raise ShowError(path, problems)
    return scenes


def scene_to_toml(scene: Scene) -> str:
    """A [[scenes]] table for a presets file."""
    lines = ["[[scenes]]", f"name = {_toml_str(scene.name)}", f"model = {_toml_str(scene.model)}"]
    if scene.z is not None:
        lines.append("z = [" + ", ".join(f"{v:.6g}" for v in scene.z) + "]")
    elif scene.image is not None:
        lines.append(f"image = {_toml_str(str(scene.image))}")
    else:
        lines.append(f"seed = {scene.seed}")
    lines.append(f"fade = {scene.fade:g}")
    lines.append(
        f"drift = {{ speed = {scene.drift.speed:g}, amplitude = {scene.drift.amplitude:g} }}"
    )
    if scene.params:
        inner = ", ".join(f"{_toml_str(k)} = {v:g}" for k, v in scene.params.items())
        lines.append(f"params = {{ {inner} }}")
    if scene.face is not None:
        lines.append(f"face = {_toml_str(scene.face) if scene.face else 'false'}")
    if scene.mix is not None:
        lines.append(f"mix = {_toml_str(scene.mix)}")
    if scene.audio is not None:
        lines.append(f"audio = {_toml_str(scene.audio) if scene.audio else 'false'}")
    return "\n".join(lines) + "\n"


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def save_preset(path: Path, scene: Scene) -> None:
    """Append a scene to the presets file, atomically (temp file + rename). The show file itself
    is never written."""
    header = (
        "# Scenes saved in rehearsal (key p). They follow the show's own scenes: reach them\n"
        "# by number key or OSC, or copy them into the show file's cue list.\n"
    )
    append_table(path, scene_to_toml(scene), header)
