"""Writes integrations/latent-stage.maxpat: a Max patch that sends every stage address from UI
objects (sliders, numbers, toggles, menus, message boxes) and shows the stage's feedback.

    python integrations/make_maxpat.py      # regenerate after changing the address space
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "latent-stage.maxpat"

SCENES = ["drift", "face", "mirror", "equilibrium", "shards"]  # the default show's
PARAMS = [  # (name, min, max): the default chain's main parameters and the engine's
    ("grade.saturation", 0.0, 3.0),
    ("grade.contrast", 0.0, 3.0),
    ("grade.exposure", -4.0, 4.0),
    ("grade.hue", -180.0, 180.0),
    ("trails.decay", 0.0, 0.99),
    ("present.master", 0.0, 1.0),
    ("latent.speed", 0.0, 10.0),
    ("latent.amplitude", 0.0, 4.0),
    ("latent.per_beat", 0.0, 4.0),
]
IO = {  # maxclass → (inlets, outlets, outlet types)
    "message": (2, 1, [""]),
    "comment": (1, 0, []),
    "number": (1, 2, ["", "bang"]),
    "flonum": (1, 2, ["", "bang"]),
    "toggle": (1, 1, ["int"]),
    "slider": (1, 1, [""]),
    "multislider": (1, 2, ["", ""]),
    "umenu": (1, 3, ["int", "", ""]),
}


class Patch:
    def __init__(self) -> None:
        self.boxes: list[dict] = []
        self.lines: list[dict] = []

    def box(
        self,
        maxclass: str,
        rect: tuple[float, float, float, float],
        text: str = "",
        io: tuple[int, int, list[str]] | None = None,
        **extra: object,
    ) -> str:
        ident = f"obj-{len(self.boxes) + 1}"
        inlets, outlets, types = io or IO[maxclass]
        box: dict[str, object] = {
            "id": ident,
            "maxclass": maxclass,
            "numinlets": inlets,
            "numoutlets": outlets,
            "patching_rect": list(rect),
        }
        if types:
            box["outlettype"] = types
        if text:
            box["text"] = text
        if maxclass in ("number", "flonum", "toggle", "slider", "multislider", "umenu"):
            box["parameter_enable"] = 0
        box.update(extra)
        self.boxes.append({"box": box})
        return ident

    def obj(self, text: str, rect: tuple[float, float, float, float]) -> str:
        head, *args = text.split()
        io = {
            "prepend": (1, 1, [""]),
            "pak": (len(args), 1, [""]),
            "s": (1, 0, []),
            "r": (0, 1, [""]),
            "udpsend": (1, 0, []),
            "udpreceive": (1, 1, [""]),
            "print": (1, 0, []),
            "metro": (2, 1, ["bang"]),
            "route": (1, len(args) + 1, [""] * (len(args) + 1)),
        }[head]
        return self.box("newobj", rect, text, io)

    def line(self, src: str, dst: str, outlet: int = 0, inlet: int = 0) -> None:
        self.lines.append({"patchline": {"source": [src, outlet], "destination": [dst, inlet]}})

    def send(self, src: str, address: str, x: float, y: float, outlet: int = 0) -> None:
        """src → [prepend address] → [s stage-osc]"""
        p = self.obj(f"prepend {address}", (x, y, 200.0, 22.0))
        s = self.obj("s stage-osc", (x, y + 28, 90.0, 22.0))
        self.line(src, p, outlet)
        self.line(p, s)

    def message(self, text: str, x: float, y: float, w: float = 200.0) -> None:
        """A clickable message box sending straight to the stage."""
        m = self.box("message", (x, y, w, 22.0), text)
        self.line(m, self.obj("s stage-osc", (x, y + 28, 90.0, 22.0)))

    def comment(self, text: str, x: float, y: float, w: float = 300.0) -> None:
        self.box("comment", (x, y, w, 20.0), text)


def build() -> dict:
    p = Patch()
    p.comment("latent-stage: every OSC address of the stage, from UI objects", 20, 10, 500)
    p.comment("edit the host/port here (the show's [osc] host and port)", 20, 34, 400)
    r = p.obj("r stage-osc", (20, 60, 90, 22))
    p.line(r, p.obj("udpsend 127.0.0.1 9000", (20, 90, 160, 22)))

    # -- scenes and cues
    x, y = 20, 140
    p.comment("scene by name / by index + fade (s; or 8b = 8 beats)", x, y, 380)
    menu = p.box("umenu", (x, y + 25, 140, 22), items=_items(SCENES))
    p.send(menu, "/stage/scene", x, y + 55, outlet=1)
    index = p.box("number", (x + 220, y + 25, 50, 22))
    fade = p.box("flonum", (x + 280, y + 25, 50, 22), format=6)
    pak = p.obj("pak 0 2.", (x + 220, y + 55, 70, 22))
    p.line(index, pak)
    p.line(fade, pak, 0, 1)
    p.send(pak, "/stage/scene", x + 220, y + 85)
    p.message("/stage/scene equilibrium 8b", x, y + 120, 220)
    y = 300
    p.comment("cues", x, y)
    p.message("/stage/cue/prev", x, y + 25, 110)
    p.message("/stage/cue/next", x + 130, y + 25, 110)
    go = p.box("number", (x + 260, y + 25, 50, 22))
    p.send(go, "/stage/cue/go", x + 260, y + 55)

    # -- tempo and beats
    y = 420
    p.comment("tempo (bpm), tap / metro beats", x, y)
    bpm = p.box("number", (x, y + 25, 60, 22), minimum=20, maximum=999)
    p.send(bpm, "/stage/tempo", x, y + 55)
    p.message("/stage/beat", x + 220, y + 25, 90)
    on = p.box("toggle", (x + 330, y + 25, 22, 22))
    metro = p.obj("metro 500", (x + 330, y + 55, 70, 22))
    p.line(on, metro)
    beat = p.box("message", (x + 330, y + 85, 90, 22), "/stage/beat")
    p.line(metro, beat)
    p.line(beat, p.obj("s stage-osc", (x + 330, y + 113, 90, 22)))

    # -- face, blackout, record
    y = 580
    p.comment("face on/off, calibrate; blackout + fade; record a take; flash", x, y, 400)
    face = p.box("toggle", (x, y + 25, 22, 22))
    p.send(face, "/stage/face", x, y + 55)
    p.message("/stage/face/calibrate", x + 220, y + 25, 150)
    y = 680
    black = p.box("toggle", (x, y + 25, 22, 22))
    bfade = p.box("flonum", (x + 40, y + 25, 50, 22), format=6)
    bpak = p.obj("pak 0 1.", (x, y + 55, 70, 22))
    p.line(black, bpak)
    p.line(bfade, bpak, 0, 1)
    p.send(bpak, "/stage/blackout", x, y + 85)
    rec = p.box("toggle", (x + 260, y + 25, 22, 22))
    p.send(rec, "/stage/record", x + 260, y + 55)
    p.message("/stage/flash", x + 330, y + 25, 90)
    p.message("/stage/flash 1 2b", x + 330, y + 55, 120)

    # -- latent directions and the whole vector
    x, y = 560, 140
    p.comment("latent directions 1-8 (offset, -3..3)", x, y)
    for k in range(8):
        sx = x + k * 60
        slider = p.box("slider", (sx, y + 25, 22, 120), floatoutput=1, min=-3.0, size=6.0)
        p.send(slider, f"/stage/latent/{k + 1}", sx, y + 155 + (k % 2) * 60)
    y = 440
    p.comment("the whole latent vector (first 16 values; the rest padded)", x, y, 400)
    ms = p.box("multislider", (x, y + 25, 300, 100), setminmax=[-3.0, 3.0], size=16)
    p.send(ms, "/stage/z", x, y + 135)

    # -- parameters
    x, y = 1100, 140
    p.comment("shader and engine parameters (hold until the next scene)", x, y, 400)
    for i, (name, lo, hi) in enumerate(PARAMS):
        py = y + 25 + i * 70
        f = p.box("flonum", (x, py, 60, 22), format=6, minimum=lo, maximum=hi)
        p.send(f, f"/stage/param/{name}", x + 80, py)
    p.message("/stage/param/grade.saturation 2. 4b", x, y + 25 + len(PARAMS) * 70, 240)

    # -- feedback from the stage
    x, y = 1100, 820
    p.comment("feedback from the stage (the show's [osc] feedback_port)", x, y, 400)
    recv = p.obj("udpreceive 9001", (x, y + 25, 110, 22))
    p.line(recv, p.obj("print stage-feedback", (x + 130, y + 25, 130, 22)))
    names = ["/stage/scene", "/stage/cue", "/stage/fps", "/stage/face/present", "/stage/tempo"]
    route = p.obj("route " + " ".join(names), (x, y + 55, 500, 22))
    p.line(recv, route)
    for i, name in enumerate(names):
        shown = p.obj("prepend set", (x + i * 100, y + 85, 80, 22))
        p.line(route, shown, i)
        p.line(shown, p.box("message", (x + i * 100, y + 113, 90, 22)))
        p.comment(name.removeprefix("/stage/"), x + i * 100, y + 140, 90)

    return {
        "patcher": {
            "fileversion": 1,
            "appversion": {
                "major": 8,
                "minor": 5,
                "revision": 0,
                "architecture": "x64",
                "modernui": 1,
            },
            "classnamespace": "box",
            "rect": [40.0, 80.0, 1640.0, 1060.0],
            "default_fontsize": 12.0,
            "default_fontname": "Arial",
            "gridsize": [15.0, 15.0],
            "boxes": p.boxes,
            "lines": p.lines,
        }
    }


def _items(names: list[str]) -> list[str]:
    out: list[str] = []
    for n in names:
        out += [n, ","]
    return out[:-1]


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
