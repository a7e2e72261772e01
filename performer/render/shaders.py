"""Shader files: `#include` resolution, `// @param` annotations, compiling and checking.

One GLSL program per file in the show's shader folder; errors name the file and line, even
inside included files. `display.py` draws the chain; `stage check` uses `check_shader`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import moderngl

VERTEX_SHADER = "fullscreen.vert"
FIRST_PASS = "upscale"
LAST_PASS = "present"


class ShaderError(Exception):
    """A shader that cannot be loaded, parsed or compiled; the message names file and line."""


@dataclass(frozen=True)
class ParamSpec:
    default: float
    min: float
    max: float


# --- shader sources -----------------------------------------------------------------------

_INCLUDE = re.compile(r"^\s*#\s*include\b\s*(.*?)\s*$")
_INCLUDE_NAME = re.compile(r'^"([^"]+)"\s*(?://.*)?$')
_PARAM = re.compile(r"^\s*uniform\s+(\w+)\s+(\w+)\s*;\s*//\s*@param\b(.*)$")


@dataclass
class _Source:
    path: Path
    text: str
    origins: list[tuple[Path, int]]  # (file, 1-based line) of each line of `text`


def _shader_path(name: str, shader_dir: Path) -> Path:
    suffix = Path(name).suffix
    return Path(shader_dir) / (name if suffix in (".glsl", ".vert", ".frag") else f"{name}.glsl")


def _resolve(name: str, shader_dir: Path) -> _Source:
    path = _shader_path(name, shader_dir)
    if not path.is_file():
        raise ShaderError(f"{path}: shader not found")
    lines: list[str] = []
    origins: list[tuple[Path, int]] = []
    _splice(path, lines, origins, included=set())
    return _Source(path, "\n".join(lines) + "\n", origins)


def _splice(
    path: Path, lines: list[str], origins: list[tuple[Path, int]], included: set[Path]
) -> None:
    included.add(path.resolve())
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        m = _INCLUDE.match(line)
        if m is None:
            # moderngl would expand `#include "x"` even inside a comment: defuse it there.
            lines.append(line.replace("#include", "# include"))
            origins.append((path, lineno))
            continue
        name = _INCLUDE_NAME.match(m[1])
        if name is None:
            raise ShaderError(f'{path}:{lineno}: expected #include "file", got {line.strip()!r}')
        target = path.parent / name[1]
        if not target.is_file():
            raise ShaderError(f'{path}:{lineno}: #include "{name[1]}": no such file {target}')
        if target.resolve() in included:  # include guard: each file once (cycles end here)
            lines.append("")
            origins.append((path, lineno))
        else:
            _splice(target, lines, origins, included)


def load_shader_source(name: str, shader_dir: Path) -> str:
    """The GLSL text of shader `name` (a file stem in shader_dir) with includes resolved."""
    return _resolve(name, shader_dir).text


@dataclass(frozen=True)
class _Param:
    uniform: str  # the GLSL name (a param may be renamed: `name=`)
    spec: ParamSpec
    bypass: float | None  # at this value the param is a no-op (see Program.bypassed)


_FIELDS = ("name", "default", "min", "max", "bypass")


def _parse_params(source: _Source) -> dict[str, _Param]:
    """Params by name, from `uniform float x; // @param default= min= max= [name=] [bypass=]`."""
    params: dict[str, _Param] = {}
    for line, (path, lineno) in zip(source.text.splitlines(), source.origins, strict=True):
        m = _PARAM.match(line)
        if m is None:
            continue
        gl_type, uniform, annotation = m[1], m[2], m[3]
        where = f"{path}:{lineno}: @param {uniform}"
        if gl_type != "float":
            raise ShaderError(f"{where}: only float params are supported, got {gl_type}")
        fields: dict[str, str] = {}
        for token in annotation.split():
            key, sep, value = token.partition("=")
            if not sep or key not in _FIELDS or key in fields:
                raise ShaderError(f"{where}: bad field {token!r} (fields: {'= '.join(_FIELDS)}=)")
            fields[key] = value
        numbers: dict[str, float] = {}
        for key in ("default", "min", "max", "bypass"):
            if key == "bypass" and key not in fields:
                continue
            try:
                numbers[key] = float(fields[key])
            except KeyError:
                raise ShaderError(f"{where}: missing {key}=") from None
            except ValueError:
                raise ShaderError(f"{where}: {key}={fields[key]!r} is not a number") from None
            if not math.isfinite(numbers[key]):
                raise ShaderError(f"{where}: {key} must be finite")
        spec = ParamSpec(numbers["default"], numbers["min"], numbers["max"])
        if not spec.min <= spec.default <= spec.max:
            raise ShaderError(f"{where}: need min <= default <= max, got {spec}")
        name = fields.get("name", uniform)
        if not re.fullmatch(r"\w+", name) or name in params:
            raise ShaderError(f"{where}: bad or duplicate param name {name!r}")
        params[name] = _Param(uniform, spec, numbers.get("bypass"))
    return params


def shader_params(name: str, shader_dir: Path) -> dict[str, ParamSpec]:
    """The `// @param` annotations of shader `name`: param name -> ParamSpec."""
    return {k: p.spec for k, p in _parse_params(_resolve(name, shader_dir)).items()}


_GL_LINE = re.compile(r"^(?:ERROR:\s*)?\d+[:(](\d+)\)?(?:\((\d+)\))?\s*:?\s*(.*)$")


def _describe_gl_error(message: str, sources: Mapping[str, _Source], fallback: Path) -> str:
    """Rewrite a moderngl compile/link error so each line names the file:line it came from."""
    out: list[str] = []
    stage: str | None = None
    for raw in message.splitlines():
        text = raw.strip()
        if not text or set(text) == {"="} or text == "GLSL Compiler failed":
            continue
        if text in sources:
            stage = text
            continue
        if text == "GLSL Linker failed":
            stage = None
            out.append(f"{fallback}: link failed:")
            continue
        m = _GL_LINE.match(text)
        source = sources.get(stage) if stage else None
        if m and source and 1 <= int(m[1]) <= len(source.origins):
            path, lineno = source.origins[int(m[1]) - 1]
            out.append(f"{path}:{lineno}: {m[3]}  (GLSL {stage.split('_')[0]} line {m[1]})")
        else:
            out.append(f"{fallback}: {text}")
    return "\n".join(out) or f"{fallback}: {message.strip()}"


@dataclass
class Program:
    """A compiled fragment program of the chain and the handles the draw loop needs."""

    name: str
    program: moderngl.Program
    vao: moderngl.VertexArray
    params: dict[str, ParamSpec]
    param_uniforms: list[tuple[str, moderngl.Uniform, ParamSpec]]
    u_resolution: moderngl.Uniform | None
    u_source_size: moderngl.Uniform | None
    u_time: moderngl.Uniform | None
    uses_previous: bool
    bypass: list[tuple[str, ParamSpec, float]]  # ("program.param", spec, no-op value)
    last_values: dict[str, float] = field(default_factory=dict)

    def bypassed(self, params: Mapping[str, float]) -> bool:
        """True when every `bypass=` param is at its no-op value: the pass can be skipped."""
        return bool(self.bypass) and all(param_value(params, k, s) == v for k, s, v in self.bypass)

    def values(self, params: Mapping[str, float]) -> tuple[float, ...]:
        """This frame's value of each of the program's parameters, in `param_uniforms` order."""
        return tuple(param_value(params, k, s) for k, _, s in self.param_uniforms)

    def set_uniforms(
        self,
        values: tuple[float, ...],
        time: float,
        resolution: tuple[int, int],
        source_size: tuple[int, int],
    ) -> None:
        """Set the uniforms for a draw; `values` is what `values()` gave for this frame."""
        if self.u_time is not None:
            self.u_time.value = time
        if self.u_resolution is not None:
            self.u_resolution.value = resolution
        if self.u_source_size is not None:
            self.u_source_size.value = source_size
        for (key, uniform, _), value in zip(self.param_uniforms, values, strict=True):
            if self.last_values.get(key) != value:
                uniform.value = value
                self.last_values[key] = value

    def release(self) -> None:
        self.vao.release()
        self.program.release()


def param_value(params: Mapping[str, float], key: str, spec: ParamSpec) -> float:
    """A param's value for this frame: given (clamped to its range) or the default."""
    value = params.get(key)
    if value is None or math.isnan(value := float(value)):
        return spec.default
    return min(max(value, spec.min), spec.max)


