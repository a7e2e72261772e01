"""Readback: pixel-buffer reads on a headless EGL context give exactly what a synchronous
read gives (Display.read_pixels' format: HxWx3 uint8 RGB, row 0 = top), a frame later, in
order, with their tags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

moderngl = pytest.importorskip("moderngl")

from performer.render.readback import Readback  # noqa: E402

SHADERS = Path(__file__).resolve().parents[3] / "shaders"
W, H = 97, 61  # odd: rows of 291 bytes, no 4-byte alignment


@pytest.fixture
def ctx():
    try:
        context = moderngl.create_standalone_context(backend="egl")
    except Exception as e:
        pytest.skip(f"no headless EGL context here: {e}")
    yield context
    context.release()


@pytest.fixture
def target(ctx):
    texture = ctx.texture((W, H), 3)
    fbo = ctx.framebuffer([texture])
    yield texture, fbo
    fbo.release()
    texture.release()


def picture(i: int) -> np.ndarray:
    """Frame i, row 0 = top."""
    return np.random.default_rng(i).integers(0, 256, (H, W, 3), np.uint8)


def upload(texture, image: np.ndarray) -> None:
    texture.write(np.ascontiguousarray(image[::-1]).tobytes())  # GL rows run bottom-up


def sync_read(fbo) -> np.ndarray:
    """What Display.read_pixels does."""
    data = fbo.read(components=3)
    return np.frombuffer(data, np.uint8).reshape(H, W, 3)[::-1].copy()


def test_reads_match_a_synchronous_read_one_frame_later(ctx, target) -> None:
    texture, fbo = target
    rb = Readback(ctx, (W, H), depth=2)
    got = []
    for i in range(5):
        upload(texture, picture(i))
        assert np.array_equal(sync_read(fbo), picture(i))
        rb.request(fbo, tag=i / 30)
        got.append(rb.collect())
    assert got[0] is None  # the first read is still under way
    for i, (pixels, tag) in enumerate(got[1:]):
        assert tag == i / 30
        assert pixels.shape == (H, W, 3) and pixels.dtype == np.uint8
        assert np.array_equal(pixels, picture(i))
    ((pixels, tag),) = rb.drain()
    assert tag == 4 / 30 and np.array_equal(pixels, picture(4))
    assert rb.drain() == [] and rb.collect() is None
    rb.release()
    rb.release()  # twice is fine


def test_a_read_is_the_framebuffer_as_it_was_at_request(ctx, target) -> None:
    texture, fbo = target
    rb = Readback(ctx, (W, H), depth=3)
    upload(texture, picture(7))
    rb.request(fbo, "a")
    upload(texture, picture(8))  # drawn over before the read is collected
    rb.request(fbo, "b")
    out = rb.drain()
    assert [tag for _, tag in out] == ["a", "b"]
    assert np.array_equal(out[0][0], picture(7)) and np.array_equal(out[1][0], picture(8))
    rb.release()


def test_requests_without_collects_keep_every_frame_in_order(ctx, target) -> None:
    texture, fbo = target
    rb = Readback(ctx, (W, H), depth=2)
    for i in range(5):
        upload(texture, picture(i))
        rb.request(fbo, i)
    assert rb.early == 3 and rb.pending == 5
    out = [rb.collect() for _ in range(3)] + rb.drain()
    assert [tag for _, tag in out] == [0, 1, 2, 3, 4]
    assert all(np.array_equal(p, picture(t)) for p, t in out)
    rb.release()


def test_wrong_size_and_depth(ctx, target) -> None:
    _, fbo = target
    with pytest.raises(ValueError, match="depth"):
        Readback(ctx, (W, H), depth=0)
    rb = Readback(ctx, (W + 1, H))
    with pytest.raises(ValueError, match="framebuffer is"):
        rb.request(fbo)
    rb.release()


def test_matches_display_read_pixels() -> None:
    """On the show's own output framebuffer (odd size, letterboxed frame, grade shader)."""
    from performer.render.display import Display

    try:
        display = Display(width=W, height=H, chain=["grade"], shader_dir=SHADERS, headless=True)
    except Exception as e:
        pytest.skip(f"no headless display here: {e}")
    try:
        rng = np.random.default_rng(1)
        frame = rng.integers(0, 256, (32, 48, 3), np.uint8)
        display.draw(frame, {"grade.saturation": 0.5}, 0.0)
        expected = display.read_pixels()
        with display._current():  # what the Display would hold, in its context
            rb = Readback(display._ctx, (W, H))
            rb.request(display._output, "t")
            ((pixels, tag),) = rb.drain()
            rb.release()
    finally:
        display.close()
    assert tag == "t" and np.array_equal(pixels, expected)
    assert expected.std() > 10  # a real picture, not a blank one
