"""The image-space crossfade between models, blended on the GPU from two textures, keeps the
outgoing picture's aspect: placed in the incoming frame as large as fits, centred, black bars
around it (as the display letterboxes), never stretched."""

from __future__ import annotations

import numpy as np
import pytest

from performer.render.display import Display
from performer.show import DEFAULT_SHADER_DIR

NEAREST = {"upscale.filter": 0.0}  # output = frame size, nearest: the crossfade's own pixels


def crossfade(a: np.ndarray, b: np.ndarray, u: float) -> np.ndarray:
    """b over a at u, as the display draws it (no effects), read back from the output."""
    h, w = b.shape[:2]
    with Display(width=w, height=h, chain=[], shader_dir=DEFAULT_SHADER_DIR, headless=True) as d:
        d.draw(b, NEAREST, 0.0, fade_from=a, fade=u)
        return d.read_pixels()


RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 160, 64)


def two_to_one(h: int = 40) -> np.ndarray:
    """A 2:1 picture: left half red, right half blue."""
    img = np.zeros((h, 2 * h, 3), np.uint8)
    img[:, :h] = RED
    img[:, h:] = BLUE
    return img


def lit(img: np.ndarray) -> np.ndarray:
    return img.max(axis=2) > 0


def box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the non-black area, end-exclusive."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def test_wide_into_square_is_letterboxed_not_squashed():
    a = two_to_one(40)  # 40 × 80
    b = np.zeros((64, 64, 3), np.uint8)
    b[:] = GREEN
    out = crossfade(a, b, 0.0)
    assert out.shape == b.shape and out.dtype == np.uint8
    top, bottom, left, right = box(lit(out))
    assert (left, right) == (0, 64)  # full width
    assert top > 0 and bottom < 64  # black bars above and below
    assert top == pytest.approx(64 - bottom, abs=1)  # centred
    assert (right - left) / (bottom - top) == pytest.approx(2.0, abs=2 / (bottom - top))
    assert abs((right - left) - 2 * (bottom - top)) <= 1  # 2:1 within a pixel
    assert not out[:top].any() and not out[bottom:].any()  # the bars are black
    band = out[top:bottom]
    assert (band[:, :30] == RED).all() and (band[:, 34:] == BLUE).all()  # red left, blue right


def test_square_into_wide_is_pillarboxed():
    a = np.zeros((50, 50, 3), np.uint8)
    a[:25] = RED  # top red, bottom blue
    a[25:] = BLUE
    b = np.full((60, 120, 3), 90, np.uint8)
    out = crossfade(a, b, 0.0)
    top, bottom, left, right = box(lit(out))
    assert (top, bottom) == (0, 60)  # full height
    assert left > 0 and right < 120 and left == pytest.approx(120 - right, abs=1)
    assert abs((right - left) - (bottom - top)) <= 1  # 1:1 within a pixel
    assert not out[:, :left].any() and not out[:, right:].any()
    assert (out[:28, left:right] == RED).all() and (out[32:, left:right] == BLUE).all()


@pytest.mark.parametrize("wide_first", [True, False])
def test_halfway_is_the_blend_of_both_at_every_pixel(wide_first: bool):
    wide = two_to_one(32)  # 32 × 64
    square = np.zeros((48, 48, 3), np.uint8)
    square[:] = GREEN
    a, b = (wide, square) if wide_first else (square, np.full((40, 80, 3), 200, np.uint8))
    boxed = crossfade(a, b, 0.0)  # a, placed in b's frame
    assert boxed.shape == b.shape
    out = crossfade(a, b, 0.5)
    expected = (boxed.astype(np.float64) + b.astype(np.float64)) / 2  # smoothstep(0.5) = 0.5
    assert np.abs(out.astype(np.float64) - expected).max() <= 1
    assert np.array_equal(crossfade(a, b, 1.0), b)
    if wide_first:  # known colours: bars are half green, the band half red/blue + half green
        top, bottom, _, _ = box(lit(boxed))
        half = lambda *cs: np.mean(cs, axis=0)  # noqa: E731
        assert np.abs(out[:top].astype(float) - half(GREEN, (0, 0, 0))).max() <= 1
        assert np.abs(out[bottom:].astype(float) - half(GREEN, (0, 0, 0))).max() <= 1
        assert np.abs(out[top:bottom, :20].astype(float) - half(GREEN, RED)).max() <= 1
        assert np.abs(out[top:bottom, 28:].astype(float) - half(GREEN, BLUE)).max() <= 1


def test_same_size_is_a_plain_blend():
    a = np.full((16, 16, 3), 100, np.uint8)
    b = np.full((16, 16, 3), 200, np.uint8)
    assert np.array_equal(crossfade(a, b, 0.0), a)
    assert np.abs(crossfade(a, b, 0.5).astype(int) - 150).max() <= 1
