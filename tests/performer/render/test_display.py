"""Display: the shader chain on a headless EGL context (and a real window under Xvfb).

Frames go in, pixels are read back and checked: letterboxing, orientation, grading,
feedback, texture reuse, HUD, shader errors, live reload and the include/param parser;
the program and preview windows under Xvfb.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
from pathlib import Path

import glfw
import numpy as np
import pytest

from performer.render.display import (
    Display,
    KeyEvent,
    PreviewSpec,
    choose_preview,
    preview_monitor,
    preview_size,
)
from performer.render.hud import Hud
from performer.render.shaders import (
    ParamSpec,
    ShaderError,
    check_shader,
    load_shader_source,
    shader_params,
)

SHADERS = Path(__file__).resolve().parents[3] / "shaders"
W, H = 160, 120
RED, GREEN, BLUE, YELLOW = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)


def quadrants(h: int = 64, w: int = 64) -> np.ndarray:
    """Red top-left, green top-right, blue bottom-left, yellow bottom-right (row 0 = top)."""
    f = np.zeros((h, w, 3), np.uint8)
    f[: h // 2, : w // 2] = RED
    f[: h // 2, w // 2 :] = GREEN
    f[h // 2 :, : w // 2] = BLUE
    f[h // 2 :, w // 2 :] = YELLOW
    return f


def gradient(h: int = 64, w: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.stack([x / (w - 1), y / (h - 1), 0.5 + 0.4 * np.sin(x / 7 + y / 11)], axis=-1)
    return (rgb * 255 + 0.5).astype(np.uint8)


def make_display(chain: list[str], shader_dir: Path = SHADERS, **kw) -> Display:
    return Display(width=W, height=H, chain=chain, shader_dir=shader_dir, headless=True, **kw)


@pytest.fixture
def display():
    d = make_display(["grade", "trails"])
    yield d
    d.close()


@pytest.fixture
def shader_dir(tmp_path: Path) -> Path:
    """A private, editable copy of the project's shaders."""
    return Path(shutil.copytree(SHADERS, tmp_path / "shaders"))


def diff(a: np.ndarray, b: np.ndarray | tuple[int, ...]) -> np.ndarray:
    return np.abs(np.asarray(a, int) - np.asarray(b, int))


# --- the chain ------------------------------------------------------------------------------


def test_square_frame_is_pillarboxed_right_way_up(display: Display) -> None:
    display.draw(quadrants(), {}, 0.0)
    px = display.read_pixels()
    assert px.shape == (H, W, 3) and px.dtype == np.uint8
    # 64x64 into 160x120: content 120x120 at x = 20..139, black bars left and right.
    assert px[:, :20].max() == 0 and px[:, 140:].max() == 0
    assert px[:, 20:140].max(axis=(0, 2)).min() > 0
    # Quadrant centres, away from the interpolated seams.
    assert diff(px[30, 50], RED).max() <= 2
    assert diff(px[30, 110], GREEN).max() <= 2
    assert diff(px[90, 50], BLUE).max() <= 2
    assert diff(px[90, 110], YELLOW).max() <= 2


def test_wide_frame_is_letterboxed(display: Display) -> None:
    frame = quadrants(128, 256)  # e.g. two 128 px images side by side
    display.draw(frame, {"upscale.filter": 0.0}, 0.0)
    px = display.read_pixels()
    # 256x128 into 160x120: content 160x80 at y = 20..99, bars top and bottom.
    assert px[:20].max() == 0 and px[100:].max() == 0
    assert diff(px[21, 1], RED).max() == 0
    assert diff(px[98, 158], YELLOW).max() == 0


