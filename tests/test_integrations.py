"""integrations/: the Max patch is well-formed and sends every address; the docs' tables match
the address space the code answers."""

import importlib.util
import json
from pathlib import Path

import pytest

from performer.inputs.osc.space import ADDRESS_TABLE
from performer.show.osc import OscSpec

ROOT = Path(__file__).resolve().parents[1]
PATCH = ROOT / "integrations" / "latent-stage.maxpat"


@pytest.fixture(scope="module")
def patcher() -> dict:
    return json.loads(PATCH.read_text(encoding="utf-8"))["patcher"]


def test_patch_is_well_formed(patcher):
    boxes = {b["box"]["id"]: b["box"] for b in patcher["boxes"]}
    assert len(boxes) == len(patcher["boxes"])
    for line in patcher["lines"]:
        (src, outlet), (dst, inlet) = (
            line["patchline"]["source"],
            line["patchline"]["destination"],
        )
        assert 0 <= outlet < boxes[src]["numoutlets"], line
        assert 0 <= inlet < boxes[dst]["numinlets"], line
    for b in boxes.values():
        assert len(b.get("outlettype", [])) == b["numoutlets"], b


def test_patch_sends_every_address_from_ui_objects(patcher):
    boxes = {b["box"]["id"]: b["box"] for b in patcher["boxes"]}
    feeds = {}  # box → the boxes that feed it
    for line in patcher["lines"]:
        feeds.setdefault(line["patchline"]["destination"][0], []).append(
            line["patchline"]["source"][0]
        )
    sent = set()
    for ident, b in boxes.items():
        text = b.get("text", "")
        if b["maxclass"] == "message" and text.startswith("/stage/"):
            sent.add(text.split()[0])  # a message box is itself a UI object (click it)
        elif text.startswith("prepend /stage/"):
            assert feeds.get(ident), f"{text} has no UI object feeding it"
            sent.add(text.split()[1])
    for address, _, _ in ADDRESS_TABLE:
        if "<" in address:
            prefix = address.split("<")[0]
            assert any(s.startswith(prefix) for s in sent), address
        else:
            assert address in sent, address
    spec = OscSpec()
    texts = [b.get("text", "") for b in boxes.values()]
    assert f"udpsend {spec.host} {spec.port}" in texts
    assert f"udpreceive {spec.feedback_port}" in texts


def test_patch_is_what_the_generator_makes():
    spec = importlib.util.spec_from_file_location("make_maxpat", PATCH.with_name("make_maxpat.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert json.loads(PATCH.read_text(encoding="utf-8")) == module.build()


@pytest.mark.parametrize("doc", ["README.md", "integrations/ableton-live.md"])
def test_address_tables_match_the_code(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    for address, args, meaning in ADDRESS_TABLE:
        assert f"| `{address}` | {args} | {meaning} |" in text, address