def compile_program(ctx: moderngl.Context, name: str, shader_dir: Path) -> Program:
    vert = _resolve(VERTEX_SHADER, shader_dir)
    frag = _resolve(name, shader_dir)
    params = _parse_params(frag)
    try:
        program = ctx.program(vertex_shader=vert.text, fragment_shader=frag.text)
    except Exception as e:  # moderngl.Error, or KeyError from moderngl's own include pass
        sources = {"vertex_shader": vert, "fragment_shader": frag}
        raise ShaderError(_describe_gl_error(str(e), sources, frag.path)) from None

    def uniform(uniform_name: str) -> moderngl.Uniform | None:
        member = program.get(uniform_name, None)
        return member if isinstance(member, moderngl.Uniform) else None

    for unit, sampler in enumerate(("u_source", "u_previous")):
        if (u := uniform(sampler)) is not None:
            u.value = unit
    return Program(
        name=name,
        program=program,
        vao=ctx.vertex_array(program, []),
        params={k: p.spec for k, p in params.items()},
        param_uniforms=[
            (f"{name}.{k}", u, p.spec)
            for k, p in params.items()
            if (u := uniform(p.uniform)) is not None
        ],
        u_resolution=uniform("u_resolution"),
        u_source_size=uniform("u_source_size"),
        u_time=uniform("u_time"),
        uses_previous=uniform("u_previous") is not None,
        bypass=[
            (f"{name}.{k}", p.spec, p.bypass) for k, p in params.items() if p.bypass is not None
        ],
    )


_check_ctx: moderngl.Context | None = None


def check_shader(name: str, shader_dir: Path, ctx: moderngl.Context | None = None) -> str | None:
    """Compile and link program `name` (with fullscreen.vert): None if fine, else the error.

    With no `ctx`, one standalone EGL context is made on first use and kept for later calls.
    """
    global _check_ctx
    if ctx is None:
        if _check_ctx is None:
            _check_ctx = moderngl.create_standalone_context(backend="egl", require=330)
        ctx = _check_ctx
    with ctx:
        try:
            compile_program(ctx, name, shader_dir).release()
        except ShaderError as e:
            return str(e)
    return None