def test_filters_match_reference_resampling() -> None:
    frame = gradient()
    with make_display([]) as d:
        # Nearest: each output pixel centre picks the source texel under it, exactly.
        d.draw(frame, {"upscale.filter": 0}, 0.0)
        pos = (np.arange(120) + 0.5) * 64 / 120
        idx = pos.astype(int)
        clear = pos % 1 != 0  # a centre exactly on a texel edge may round either way
        nearest = d.read_pixels()[:, 20:140]
        assert diff(nearest, frame[idx][:, idx])[clear][:, clear].max() <= 1
        # Bilinear agrees with OpenCV's (same pixel-centre convention).
        cv2 = pytest.importorskip("cv2")
        d.draw(frame, {"upscale.filter": 1}, 0.0)
        bilinear = d.read_pixels()[:, 20:140]
        reference = cv2.resize(frame, (120, 120), interpolation=cv2.INTER_LINEAR)
        assert diff(bilinear[2:-2, 2:-2], reference[2:-2, 2:-2]).max() <= 2
        # Bicubic (the default) is close to bilinear on a smooth image but not identical.
        d.draw(frame, {}, 0.0)
        bicubic = d.read_pixels()[:, 20:140]
        assert diff(bicubic, bilinear).mean() < 2
        assert diff(bicubic, bilinear).max() > 0


