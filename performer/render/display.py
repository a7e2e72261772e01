"""The show's output: a generator frame through a GLSL shader chain onto a window or offscreen.

moderngl + glfw (or a headless EGL context); textures and framebuffers are made once and
reused. Shader files are read and compiled by `performer.render.shaders`. With a preview, the
program window (the projector) gets the clean picture and a second window, sharing the GL
context's objects, gets the picture with the HUD, the face preview and the status mark.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

import glfw
import moderngl
import numpy as np

from performer.render.chain import (
    MIX_FRAG,
    ChainTargets,
    fit,
    letterbox_rect,
    pass_key,
    smoothstep,
)
from performer.render.hud import Hud
from performer.render.readback import Readback
from performer.render.shaders import (
    FIRST_PASS,
    LAST_PASS,
    ParamSpec,
    Program,
    ShaderError,
    compile_program,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyEvent:
    key: str
    mods: frozenset[str]
    action: str  # "press" | "repeat" | "release"


# --- keys -----------------------------------------------------------------------------------

_KEY_NAMES: dict[int, str] = {
    getattr(glfw, f"KEY_{name.upper()}"): name
    for name in [
        *"abcdefghijklmnopqrstuvwxyz0123456789",
        *(f"f{i}" for i in range(1, 13)),
        *("space", "enter", "escape", "tab", "backspace", "left", "right", "up", "down"),
        *("page_up", "page_down", "home", "end", "minus", "equal", "comma", "period", "slash"),
        *("left_bracket", "right_bracket"),
    ]
}
_KEY_NAMES[glfw.KEY_KP_ENTER] = "enter"
_ACTIONS = {glfw.PRESS: "press", glfw.REPEAT: "repeat", glfw.RELEASE: "release"}
_MODS = {
    glfw.MOD_SHIFT: "shift",
    glfw.MOD_CONTROL: "ctrl",
    glfw.MOD_ALT: "alt",
    glfw.MOD_SUPER: "super",
}


# --- the display ----------------------------------------------------------------------------

_ENDS = (FIRST_PASS, LAST_PASS)

_BLIT_VERT = """#version 330 core
out vec2 v_uv;
void main() {
    vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    v_uv = p;
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
"""
_BLIT_FRAG = """#version 330 core
in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_texture;
void main() { f_color = texture(u_texture, v_uv); }
"""


PREVIEW_FIT = 960  # the preview's default size: the program's, scaled down to fit this
IDLE_CHAIN_DRAWS = 120  # a chain not drawn for this many frames gives its targets back


@dataclass(frozen=True)
class PreviewSpec:
    """The operator's window beside the program window.

    enabled: None opens it only with two or more monitors (`choose_preview`).
    monitor: an index into glfw.get_monitors(); None is the first monitor that is not the
    program's (the primary when there is only one). size: None is the program's size scaled
    to fit PREVIEW_FIT. fullscreen: fullscreen on that monitor, else a window centred on it.
    """

    enabled: bool | None = None
    monitor: int | None = None
    size: tuple[int, int] | None = None
    fullscreen: bool = False


def choose_preview(monitors: int, asked: bool | None) -> bool:
    """Whether to open the preview: as asked, or (asked None) only with 2+ monitors."""
    return monitors >= 2 if asked is None else asked


def preview_monitor(monitors: int, program: int, asked: int | None) -> int:
    """The preview's monitor index: `asked` if given, else the first that is not the
    program's (an out-of-range program index means the primary, 0); with one monitor, 0."""
    if asked is not None:
        return asked
    program = program if 0 <= program < monitors else 0
    return next((i for i in range(monitors) if i != program), 0)


def preview_size(width: int, height: int, fit: int = PREVIEW_FIT) -> tuple[int, int]:
    """The program's size scaled down (never up) so that its longer side is at most `fit`."""
    scale = min(1.0, fit / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


class Display:
    """Draws frames through `upscale -> *chain -> present` into a window or offscreen.

    The chain may change from frame to frame (a scene's own chain) and two chains may be
    drawn from one frame and dissolved (a fade between scenes whose chains differ); two
    frames of different shapes may be crossfaded (a fade between models), each at its own
    aspect. Passes whose inputs did not change are not drawn again."""

    def __init__(
        self,
        *,
        width: int,
        height: int,
        chain: Sequence[str],
        shader_dir: Path,
        chains: Sequence[Sequence[str]] = (),
        upload: str = "auto",
        headless: bool,
        title: str = "latent-stage",
        fullscreen: bool = False,
        monitor: int = 0,
        vsync: bool = True,
        effects_scale: float = 0.0,
        preview: PreviewSpec | None = None,
        program_status: bool | None = None,
    ) -> None:
        """`preview`: the operator's window (ignored headless; see PreviewSpec).
        `program_status`: the status mark on the program window too; None: only when no
        preview is open (the preview always gets it). `chains`: other chains the show may
        draw (scenes' own), compiled up front with `chain`. `upload`: "pbo" (through a pixel
        buffer object), "direct", or "auto": a pixel buffer where the GL is a GPU's (software GL
        would only copy twice)."""
        if upload not in ("auto", "pbo", "direct"):
            raise ValueError(f"upload must be auto, pbo or direct, got {upload!r}")
        if width < 1 or height < 1:
            raise ValueError(f"display size must be positive, got {width}x{height}")
        self.width, self.height = width, height
        self.headless = headless
        self.shader_dir = Path(shader_dir)
        self.monitor = monitor
        # effects run at up to this multiple of the frame's size (0: at the content size);
        # `present` then scales to the output. Software GL pays per pixel, per pass.
        self.effects_scale = effects_scale
        self._work: tuple[int, int] = (width, height)
        self.chain = tuple(chain)  # drawn when `draw` is given none
        middle = dict.fromkeys(n for c in (chain, *chains) for n in c if n not in _ENDS)
        self._names = [FIRST_PASS, *middle, LAST_PASS]
        self._closed = False
        self._glfw_inited = False
        self._window = None
        self._ctx: moderngl.Context | None = None
        self._programs: dict[str, Program] = {}
        self._chains: dict[tuple[str, ...], ChainTargets] = {}  # made when first drawn
        self._up: moderngl.Framebuffer | None = None  # upscale's output, at the work size
        self._mixed: moderngl.Framebuffer | None = None  # two chains dissolved, work size
        self._xfade: moderngl.Framebuffer | None = None  # two frames crossfaded, frame size
        self._mix: moderngl.Program | None = None
        self._mix_vao: moderngl.VertexArray | None = None
        self._serial = 0  # numbers every pass output drawn, for `pass_key`
        self._up_key: tuple | None = None
        self._up_serial = 0
        self._present_key: tuple | None = None
        self._draws = 0
        self._targets_dirty = True
        self._content: tuple[int, int, int, int] | None = None  # viewport in the output
        self._source_tex: moderngl.Texture | None = None
        self._source_key: tuple[int, int, str] | None = None
        self._source_serial = 0
        self._frame: np.ndarray | None = None  # the last frame uploaded (if read-only)
        self._from_tex: moderngl.Texture | None = None  # a crossfade's outgoing frame
        self._from_frame: np.ndarray | None = None
        self._from_serial = 0
        self._pbo: moderngl.Buffer | None = None
        self._screen_pending: tuple | None = None  # headless: (hud, status) not painted yet
        self.upload = upload
        self._hud = Hud()
        self._hud_tex: moderngl.Texture | None = None
        self._mark = Hud(font_scale=0.4, padding=4, box_alpha=120, color=(255, 190, 60))
        self._mark_tex: moderngl.Texture | None = None
        self._overlay: np.ndarray | None = None  # a small picture over the screen (rehearsal)
        self._overlay_tex: moderngl.Texture | None = None
        self._readback: Readback | None = None  # the recording's asynchronous read-back
        self._overlay_new = False
        self._output: moderngl.Framebuffer | None = None  # the show output, width x height
        self._screen: moderngl.Framebuffer | None = None  # headless stand-in for the window
        self._black: moderngl.Texture | None = None  # bound where a sampler has no input
        self._blit: moderngl.Program | None = None
        self._blit_vao: moderngl.VertexArray | None = None
        self._screen_size = (width, height)
        self._events: list[KeyEvent] = []
        self._windowed_rect = (0, 0, width, height)
        self._preview: Any = None  # the operator's glfw window, sharing the program's objects
        self._preview_vao: moderngl.VertexArray | None = None  # VAOs are not shared
        self._preview_size = (0, 0)
        self.program_status = program_status  # may be changed between frames
        # whether the program window's swap waits for the display (measured when it opens):
        # then the swap is the loop's clock (performer/core/pacer.py)
        self.vsync_paces = False
        self.swap_interval = 1 if vsync else 0
        if headless and preview is not None:
            log.debug("headless: no preview window")
            preview = None
        try:
            if headless:
                self._ctx = moderngl.create_standalone_context(backend="egl", require=330)
            else:
                preview = self._open_window(title, vsync, preview)
                self._ctx = moderngl.create_context(require=330)
            with self._current():
                self._setup_gl()
                if preview is not None:
                    self._open_preview(f"{title} (preview)", preview)
            if fullscreen:
                self.toggle_fullscreen()
            self.vsync_paces = self._measure_vsync() if vsync and not headless else False
            if self._preview is not None:
                glfw.focus_window(self._preview)  # where the operator types
        except BaseException:
            self.close()
            raise

    # -- setup ---------------------------------------------------------------------------

    def _open_window(
        self, title: str, vsync: bool, preview: PreviewSpec | None
    ) -> PreviewSpec | None:
        """The program window; returns `preview` if it is to be opened too, else None."""
        if not glfw.init():
            raise RuntimeError("glfw.init() failed: is there a display (DISPLAY / Wayland)?")
        self._glfw_inited = True
        if preview is not None and not choose_preview(self._monitor_count(), preview.enabled):
            log.debug("fewer than two monitors: no preview window unless it is asked for")
            preview = None
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
        # With a preview the operator clicks into it: a fullscreen program must stay up.
        glfw.window_hint(glfw.AUTO_ICONIFY, preview is None)
        self._window = glfw.create_window(self.width, self.height, title, None, None)
        if not self._window:
            raise RuntimeError("glfw could not open a window with an OpenGL 3.3 core context")
        glfw.make_context_current(self._window)
        glfw.swap_interval(1 if vsync else 0)
        glfw.set_key_callback(self._window, self._on_key)
        return preview

    def _measure_vsync(self, swaps: int = 8) -> bool:
        """Whether swapping the program window waits for the display's refresh: time a few
        swaps against the monitor's rate (a virtual screen or a driver with vsync off returns
        at once)."""
        monitor = glfw.get_window_monitor(self._window) or glfw.get_primary_monitor()
        mode = glfw.get_video_mode(monitor) if monitor else None
        refresh = float(mode.refresh_rate) if mode and mode.refresh_rate else 60.0
        with self._current():
            stamps = []
            for _ in range(swaps):
                glfw.swap_buffers(self._window)
                stamps.append(perf_counter())
        waited = float(np.median(np.diff(stamps[2:]))) if len(stamps) > 3 else 0.0
        paces = waited >= 0.5 / refresh
        log.info(
            "vsync %s: a swap took %.1f ms at %.2f Hz",
            "paces the loop" if paces else "does not wait here; the loop keeps the time",
            waited * 1000,
            refresh,
        )
        return paces

    def set_swap_interval(self, interval: int) -> None:
        """Present every `interval`-th refresh (where vsync paces the loop); else no-op."""
        if self._window is None or not self.vsync_paces or interval == self.swap_interval:
            return
        with self._current():
            glfw.swap_interval(interval)
        self.swap_interval = interval

    @staticmethod
    def _monitor_count() -> int:
        return len(glfw.get_monitors() or [])

    def _open_preview(self, title: str, spec: PreviewSpec) -> None:
        """The second window: its context shares the program's textures and programs; it
        gets its own blit VAO. Never vsynced (the program's swap paces the show)."""
        w, h = spec.size or preview_size(self.width, self.height)
        window = glfw.create_window(w, h, title, None, self._window)
        if not window:
            raise RuntimeError("glfw could not open the preview window")
        self._preview = window
        glfw.set_key_callback(window, self._on_key)
        with self._on(window):
            glfw.swap_interval(0)
            self._preview_vao = self._ctx.vertex_array(self._blit, [])
        index = preview_monitor(self._monitor_count(), self.monitor, spec.monitor)
        log.info("preview window on monitor %d (the program's: %d)", index, self.monitor)
        monitor = self._find_monitor(index)
        if monitor and spec.fullscreen:
            self._fullscreen_on(window, monitor)
        elif monitor:
            x, y, mw, mh = glfw.get_monitor_workarea(monitor)
            glfw.set_window_pos(window, x + max(0, (mw - w) // 2), y + max(0, (mh - h) // 2))

    @contextmanager
    def _on(self, window: Any) -> Iterator[None]:
        """`window`'s GL context current (same moderngl objects), then the program's again."""
        glfw.make_context_current(window)
        try:
            yield
        finally:
            glfw.make_context_current(self._window)

    def _setup_gl(self) -> None:
        ctx = self._ctx
        assert ctx is not None
        programs: dict[str, Program] = {}
        try:
            for name in self._names:
                programs[name] = compile_program(ctx, name, self.shader_dir)
        except ShaderError:
            for p in programs.values():
                p.release()
            raise
        self._programs = programs
        self._update_specs()
        if self.upload == "auto":
            software = any(n in ctx.info["GL_RENDERER"] for n in ("llvmpipe", "softpipe"))
            self.upload = "direct" if software else "pbo"
        self._blit = ctx.program(vertex_shader=_BLIT_VERT, fragment_shader=_BLIT_FRAG)
        self._blit_vao = ctx.vertex_array(self._blit, [])
        self._mix = ctx.program(vertex_shader=_BLIT_VERT, fragment_shader=MIX_FRAG)
        self._mix["u_a"].value, self._mix["u_b"].value = 0, 1
        self._mix_vao = ctx.vertex_array(self._mix, [])
        self._black = ctx.texture((1, 1), 4, bytes(4))
        self._output = self._framebuffer((self.width, self.height), dtype="f1")
        self._screen = (
            self._framebuffer((self.width, self.height), dtype="f1") if self.headless else None
        )

    def _framebuffer(self, size: tuple[int, int], dtype: str) -> moderngl.Framebuffer:
        assert self._ctx is not None
        tex = self._ctx.texture(size, 4, dtype=dtype)
        tex.repeat_x = tex.repeat_y = False
        fbo = self._ctx.framebuffer([tex])
        fbo.clear(0.0, 0.0, 0.0, 1.0)
        return fbo

    def _update_specs(self) -> None:
        self._specs = {
            f"{p.name}.{k}": s for p in self._programs.values() for k, s in p.params.items()
        }

    @contextmanager
    def _current(self) -> Iterator[None]:
        if self._closed or self._ctx is None:
            raise RuntimeError("Display is closed")
        if self._window is not None:
            glfw.make_context_current(self._window)
            yield
        else:
            with self._ctx:
                yield

    # -- per frame -------------------------------------------------------------------------

    def _upload(self, frame: np.ndarray) -> None:
        """The frame into the source texture — not again when it is the same read-only array
        as last time (the stage marks its images read-only: a repeated image costs nothing)."""
        if frame is self._frame and not frame.flags.writeable:
            return
        self._frame = frame if isinstance(frame, np.ndarray) else None
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or 0 in frame.shape:
            raise ValueError(f"frame must be HxWx3, got shape {frame.shape}")
        if frame.dtype == np.uint8:
            dtype = "f1"
        elif np.issubdtype(frame.dtype, np.floating):
            frame, dtype = frame.astype(np.float32, copy=False), "f4"
        else:
            raise ValueError(f"frame must be uint8 or float in [0, 1], got {frame.dtype}")
        frame = np.ascontiguousarray(frame)
        h, w = frame.shape[:2]
        if self._source_key != (w, h, dtype):
            if self._source_tex is not None:
                self._source_tex.release()
            assert self._ctx is not None
            self._source_tex = self._ctx.texture((w, h), 3, dtype=dtype, alignment=1)
            self._source_tex.repeat_x = self._source_tex.repeat_y = False
            self._source_key = (w, h, dtype)
            content = fit((w, h), (self.width, self.height))
            if content != self._content:
                self._content = content
                self._targets_dirty = True
        assert self._source_tex is not None
        if self.upload == "pbo":  # through a pixel buffer: the driver copies asynchronously
            data = memoryview(frame).cast("B")
            if self._pbo is None or self._pbo.size != data.nbytes:
                if self._pbo is not None:
                    self._pbo.release()
                self._pbo = self._ctx.buffer(reserve=data.nbytes, dynamic=True)
            else:
                self._pbo.orphan(data.nbytes)  # a fresh store: never waits on the last copy
            self._pbo.write(data)
            self._source_tex.write(self._pbo)
        else:
            self._source_tex.write(frame)
        self._source_serial = self._next_serial()

    def _upload_from(self, frame: np.ndarray) -> None:
        """A crossfade's outgoing frame (uploaded once per fade: it does not change)."""
        if frame is self._from_frame:
            return
        self._from_frame = frame  # (as given: the next frame's `is` compares with it)
        frame = np.ascontiguousarray(frame, np.uint8)
        h, w = frame.shape[:2]
        if self._from_tex is None or self._from_tex.size != (w, h):
            if self._from_tex is not None:
                self._from_tex.release()
            self._from_tex = self._ctx.texture((w, h), 3, alignment=1)
            self._from_tex.repeat_x = self._from_tex.repeat_y = False
        self._from_tex.write(frame)
        self._from_serial = self._next_serial()

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def _ensure_targets(self) -> None:
        if not self._targets_dirty:
            return
        assert self._content is not None and self._source_tex is not None
        self._release_targets()
        cw, ch = self._content[2:]
        fw, fh = self._source_tex.size
        scale = 1.0
        if self.effects_scale > 0:
            scale = min(1.0, self.effects_scale * max(fw, fh) / max(cw, ch))
        self._work = (max(1, round(cw * scale)), max(1, round(ch * scale)))
        self._up = self._framebuffer(self._work, "f1")
        self._output.clear(0.0, 0.0, 0.0, 1.0)
        self._output.viewport = self._content
        self._targets_dirty = False

    def _release_targets(self) -> None:
        for chain in self._chains.values():
            chain.release()
        self._chains = {}
        for name in ("_up", "_mixed", "_xfade"):
            fbo = getattr(self, name)
            if fbo is not None:
                fbo.color_attachments[0].release()
                fbo.release()
                setattr(self, name, None)
        self._up_key = self._present_key = None

    def draw(
        self,
        frame: np.ndarray,
        params: Mapping[str, float],
        time: float,
        hud: Sequence[str] | None = None,
        status: str | None = None,
        *,
        chain: Sequence[str] | None = None,
        fade_from: np.ndarray | None = None,
        fade: float = 1.0,
        chain_from: Sequence[str] | None = None,
        chain_fade: float = 1.0,
    ) -> dict[str, float]:
        """Upload `frame` (HxWx3, row 0 = top), run the chain, blit to the screen + HUD, and
        `status` (a few words: what is not well) small in the screen's top right corner. Neither
        the HUD nor the status mark is ever in the show output (`read_pixels`).

        `chain`: this frame's programs between upscale and present (None: the display's own).
        `fade_from`, `fade`: another frame (the outgoing model's) under this one, which weighs
        `fade` (0 … 1, eased), each at its own aspect. `chain_from`, `chain_fade`: another
        chain (the outgoing scene's), drawn from the same frame and dissolved under this one.
        A read-only `frame` that is the same array as last time is not uploaded again.

        Returns CPU-side seconds for {"upload", "draw"}.
        """
        with self._current():
            t0 = perf_counter()
            self._upload(frame)
            crossfading = fade_from is not None and fade < 1.0
            if crossfading:
                self._upload_from(fade_from)
            t1 = perf_counter()
            self._ensure_targets()
            self._draws += 1
            source, serial = self._source_tex, self._source_serial
            if crossfading:
                source, serial = self._crossfade(fade)
            up = self._upscale(source, serial, params)
            names = self.chain if chain is None else tuple(chain)
            tex, serial = self._run_chain(names, up, params, time)
            if chain_from is not None and tuple(chain_from) != names and chain_fade < 1.0:
                old, old_serial = self._run_chain(tuple(chain_from), up, params, time)
                tex, serial = self._dissolve(old, old_serial, tex, serial, chain_fade)
            self._present(tex, serial, params, time)
            self._forget_idle_chains()
            if self._window is None:  # headless: nobody sees the stand-in screen until it is
                self._screen_pending = (hud, status)  # read (read_screen): painted then
            else:
                self._draw_screens(hud, status)
            t2 = perf_counter()
        return {"upload": t1 - t0, "draw": t2 - t1}

    def _crossfade(self, fade: float) -> tuple[moderngl.Texture, int]:
        """The outgoing frame under the new one at `fade`, at the new frame's size."""
        size = self._source_tex.size
        if self._xfade is None or self._xfade.size != size:
            if self._xfade is not None:
                self._xfade.color_attachments[0].release()
                self._xfade.release()
            self._xfade = self._framebuffer(size, "f1")
        rect = letterbox_rect(self._from_tex.size, size)
        self._mix_into(self._xfade, self._from_tex, self._source_tex, rect, smoothstep(fade))
        return self._xfade.color_attachments[0], self._next_serial()

    def _dissolve(
        self, a: moderngl.Texture, a_serial: int, b: moderngl.Texture, b_serial: int, u: float
    ) -> tuple[moderngl.Texture, int]:
        if self._mixed is None:
            self._mixed = self._framebuffer(self._work, "f1")
        self._mix_into(self._mixed, a, b, (0.0, 0.0, 1.0, 1.0), smoothstep(u))
        return self._mixed.color_attachments[0], self._next_serial()

    def _mix_into(
        self,
        target: moderngl.Framebuffer,
        a: moderngl.Texture,
        b: moderngl.Texture,
        rect: tuple[float, ...],
        weight: float,
    ) -> None:
        target.use()
        a.use(0)
        b.use(1)
        self._mix["u_rect"].value = rect
        self._mix["u_weight"].value = weight
        self._mix_vao.render(moderngl.TRIANGLES, vertices=3)

    def _render(
        self,
        program: Program,
        target: moderngl.Framebuffer,
        source: moderngl.Texture,
        previous: moderngl.Texture,
        values: tuple[float, ...],
        time: float,
        size: tuple[int, int],
    ) -> None:
        target.use()
        source.use(0)
        previous.use(1)
        program.set_uniforms(values, time, size, source.size)
        program.vao.render(moderngl.TRIANGLES, vertices=3)

    def _upscale(
        self, source: moderngl.Texture, serial: int, params: Mapping[str, float]
    ) -> tuple[moderngl.Texture, int]:
        program = self._programs[FIRST_PASS]
        values = program.values(params)
        key = pass_key(program, values, serial)
        if key is None or key != self._up_key:
            self._render(program, self._up, source, self._black, values, 0.0, self._work)
            self._up_key, self._up_serial = key, self._next_serial()
        return self._up.color_attachments[0], self._up_serial

    def _chain_targets(self, names: tuple[str, ...]) -> ChainTargets:
        chain = self._chains.get(names)
        if chain is None:
            missing = [n for n in names if n not in self._programs]
            if missing:
                raise ValueError(f"programs not compiled for this display: {', '.join(missing)}")
            chain = ChainTargets.make(
                names, self._programs, lambda dtype: self._framebuffer(self._work, dtype)
            )
            self._chains[names] = chain
        chain.used = self._draws
        return chain

    def _run_chain(
        self,
        names: tuple[str, ...],
        up: tuple[moderngl.Texture, int],
        params: Mapping[str, float],
        time: float,
    ) -> tuple[moderngl.Texture, int]:
        """The chain's passes from the upscaled frame: skipped where bypassed (all params at
        their no-op values) or where nothing they read has changed."""
        chain = self._chain_targets(names)
        source, serial = up
        for i, name in enumerate(names):
            program = self._programs[name]
            if program.bypassed(params):
                chain.stale[i], chain.keys[i] = True, None
                continue
            pair = chain.targets[i]
            if chain.stale[i]:  # back after a skip: start its feedback from black
                for fbo in pair:
                    fbo.clear(0.0, 0.0, 0.0, 1.0)
                chain.stale[i] = False
            values = program.values(params)
            key = pass_key(program, values, serial)
            if key is None or key != chain.keys[i]:
                target, previous = pair[chain.write[i]], self._black
                if len(pair) == 2:
                    previous = pair[1 - chain.write[i]].color_attachments[0]
                    chain.write[i] ^= 1
                self._render(program, target, source, previous, values, time, self._work)
                chain.keys[i], chain.serials[i] = key, self._next_serial()
            source, serial = chain.last_written(i), chain.serials[i]
        return source, serial

    def _present(
        self, source: moderngl.Texture, serial: int, params: Mapping[str, float], time: float
    ) -> None:
        program = self._programs[LAST_PASS]
        values = program.values(params)
        key = pass_key(program, values, serial)
        if key is None or key != self._present_key:
            self._render(
                program, self._output, source, self._black, values, time, self._content[2:]
            )
            self._present_key = key

    def _forget_idle_chains(self) -> None:
        """A chain not drawn for a while gives its framebuffers back."""
        for names, chain in list(self._chains.items()):
            if self._draws - chain.used > IDLE_CHAIN_DRAWS:
                chain.release()
                del self._chains[names]

    def _draw_screens(self, hud: Sequence[str] | None, status: str | None) -> None:
        """The program window (or headless screen), then the preview: the operator's view
        (HUD, overlay, status mark) goes to the preview when there is one."""
        ctx = self._ctx
        assert ctx is not None
        if self._window is not None:
            screen = ctx.screen
            self._screen_size = glfw.get_framebuffer_size(self._window)
        else:
            assert self._screen is not None
            screen = self._screen
        preview = self._preview is not None
        program_status = not preview if self.program_status is None else self.program_status
        self._paint(
            screen,
            self._screen_size,
            self._blit_vao,
            None if preview else hud,
            status if program_status else None,
            overlay=not preview,
            copy=True,
        )
        if preview:
            with self._on(self._preview):
                self._preview_size = glfw.get_framebuffer_size(self._preview)
                self._paint(ctx.screen, self._preview_size, self._preview_vao, hud, status)

    def _paint(
        self,
        screen: moderngl.Framebuffer,
        size: tuple[int, int],
        vao: moderngl.VertexArray,
        hud: Sequence[str] | None,
        status: str | None,
        overlay: bool = True,
        copy: bool = False,
    ) -> None:
        """The output letterboxed into `screen` (`size` pixels), then what is asked over it.
        `copy`: a framebuffer copy where the sizes match — only in the output's own context:
        framebuffers are not shared between contexts (Mesa shares them; the spec does not)."""
        ctx = self._ctx
        fw, fh = size
        if fw < 1 or fh < 1:  # minimised
            return
        if copy and (fw, fh) == (self.width, self.height):  # software GL: far cheaper
            ctx.copy_framebuffer(screen, self._output)
            screen.use()
        else:  # letterbox the output into the window
            screen.use()
            screen.clear(0.0, 0.0, 0.0, 1.0, viewport=(0, 0, fw, fh))
            ctx.viewport = fit((self.width, self.height), (fw, fh))
            self._output.color_attachments[0].use(0)
            vao.render(moderngl.TRIANGLES, vertices=3)
        if overlay and self._overlay is not None:
            self._draw_overlay(ctx, fw, vao)
        if hud:
            self._hud_tex = self._text(self._hud, self._hud_tex, hud)
            w, h = self._hud_tex.size
            self._blend(self._hud_tex, (0, fh - h, w, h), vao)
        if status:
            self._mark_tex = self._text(self._mark, self._mark_tex, [status])
            w, h = self._mark_tex.size
            box_w = self._mark.box[0]
            self._blend(self._mark_tex, (max(0, fw - box_w - 4), fh - h - 4, w, h), vao)

    def _text(
        self, hud: Hud, tex: moderngl.Texture | None, lines: Sequence[str]
    ) -> moderngl.Texture:
        """`lines` rendered by `hud` into `tex` (made or remade as its size needs)."""
        if hud.update(lines) or tex is None:
            image = np.ascontiguousarray(hud.image[::-1])
            size = (image.shape[1], image.shape[0])
            if tex is None or tex.size != size:
                if tex is not None:
                    tex.release()
                tex = self._ctx.texture(size, 4)
                tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
            tex.write(image)
        return tex

    def _blend(
        self,
        tex: moderngl.Texture,
        viewport: tuple[int, int, int, int],
        vao: moderngl.VertexArray,
    ) -> None:
        ctx = self._ctx
        ctx.viewport = viewport
        ctx.enable(moderngl.BLEND)
        ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
        tex.use(0)
        vao.render(moderngl.TRIANGLES, vertices=3)
        ctx.disable(moderngl.BLEND)

    # -- read back / window ------------------------------------------------------------------

    def set_overlay(self, image: np.ndarray | None) -> None:
        """A small RGB picture (row 0 = top) drawn at the bottom right of the screen (of the
        preview, when there is one) after the next draws, never into the show output; None
        removes it. Re-uploaded only when it changes."""
        if image is not self._overlay:
            self._overlay, self._overlay_new = image, image is not None

    def _draw_overlay(
        self, ctx: moderngl.Context, screen_w: int, vao: moderngl.VertexArray
    ) -> None:
        image = self._overlay
        assert image is not None
        h, w = image.shape[:2]
        if self._overlay_new:
            if self._overlay_tex is None or self._overlay_tex.size != (w, h):
                if self._overlay_tex is not None:
                    self._overlay_tex.release()
                self._overlay_tex = ctx.texture((w, h), 3, alignment=1)
            self._overlay_tex.write(np.ascontiguousarray(image[::-1], np.uint8))
            self._overlay_new = False
        ctx.viewport = (max(0, screen_w - w - 8), 8, w, h)  # bottom right, clear of the HUD
        self._overlay_tex.use(0)
        vao.render(moderngl.TRIANGLES, vertices=3)

    def read_later(self, tag: object = None) -> list[tuple[np.ndarray, object]]:
        """Start reading the show output back without waiting for it (pixel-buffer objects);
        returns the reads that have finished since — (pixels as `read_pixels` gives them, tag)
        — a frame or two behind. `read_pending` returns the rest at the end."""
        with self._current():
            if self._readback is None:
                self._readback = Readback(self._ctx, (self.width, self.height))
            self._readback.request(self._output, tag)
            done = []
            while (read := self._readback.collect()) is not None:
                done.append(read)
        return done

    def read_pending(self) -> list[tuple[np.ndarray, object]]:
        """Every read started by `read_later` and not yet returned, oldest first."""
        if self._readback is None or self._closed:
            return []
        with self._current():
            return self._readback.drain()

    def read_pixels(self) -> np.ndarray:
        """The show output without HUD: (height, width, 3) uint8 RGB, row 0 = top."""
        with self._current():
            data = self._output.read(components=3)
        return np.frombuffer(data, np.uint8).reshape(self.height, self.width, 3)[::-1].copy()

    def read_screen(self) -> np.ndarray:
        """What the program window (or headless screen) shows after the last draw (window:
        read before present())."""
        w, h = self._screen_size
        with self._current():
            if self._screen_pending is not None:
                self._draw_screens(*self._screen_pending)
                self._screen_pending = None
            fbo = self._screen if self._screen is not None else self._ctx.screen  # type: ignore[union-attr]
            data = fbo.read(viewport=(0, 0, w, h), components=3)
        return np.frombuffer(data, np.uint8).reshape(h, w, 3)[::-1].copy()

    def read_preview(self) -> np.ndarray:
        """What the preview window shows after the last draw (read before present())."""
        if self._preview is None:
            raise RuntimeError("no preview window is open")
        w, h = self._preview_size
        with self._current(), self._on(self._preview):
            data = self._ctx.screen.read(viewport=(0, 0, w, h), components=3)  # type: ignore[union-attr]
        return np.frombuffer(data, np.uint8).reshape(h, w, 3)[::-1].copy()

    @property
    def has_preview(self) -> bool:
        """True while the preview window is open."""
        return self._preview is not None

    def present(self) -> None:
        """Swap buffers (the preview's, then the program's, which waits for vsync); nothing
        headless."""
        if self._window is None or self._closed:
            return
        if self._preview is not None:
            with self._on(self._preview):  # EGL (Wayland) swaps only the current context
                glfw.swap_buffers(self._preview)
        glfw.swap_buffers(self._window)

    def poll(self) -> list[KeyEvent]:
        """Process window events; the key events (of both windows) queued since the last
        call."""
        if self._window is None or self._closed:
            return []
        glfw.poll_events()
        events, self._events = self._events, []
        return events

    def _on_key(self, window: object, key: int, scancode: int, action: int, mods: int) -> None:
        name = _KEY_NAMES.get(key)
        if name is not None and action in _ACTIONS:
            names = frozenset(n for bit, n in _MODS.items() if mods & bit)
            self._events.append(KeyEvent(name, names, _ACTIONS[action]))

    def should_close(self) -> bool:
        """True once a window's close button (the program's or the preview's) was pressed;
        never headless."""
        return any(
            w is not None and bool(glfw.window_should_close(w))
            for w in (self._window, self._preview)
        )

    def toggle_fullscreen(self) -> None:
        """The program window: window <-> fullscreen on the configured monitor; nothing
        headless."""
        if self._window is None or self._closed:
            return
        window = self._window
        if glfw.get_window_monitor(window):
            x, y, w, h = self._windowed_rect
            glfw.set_window_monitor(window, None, x, y, w, h, 0)
            return
        monitor = self._find_monitor(self.monitor)
        if not monitor:
            log.warning("no monitor found: staying windowed")
            return
        self._windowed_rect = (*glfw.get_window_pos(window), *glfw.get_window_size(window))
        self._fullscreen_on(window, monitor)

    @staticmethod
    def _find_monitor(index: int) -> Any:
        """glfw's monitor `index`, or the primary (with a warning) when out of range."""
        monitors = glfw.get_monitors() or []
        if 0 <= index < len(monitors):
            return monitors[index]
        log.warning(
            "monitor %d out of range (%d connected): using the primary monitor",
            index,
            len(monitors),
        )
        return glfw.get_primary_monitor()

    @staticmethod
    def _fullscreen_on(window: Any, monitor: Any) -> None:
        mode = glfw.get_video_mode(monitor)
        if not mode:
            log.warning("the monitor reports no video mode: staying windowed")
            return
        glfw.set_window_monitor(
            window, monitor, 0, 0, mode.size.width, mode.size.height, mode.refresh_rate
        )

    # -- shaders -------------------------------------------------------------------------------

    def reload_shaders(self) -> list[str]:
        """Recompile the chain from disk; a program that fails keeps its old version.

        Returns the error messages (empty if every program compiled).
        """
        errors: list[str] = []
        with self._current():
            assert self._ctx is not None
            for name, old in list(self._programs.items()):
                try:
                    new = compile_program(self._ctx, name, self.shader_dir)
                except ShaderError as e:
                    log.warning("shader reload failed, keeping the old %s:\n%s", name, e)
                    errors.append(str(e))
                    continue
                if new.uses_previous != old.uses_previous:
                    self._targets_dirty = self._content is not None
                old.release()
                self._programs[name] = new
            self._up_key = self._present_key = None  # draw everything anew
            for chain in self._chains.values():
                chain.keys = [None] * len(chain.keys)
        self._update_specs()
        return errors

    @property
    def param_specs(self) -> dict[str, ParamSpec]:
        """The specs by "program.param" name, for every program in the chain."""
        return dict(self._specs)

    # -- teardown ------------------------------------------------------------------------------

    def close(self) -> None:
        """Release GL objects, destroy the windows, terminate glfw; safe to call twice."""
        if self._closed:
            return
        try:
            if self._ctx is not None:
                with self._current():
                    self._release_gl()
                self._ctx.release()
        except Exception:
            log.exception("releasing the display's GL objects failed")
        finally:
            self._closed = True
            self._ctx = None
            for window in (self._preview, self._window):
                if window is not None:
                    glfw.destroy_window(window)
            self._preview = self._window = None
            if self._glfw_inited:
                glfw.terminate()
                self._glfw_inited = False

    def _release_gl(self) -> None:
        if self._preview_vao is not None:
            with self._on(self._preview):
                self._preview_vao.release()
            self._preview_vao = None
        if self._readback is not None:
            self._readback.release()
            self._readback = None
        for program in self._programs.values():
            program.release()
        self._programs = {}
        self._release_targets()
        for fbo in (self._output, self._screen):
            if fbo is not None:
                fbo.color_attachments[0].release()
                fbo.release()
        for obj in (
            self._source_tex,
            self._from_tex,
            self._pbo,
            self._mix_vao,
            self._mix,
            self._hud_tex,
            self._mark_tex,
            self._overlay_tex,
            self._black,
            self._blit_vao,
            self._blit,
        ):
            if obj is not None:
                obj.release()

    def __enter__(self) -> Display:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