def test_grade_defaults_leave_image_and_params_change_it() -> None:
    frame = gradient()
    with make_display([]) as plain, make_display(["grade"]) as graded:
        plain.draw(frame, {}, 0.0)
        graded.draw(frame, {"unknown.key": 5.0, "grade.nope": 1.0}, 0.0)  # ignored
        reference = plain.read_pixels()
        assert diff(graded.read_pixels(), reference).max() <= 1  # all defaults: skipped
        graded.draw(frame, {"grade.vignette": 1e-6}, 0.0)  # runs, and is (nearly) the identity
        assert diff(graded.read_pixels(), reference).max() <= 1

        graded.draw(frame, {"grade.saturation": 0.0}, 0.0)
        grey = graded.read_pixels().astype(int)
        content = grey[:, 20:140]
        assert np.abs(content[..., 0] - content[..., 1]).max() <= 1
        assert np.abs(content[..., 1] - content[..., 2]).max() <= 1
        assert content.std() > 20  # still an image, not a flat field

        graded.draw(frame, {"grade.exposure": -1.0}, 0.0)
        half = graded.read_pixels().astype(int)
        assert np.abs(half - reference // 2).max() <= 2

        graded.draw(frame, {"grade.tint_r": 0.0}, 0.0)
        assert graded.read_pixels()[..., 0].max() == 0

        graded.draw(np.full((64, 64, 3), 200, np.uint8), {"grade.vignette": 1.0}, 0.0)
        vignetted = graded.read_pixels()
        assert vignetted[60, 80, 0] > 190 and vignetted[2, 22, 0] < 120


def test_effects_at_reduced_size_still_fill_the_output() -> None:
    """effects_scale=1: grade runs at the frame's own 32 px, present scales to 120 px; the
    output matches the full-size chain up to resampling, letterbox bars intact."""
    frame = gradient(32, 32)
    params = {"grade.saturation": 0.5}
    outs = []
    for scale in (0.0, 1.0):
        d = make_display(["grade"], effects_scale=scale)
        try:
            d.draw(frame, params, 0.0)
            outs.append(d.read_pixels().astype(float))
            assert d._work == ((120, 120) if scale == 0 else (32, 32))
        finally:
            d.close()
    full, reduced = outs
    assert reduced[:, :18].max() < 3 and reduced[:, 142:].max() < 3
    assert np.abs(full[:, 20:140] - reduced[:, 20:140]).mean() < 6


def test_float_frames_are_accepted() -> None:
    with make_display([]) as d:
        d.draw(quadrants().astype(np.float32) / 255.0, {}, 0.0)
        assert diff(d.read_pixels()[30, 50], RED).max() <= 2


def test_trails_keep_some_of_the_previous_frame() -> None:
    white = np.full((64, 64, 3), 255, np.uint8)
    black = np.zeros((64, 64, 3), np.uint8)
    with make_display(["trails"]) as d:
        d.draw(white, {"trails.decay": 0.9}, 0.0)
        d.draw(black, {"trails.decay": 0.9}, 1 / 60)
        first = int(d.read_pixels()[60, 80, 0])
        d.draw(black, {"trails.decay": 0.9}, 2 / 60)
        second = int(d.read_pixels()[60, 80, 0])
        assert abs(first - 0.9 * 255) <= 2
        assert abs(second - 0.81 * 255) <= 2
        for i in range(60):  # a 16-bit float feedback buffer fades all the way out
            d.draw(black, {"trails.decay": 0.9}, i / 60)
        assert d.read_pixels().max() <= 1
        # decay 0 (the default) is off: the old frame is gone at once.
        d.draw(white, {"trails.decay": 0.9}, 3.0)
        d.draw(black, {}, 3.1)
        assert d.read_pixels().max() == 0
        # ...and the pass was skipped, so its history restarts from black, not that white.
        d.draw(black, {"trails.decay": 0.9}, 3.2)
        assert d.read_pixels().max() == 0


def test_textures_and_framebuffers_are_reused(display: Display) -> None:
    frame = quadrants()
    display.draw(frame, {}, 0.0)

    def fbos() -> list:
        return [display._up, *(list(p) for p in display._chains[display.chain].targets)]

    texture, targets = display._source_tex, fbos()
    for i in range(3):
        display.draw(np.roll(frame, i, axis=1), {}, i / 60)
        assert display._source_tex is texture
        assert fbos() == targets
    assert len(targets[-1]) == 2  # trails reads its previous output: a ping-pong pair
    display.draw(quadrants(128, 128), {}, 1.0)  # same aspect, new size: new texture only
    assert display._source_tex is not texture and display._source_tex.size == (128, 128)
    assert fbos() == targets


def test_hud_in_screen_not_in_output(display: Display) -> None:
    grey = np.full((64, 64, 3), 128, np.uint8)
    display.draw(grey, {}, 0.0, hud=["HUD 12.3 fps", "scene 1"])
    px, screen = display.read_pixels(), display.read_screen()
    assert screen.shape == px.shape == (H, W, 3)
    corner = (slice(0, 30), slice(20, 100))
    assert px[corner].min() == px[corner].max() == 128  # the output has no HUD
    assert screen[corner].max() > 200  # white text
    assert screen[corner].min() < 80  # on a dark box
    assert np.array_equal(screen[60:], px[60:])  # elsewhere the screen is the output
    hud_tex = display._hud_tex
    display.draw(grey, {}, 0.1, hud=["HUD 12.3 fps", "scene 1"])
    assert display._hud_tex is hud_tex  # unchanged lines: nothing re-rendered
    display.draw(grey, {}, 0.2)
    assert np.array_equal(display.read_screen(), px)


def test_hud_renders_only_on_change() -> None:
    hud = Hud()
    assert hud.update(["a", "bb"])
    image = hud.image
    assert image.dtype == np.uint8 and image.shape[2] == 4 and image[..., 3].max() > 240
    assert not hud.update(["a", "bb"]) and hud.image is image
    assert hud.update(["a"]) and hud.image.shape == image.shape  # the canvas never shrinks
    # Hershey fonts are ASCII: typography is spelled out rather than drawn as '?'.
    assert np.array_equal(hud.render(["cue 1 → 2 — ok"]), hud.render(["cue 1 -> 2 - ok"]))


def test_close_twice_and_use_after_close() -> None:
    d = make_display([])
    d.draw(quadrants(), {}, 0.0)
    d.close()
    d.close()
    with pytest.raises(RuntimeError, match="closed"):
        d.draw(quadrants(), {}, 0.0)
    assert d.poll() == [] and not d.should_close()


def test_param_specs_cover_the_chain(display: Display) -> None:
    specs = display.param_specs
    assert specs["upscale.filter"] == ParamSpec(2.0, 0.0, 2.0)
    assert specs["grade.saturation"] == ParamSpec(1.0, 0.0, 3.0)
    assert specs["trails.decay"] == ParamSpec(0.0, 0.0, 0.99)
    assert all(s.min <= s.default <= s.max for s in specs.values())
    assert specs["present.master"] == ParamSpec(1.0, 0.0, 1.0)  # the blackout fader
    assert {k.split(".")[0] for k in specs} == {"upscale", "grade", "trails", "present"}


# --- shader files -----------------------------------------------------------------------------


def test_project_shaders_compile() -> None:
    for name in ("upscale", "grade", "trails", "present"):
        assert check_shader(name, SHADERS) is None


def test_check_shader_names_file_and_line(shader_dir: Path) -> None:
    (shader_dir / "broken.glsl").write_text(
        '#version 330 core\n#include "common.glsl"\nout vec4 f_color;\n'
        "void main() {\n    f_color = vec4(undeclared_thing);\n}\n"
    )
    message = check_shader("broken", shader_dir)
    assert message is not None
    assert f"{shader_dir / 'broken.glsl'}:5:" in message and "undeclared_thing" in message
    # An error inside an included file points into that file.
    (shader_dir / "bad_helper.glsl").write_text("// helper\nfloat helper() { return nope; }\n")
    (shader_dir / "uses_helper.glsl").write_text(
        '#version 330 core\n#include "bad_helper.glsl"\nout vec4 f_color;\n'
        "void main() { f_color = vec4(helper()); }\n"
    )
    message = check_shader("uses_helper", shader_dir)
    assert message is not None and f"{shader_dir / 'bad_helper.glsl'}:2:" in message
    assert "not found" in (check_shader("no_such_program", shader_dir) or "")


def test_broken_shader_at_startup_raises(shader_dir: Path) -> None:
    (shader_dir / "grade.glsl").write_text("#version 330 core\nvoid main() { oops }\n")
    with pytest.raises(ShaderError, match="grade.glsl:2"):
        make_display(["grade"], shader_dir)
    with pytest.raises(ShaderError, match="not found"):
        make_display(["missing"], shader_dir)


def test_reload_keeps_old_program_on_error(shader_dir: Path) -> None:
    frame = gradient()
    params = {"grade.saturation": 0.5}  # not all defaults, or the pass would be skipped
    grade = shader_dir / "grade.glsl"
    with make_display(["grade"], shader_dir) as d:
        d.draw(frame, params, 0.0)
        before = d.read_pixels()
        grade.write_text(grade.read_text().replace("f_color = vec4(", "f_color = vec4(nope + "))
        errors = d.reload_shaders()
        assert len(errors) == 1 and str(grade) in errors[0]
        d.draw(frame, params, 0.1)
        assert np.array_equal(d.read_pixels(), before)  # the old program is still drawing
        # A good edit (invert, and a new param) takes effect on the next reload.
        source = grade.read_text().replace("f_color = vec4(nope + ", "f_color = vec4(1.0 - ")
        source = source.replace(
            "uniform float vignette;",
            "uniform float extra; // @param default=0.5 min=0 max=1\nuniform float vignette;",
        )
        grade.write_text(source)
        assert d.reload_shaders() == []
        assert d.param_specs["grade.extra"] == ParamSpec(0.5, 0.0, 1.0)
        d.draw(frame, params, 0.2)
        after = d.read_pixels()
        assert diff(after[:, 20:140], 255 - before[:, 20:140]).max() <= 1


def test_pass_is_skipped_at_its_bypass_values(shader_dir: Path) -> None:
    # This program ignores `amount`, so only skipping it can leave the image alone.
    (shader_dir / "invert.glsl").write_text(
        "#version 330 core\nin vec2 v_uv;\nout vec4 f_color;\nuniform sampler2D u_source;\n"
        "uniform float amount; // @param default=0 min=0 max=1 bypass=0\n"
        "void main() { f_color = vec4(1.0 - texture(u_source, v_uv).rgb, 1.0); }\n"
    )
    frame = quadrants()
    with make_display(["invert"], shader_dir) as d:
        d.draw(frame, {}, 0.0)
        assert diff(d.read_pixels()[30, 50], RED).max() <= 2
        d.draw(frame, {"invert.amount": 0.5}, 0.1)
        assert diff(d.read_pixels()[30, 50], (0, 255, 255)).max() <= 2


def test_shader_params_parse_annotations(tmp_path: Path) -> None:
    (tmp_path / "fx.glsl").write_text(
        "#version 330 core\n"
        "uniform float amount;   // @param default=0.5 min=0 max=1\n"
        "uniform float mode_sel; // @param name=mode default=2 min=0 max=2 bypass=1\n"
        "uniform float plain;    // not a param\n"
        "uniform vec2 u_resolution;\n"
    )
    assert shader_params("fx", tmp_path) == {
        "amount": ParamSpec(0.5, 0.0, 1.0),
        "mode": ParamSpec(2.0, 0.0, 2.0),
    }
    (tmp_path / "bad.glsl").write_text(
        "#version 330 core\n\nuniform float x; // @param default=5 min=0 max=1\n"
    )
    with pytest.raises(ShaderError, match=r"bad\.glsl:3: @param x"):
        shader_params("bad", tmp_path)
    (tmp_path / "bad2.glsl").write_text("uniform float y; // @param default=abc min=0 max=1\n")
    with pytest.raises(ShaderError, match=r"bad2\.glsl:1: .*not a number"):
        shader_params("bad2", tmp_path)
    (tmp_path / "bad3.glsl").write_text("uniform float z; // @param default=0 min=0 max=1 step=2\n")
    with pytest.raises(ShaderError, match=r"bad3\.glsl:1: .*bad field 'step=2'"):
        shader_params("bad3", tmp_path)


def test_includes_resolve_once_and_missing_include_names_line(tmp_path: Path) -> None:
    (tmp_path / "a.glsl").write_text('#version 330 core\n#include "b.glsl"\n#include "c.glsl"\nA\n')
    (tmp_path / "b.glsl").write_text('B1\n#include "c.glsl"\nB2\n')
    (tmp_path / "c.glsl").write_text('C\n  #include "a.glsl"\n')  # a cycle: ends at the guard
    lines = load_shader_source("a", tmp_path).splitlines()
    assert [x for x in lines if x.strip()] == ["#version 330 core", "B1", "C", "B2", "A"]
    (tmp_path / "m.glsl").write_text('#version 330 core\n\n\n#include "missing.glsl"\n')
    with pytest.raises(ShaderError, match=r"m\.glsl:4: .*missing\.glsl"):
        load_shader_source("m", tmp_path)


# --- a real window under Xvfb ------------------------------------------------------------------


def test_window_under_xvfb(xvfb: str, caplog: pytest.LogCaptureFixture) -> None:
    assert os.environ["DISPLAY"] == xvfb
    frame = quadrants()
    with make_display([]) as headless:
        headless.draw(frame, {}, 0.0)
        expected = headless.read_pixels()
    d = Display(
        width=W, height=H, chain=["grade"], shader_dir=SHADERS, headless=False, vsync=False,
        monitor=7,
    )  # fmt: skip
    try:
        assert d.poll() == [] and not d.should_close()
        d.draw(frame, {}, 0.0, hud=["window"])
        assert diff(d.read_pixels(), expected).max() <= 1
        screen = d.read_screen()
        assert screen.shape == (H, W, 3)
        assert diff(screen[60:], expected[60:]).max() <= 1  # below the HUD: the output
        assert not np.array_equal(screen[:20], expected[:20])  # the HUD
        d.present()
        # Key events arrive through the glfw callback, named and filtered.
        d._on_key(None, glfw.KEY_A, 0, glfw.PRESS, glfw.MOD_SHIFT | glfw.MOD_CONTROL)
        d._on_key(None, glfw.KEY_PAGE_UP, 0, glfw.RELEASE, 0)
        d._on_key(None, glfw.KEY_KP_5, 0, glfw.PRESS, 0)  # not in the key map: dropped
        assert d.poll() == [
            KeyEvent("a", frozenset({"shift", "ctrl"}), "press"),
            KeyEvent("page_up", frozenset(), "release"),
        ]
        assert d.poll() == []
        # Monitor 7 does not exist: fullscreen goes to the primary one, with a warning.
        with caplog.at_level(logging.WARNING, logger="performer.render.display"):
            d.toggle_fullscreen()
        assert "out of range" in caplog.text
        d.poll()
        d.draw(frame, {}, 0.1)
        big = d.read_screen()  # the 160x120 output scaled into the 640x480 screen
        assert big.shape == (480, 640, 3)
        assert big[:, :70].max() == 0 and big[:, 570:].max() == 0
        assert diff(big[120, 200], RED).max() <= 2 and diff(big[360, 440], YELLOW).max() <= 2
        d.present()
        d.toggle_fullscreen()
        d.poll()
        d.draw(frame, {}, 0.2)
        assert d.read_screen().shape == (H, W, 3)
        assert diff(d.read_pixels(), expected).max() <= 1
    finally:
        d.close()
        d.close()


# --- program and preview ----------------------------------------------------------------------


def test_choose_preview_monitor_and_size() -> None:
    assert not choose_preview(1, None) and choose_preview(2, None) and choose_preview(3, None)
    assert choose_preview(1, True) and not choose_preview(2, False) and not choose_preview(0, None)
    # The preview goes where asked, else on the first monitor that is not the program's.
    assert preview_monitor(2, 0, None) == 1 and preview_monitor(2, 1, None) == 0
    assert preview_monitor(3, 2, None) == 0 and preview_monitor(1, 0, None) == 0
    assert preview_monitor(2, 7, None) == 1  # program out of range: it is on the primary
    assert preview_monitor(3, 0, 0) == 0 and preview_monitor(2, 0, 5) == 5  # (warned later)
    assert preview_size(1920, 1080) == (960, 540) and preview_size(1080, 1920) == (540, 960)
    assert preview_size(640, 480) == (640, 480)  # never scaled up


def test_preview_is_ignored_headless(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="performer.render.display"):
        d = make_display([], preview=PreviewSpec(enabled=True))
    with d:
        assert not d.has_preview and "no preview" in caplog.text
        d.draw(np.full((48, 64, 3), 128, np.uint8), {}, 0.0, hud=["hud"], status="camera lost")
        assert d.read_screen()[:20, :60].max() > 200  # no preview: the screen has the HUD
        with pytest.raises(RuntimeError, match="no preview"):
            d.read_preview()


def _window_display(**kw) -> Display:
    return Display(
        width=W, height=H, chain=[], shader_dir=SHADERS, headless=False, vsync=False, **kw
    )  # fmt: skip


def test_program_and_preview_under_xvfb(xvfb: str) -> None:
    grey = np.full((48, 64, 3), 128, np.uint8)  # 4:3 like the output: no letterbox bars
    d = _window_display(preview=PreviewSpec(enabled=True, size=(320, 240)))
    try:
        assert d.has_preview and glfw.get_window_size(d._preview) == (320, 240)
        assert glfw.get_window_pos(d._preview) == (160, 120)  # centred on the 640x480 screen
        d.set_overlay(np.full((16, 16, 3), (0, 0, 255), np.uint8))
        d.draw(grey, {}, 0.0, hud=["HUD 12.3 fps", "scene 1"], status="camera lost")
        picture = d.read_pixels()
        assert diff(picture, 128).max() <= 1
        # The program window: the clean picture — no HUD, no status mark, no face preview.
        program = d.read_screen()
        assert program.shape == (H, W, 3) and diff(program, picture).max() <= 1
        # The preview: the picture, twice the size, with all of the operator's view over it.
        preview = d.read_preview()
        assert preview.shape == (240, 320, 3)
        assert diff(preview[100:200, 20:200], 128).max() <= 1  # the picture, below the HUD
        hud = preview[0:30, 0:100]
        assert hud.max() > 200 and hud.min() < 80  # white text on a dark box, top left
        mark = preview[0:30, 220:]
        r, g, b = (mark[..., i].astype(int) for i in range(3))
        assert ((r > 200) & (b < 150)).any()  # the orange status mark, top right
        assert preview[230, 305, 2] > 200 and preview[230, 305, 0] < 50  # the overlay
        d.present()

        # program_status puts the mark on the projector too (HUD and overlay stay off it).
        d.program_status = True
        d.draw(grey, {}, 0.1, hud=["HUD"], status="camera lost")
        program = d.read_screen()
        assert not np.array_equal(program[:20, 100:], picture[:20, 100:])  # the mark
        assert diff(program[:20, :60], picture[:20, :60]).max() <= 1  # no HUD
        assert diff(program[100:, 130:], picture[100:, 130:]).max() <= 1  # no overlay
        d.program_status = None
        d.present()

        # Keys typed in the preview arrive through poll(), with the program window's.
        callback = glfw.set_key_callback(d._preview, None)
        glfw.set_key_callback(d._preview, callback)
        assert callback == d._on_key
        callback(d._preview, glfw.KEY_H, 0, glfw.PRESS, 0)
        d._on_key(d._window, glfw.KEY_SPACE, 0, glfw.PRESS, glfw.MOD_SHIFT)
        assert d.poll() == [
            KeyEvent("h", frozenset(), "press"),
            KeyEvent("space", frozenset({"shift"}), "press"),
        ]

        # Fullscreen is the program's; the preview stays as it is.
        d.toggle_fullscreen()
        d.poll()
        d.draw(grey, {}, 0.2, hud=["HUD"])
        assert d.read_screen().shape == (480, 640, 3)
        assert d.read_preview().shape == (240, 320, 3)
        d.present()

        # Closing the preview window ends the show like closing the program window.
        assert not d.should_close()
        glfw.set_window_should_close(d._preview, True)
        assert d.should_close()
    finally:
        d.close()
        d.close()
    assert not d.has_preview and not d.should_close() and d.poll() == []
    with pytest.raises(RuntimeError, match="no preview"):
        d.read_preview()


# (One Display per Xvfb: a server whose last client has gone resets, and may refuse the next.)


def test_no_preview_with_one_monitor_under_xvfb(xvfb: str) -> None:
    """One monitor (Xvfb): no preview unless asked, and the window is as it always was."""
    with _window_display(preview=PreviewSpec()) as d:
        assert not d.has_preview
        d.draw(quadrants(48, 64), {}, 0.0, hud=["HUD"], status="camera lost")
        assert d.read_screen()[:20, :40].max() > 200  # the HUD on the one window


def test_preview_of_the_program_size_under_xvfb(xvfb: str) -> None:
    """Asked, with the default size: the program's, on the one monitor. Framebuffers are not
    shared between GL contexts (Mesa shares them, other drivers need not): the output is
    copied by framebuffer only into the program window, drawn as a texture into the preview."""
    frame = quadrants(48, 64)
    with _window_display(preview=PreviewSpec(enabled=True, monitor=3)) as d:
        assert d.has_preview and glfw.get_window_size(d._preview) == (W, H)
        copy, copied_in = d._ctx.copy_framebuffer, []

        def spy(dst, src) -> None:
            copied_in.append(ctypes.addressof(glfw.get_current_context().contents))
            copy(dst, src)

        d._ctx.copy_framebuffer = spy
        d.draw(frame, {}, 0.0, hud=["HUD"])
        assert copied_in == [ctypes.addressof(d._window.contents)]
        picture = d.read_pixels()
        assert diff(d.read_screen(), picture).max() <= 1
        preview = d.read_preview()
        assert diff(preview[60:], picture[60:]).max() <= 1  # below the HUD: the picture
        assert diff(preview[90, 40], BLUE).max() <= 2  # right way up
        assert not np.array_equal(preview[:20], picture[:20])
        d.present()


def test_a_repeated_read_only_frame_draws_nothing_again() -> None:
    """The same read-only image with static passes and unchanged params: no pass is drawn
    again (their inputs did not change) and the output stays; a writeable array that changed
    in place, or a new parameter value, is drawn."""
    with make_display(["grade", "posterize"]) as d:
        frame = gradient()
        frame.flags.writeable = False
        params = {"posterize.levels": 4.0}
        d.draw(frame, params, 0.0)
        first, drawn = d.read_pixels(), d._serial
        for i in range(3):
            d.draw(frame, params, (i + 1) / 60)
        assert d._serial == drawn  # nothing drawn, nothing uploaded
        assert np.array_equal(d.read_pixels(), first)
        d.draw(frame, {"posterize.levels": 8.0}, 0.1)  # a parameter moved: drawn again
        assert d._serial > drawn and not np.array_equal(d.read_pixels(), first)
        mutable = gradient()
        d.draw(mutable, params, 0.2)
        mutable[:] = 0  # the caller may change a writeable array: it is uploaded again
        d.draw(mutable, params, 0.3)
        assert d.read_pixels().max() == 0


def test_chains_change_per_frame_and_dissolve() -> None:
    """A scene's own chain: drawn as asked; during a fade from another chain both are drawn
    from the same frame and blended (eased), at the end only the new one."""
    posterized, plain = {"posterize.levels": 2.0}, {}
    frame = gradient()
    with make_display([], chains=[["posterize"]]) as d:
        d.draw(frame, posterized, 0.0, chain=["posterize"])
        a = d.read_pixels().astype(float)
        d.draw(frame, posterized, 0.0, chain=[])
        b = d.read_pixels().astype(float)
        assert np.abs(a - b).mean() > 5  # the chains differ
        d.draw(frame, posterized, 0.0, chain=[], chain_from=["posterize"], chain_fade=0.0)
        assert np.abs(d.read_pixels() - a).max() <= 1  # fade 0: the old chain alone
        d.draw(frame, posterized, 0.0, chain=[], chain_from=["posterize"], chain_fade=0.5)
        assert np.abs(d.read_pixels() - (a + b) / 2).max() <= 1.5  # eased 0.5 is 0.5
        d.draw(frame, plain, 0.0, chain=[], chain_from=["posterize"], chain_fade=1.0)
        assert np.abs(d.read_pixels() - b).max() <= 1
        with pytest.raises(ValueError, match="not compiled"):
            d.draw(frame, plain, 0.0, chain=["kaleido"])


def test_an_idle_chain_gives_its_framebuffers_back() -> None:
    from performer.render.display import IDLE_CHAIN_DRAWS

    with make_display(["grade"], chains=[["trails"]]) as d:
        frame = gradient()
        d.draw(frame, {"trails.decay": 0.5}, 0.0, chain=["trails"])
        assert ("trails",) in d._chains
        for i in range(IDLE_CHAIN_DRAWS + 2):
            d.draw(frame, {}, i / 60)
        assert ("trails",) not in d._chains and ("grade",) in d._chains


def test_an_upload_through_a_pixel_buffer_is_the_same_picture() -> None:
    """The PBO path (the default on a GPU's GL) draws exactly what the direct upload does."""
    frames = [gradient(), quadrants(), gradient(48, 64)]
    with make_display(["grade"], upload="pbo") as pbo, make_display(["grade"]) as direct:
        assert direct.upload == "direct"  # llvmpipe: software GL copies directly
        for frame in frames:
            pbo.draw(frame, {}, 0.0)
            direct.draw(frame, {}, 0.0)
            assert np.array_equal(pbo.read_pixels(), direct.read_pixels())
