"""NVlabs network pickles read as data: the fixtures' networks, a synthetic pickle built here the
way NVlabs' code writes one, and hostile pickles — each refused with one line, nothing run."""

from __future__ import annotations

import io
import json
import os
import pickle
import sys
import types
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn

from models.stylegan.reader import NetworkPickleError, read_network_pickle, read_pickle
from models.stylegan.stylegan2 import Generator, StyleGAN2Config

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "stylegan"

# What the persistent classes' source looks like to the reader (it is never run): class names
# of NVlabs' StyleGAN2 module, and a payload that would leave a mark if it ever ran.
SG2_SOURCE = """import os
os.system("touch {marker}")
class MappingNetwork: pass
class SynthesisBlock:
    fused_modconv_default = True
class Generator: pass
"""


def fixture(name: str) -> Path:
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(f"fixture {path} is not there")
    return path


# ---------------------------------------------------------------- a pickle as NVlabs writes one


@pytest.fixture
def nvlabs_modules(monkeypatch):
    """Importable stand-ins for `torch_utils.persistence` and `dnnlib.util` while a test pickles,
    so plain `pickle` writes the same globals NVlabs' code does."""

    def _reconstruct_persistent_obj(meta):  # never called: the reader has its own
        raise AssertionError("the reader must not call this")

    class EasyDict(dict):
        pass

    persistence = types.ModuleType("torch_utils.persistence")
    _reconstruct_persistent_obj.__module__ = persistence.__name__
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    util = types.ModuleType("dnnlib.util")
    EasyDict.__module__, EasyDict.__qualname__ = util.__name__, "EasyDict"
    util.EasyDict = EasyDict
    for name, module in [
        ("torch_utils", types.ModuleType("torch_utils")),
        ("torch_utils.persistence", persistence),
        ("dnnlib", types.ModuleType("dnnlib")),
        ("dnnlib.util", util),
    ]:
        monkeypatch.setitem(sys.modules, name, module)
    return types.SimpleNamespace(reconstruct=_reconstruct_persistent_obj, EasyDict=EasyDict)


class Persistent:
    """Pickles as NVlabs' persistent objects do: `_reconstruct_persistent_obj(meta)`."""

    def __init__(self, reconstruct, meta: dict) -> None:
        self.reconstruct, self.meta = reconstruct, meta

    def __reduce__(self):
        return self.reconstruct, (self.meta,)


def as_persistent(module: nn.Module, reconstruct, source: str, kwargs=None) -> Persistent:
    """A module as NVlabs pickles it: class name, its module's source, and its __dict__."""
    state = {
        "training": False,
        "_parameters": OrderedDict(module._parameters),
        "_buffers": OrderedDict(module._buffers),
        "_non_persistent_buffers_set": set(),
        "_modules": OrderedDict(
            (name, as_persistent(sub, reconstruct, source)) for name, sub in module._modules.items()
        ),
        "_init_args": (),
        "_init_kwargs": kwargs or {},
        "weight_gain": 0.5,
    }
    meta = {
        "type": "class",
        "version": 6,
        "module_src": source,
        "class_name": type(module).__name__,
        "state": state,
    }
    return Persistent(reconstruct, meta)


TINY = StyleGAN2Config(
    z_dim=8, w_dim=8, img_resolution=8, channel_base=64, channel_max=8, architecture="skip"
)
TINY_KWARGS = {
    "z_dim": 8,
    "c_dim": 0,
    "w_dim": 8,
    "img_resolution": 8,
    "img_channels": 3,
    "channel_base": 64,
    "channel_max": 8,
    "num_fp16_res": 0,
    "conv_clamp": 256,
    "architecture": "skip",
}


def synthetic_pickle(path: Path, nvlabs, marker: Path) -> Generator:
    """A StyleGAN2-like network pickle at `path` (G, G_ema, D stand-in, training_set_kwargs),
    written with plain pickle; returns the generator its G_ema holds."""
    torch.manual_seed(0)
    G = Generator(TINY).eval()
    with torch.no_grad():
        G.mapping.w_avg.normal_()
        for p in G.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    source = SG2_SOURCE.format(marker=marker)
    kwargs = dict(TINY_KWARGS, mapping_kwargs=nvlabs.EasyDict(num_layers=2))
    top = {
        "G": as_persistent(G, nvlabs.reconstruct, source, kwargs),
        "D": as_persistent(nn.Linear(2, 2), nvlabs.reconstruct, "class Discriminator: pass\n"),
        "G_ema": as_persistent(G, nvlabs.reconstruct, source, kwargs),
        "augment_pipe": None,
        "training_set_kwargs": nvlabs.EasyDict(resolution=8, xflip=False),
    }
    path.write_bytes(pickle.dumps(top, protocol=4))
    return G


def test_a_synthetic_pickle_reads_as_data_and_runs_nothing(tmp_path, nvlabs_modules):
    marker = tmp_path / "ran"
    G = synthetic_pickle(tmp_path / "net.pkl", nvlabs_modules, marker)
    whole = read_pickle(tmp_path / "net.pkl")
    assert not marker.exists()
    assert set(whole.networks) == {"G", "G_ema", "D"}
    assert whole.data == {
        "augment_pipe": None,
        "training_set_kwargs": {"resolution": 8, "xflip": False},
    }
    net = whole.networks["G_ema"]
    assert (net.module, net.class_name) == ("training.networks_stylegan2", "Generator")
    assert net.init_kwargs == dict(TINY_KWARGS, mapping_kwargs={"num_layers": 2})
    assert type(net.init_kwargs["mapping_kwargs"]) is dict  # EasyDict → dict
    expected = G.state_dict()
    assert list(net.state) == list(expected)  # state_dict() names, in its order
    for name, tensor in expected.items():
        assert torch.equal(net.state[name], tensor), name
    assert whole.networks["D"].module == "unknown"


# ---------------------------------------------------------------- the fixtures


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("sg2-tiny-32.pkl", "training.networks_stylegan2"),
        ("sg2-cond-64.pkl", "training.networks_stylegan2"),
        ("sg3t-tiny-32.pkl", "training.networks_stylegan3"),
    ],
)
def test_fixture_networks_read_as_data(name, module):
    whole = read_pickle(fixture(name))
    assert {"G", "G_ema", "D"} <= set(whole.networks)
    assert whole.data["augment_pipe"] is None
    assert "resolution" in whole.data["training_set_kwargs"]
    G = whole.networks["G_ema"]
    assert (G.module, G.class_name) == (module, "Generator")
    assert whole.networks["D"].class_name == "Discriminator"
    json.dumps(G.init_kwargs)  # plain data
    assert G.init_kwargs["mapping_kwargs"]["num_layers"] == 2
    assert {"mapping.fc0.weight", "mapping.fc1.bias", "mapping.w_avg"} <= set(G.state)
    assert all(isinstance(t, torch.Tensor) for t in G.state.values())
    if module.endswith("stylegan2"):
        assert G.state["synthesis.b4.const"].shape[1:] == (4, 4)
        assert G.state["synthesis.b4.conv1.noise_const"].shape == (4, 4)


def test_g_and_g_ema_are_different_networks():
    nets = read_network_pickle(fixture("sg2-tiny-32.pkl"))
    a, b = nets["G"].state, nets["G_ema"].state
    assert a.keys() == b.keys()
    assert any(not torch.equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------- hostile and broken files


class SystemCall:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_a_payload_calling_os_system_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "net.pkl"
    path.write_bytes(pickle.dumps({"G": SystemCall(f"touch {marker}")}))
    with pytest.raises(NetworkPickleError) as e:
        read_network_pickle(path)
    assert not marker.exists()
    message = str(e.value)
    assert message.startswith(f"{path}: refusing to load ")
    assert "'posix.system'" in message or "'os.system'" in message or "'nt.system'" in message
    assert "nothing was run" in message and "\n" not in message


def test_an_unknown_global_is_refused_by_name(tmp_path):
    path = tmp_path / "net.pkl"
    path.write_bytes(pickle.dumps({"G": getattr}))
    with pytest.raises(NetworkPickleError, match=r"net\.pkl: refusing to load 'builtins\.getattr'"):
        read_network_pickle(path)


def test_a_tensorflow_pickle_is_refused_with_the_way_to_convert_it(tmp_path):
    path = tmp_path / "karras2019stylegan-ffhq-1024x1024.pkl"
    # (G, D, Gs) as the TensorFlow code pickled them: dnnlib.tflib.network.Network objects
    network = b"cdnnlib.tflib.network\nNetwork\n)\x81}b"
    path.write_bytes(b"\x80\x02" + network + network + network + b"\x87.")
    with pytest.raises(NetworkPickleError) as e:
        read_network_pickle(path)
    message = str(e.value)
    assert message.startswith(f"{path}: a TensorFlow StyleGAN/StyleGAN2 pickle")
    assert "legacy.py" in message and "\n" not in message


def test_truncated_and_foreign_files_are_clear_errors(tmp_path, nvlabs_modules):
    whole = tmp_path / "whole.pkl"
    synthetic_pickle(whole, nvlabs_modules, tmp_path / "ran")
    data = whole.read_bytes()
    cases = {
        "truncated.pkl": (data[: len(data) // 2], "not a readable network pickle"),
        "notes.pkl": (b"these are not the weights you are looking for\n", "not a readable"),
        "empty.pkl": (b"", "an empty file"),
        "list.pkl": (
            pickle.dumps([1, 2, 3]),
            "not an NVlabs network pickle .its top level is a list",
        ),
        "nothing.pkl": (pickle.dumps({"training_set_kwargs": {}}), "no networks in this pickle"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(NetworkPickleError, match=f"{name}: {message}"):
            read_network_pickle(tmp_path / name)
    torch.save({"state": {}}, tmp_path / "model.pt")
    with pytest.raises(NetworkPickleError, match=r"model\.pt: a zip archive"):
        read_network_pickle(tmp_path / "model.pt")
    with pytest.raises(NetworkPickleError, match=r"missing\.pkl: network pickle not found"):
        read_network_pickle(tmp_path / "missing.pkl")


class Storage:
    """Pickles as torch pickles a storage: `torch.storage._load_from_bytes(blob)`."""

    def __init__(self, blob: bytes) -> None:
        self.blob = blob

    def __reduce__(self):
        return torch.storage._load_from_bytes, (self.blob,)


class Tensor:
    def __init__(self, storage: Storage, numel: int) -> None:
        self.storage, self.numel = storage, numel

    def __reduce__(self):
        args = (self.storage, 0, (self.numel,), (1,), False, OrderedDict())
        return torch._utils._rebuild_tensor_v2, args


def legacy_blob(claimed: int, values: list[float]) -> bytes:
    """A legacy torch.save storage whose record claims `claimed` floats and holds `values`."""

    storage = object()

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if obj is storage:
                return ("storage", torch.FloatStorage, "0", "cpu", claimed, None)
            return None

    f = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001}):
        pickle.dump(header, f, protocol=2)
    Pickler(f, protocol=2).dump(storage)
    pickle.dump(["0"], f, protocol=2)
    f.write(len(values).to_bytes(8, "little"))
    f.write(torch.tensor(values, dtype=torch.float32).numpy().tobytes())
    return f.getvalue()


def test_stored_tensors_are_rebuilt_and_a_forged_size_is_refused(tmp_path, nvlabs_modules):
    def network(blob: bytes, numel: int) -> bytes:
        module = nn.Module()
        module._buffers["x"] = Tensor(Storage(blob), numel)
        return pickle.dumps({"G": as_persistent(module, nvlabs_modules.reconstruct, "")})

    path = tmp_path / "net.pkl"
    path.write_bytes(network(legacy_blob(3, [1.0, 2.0, 3.0]), 3))
    assert torch.equal(read_network_pickle(path)["G"].state["x"], torch.tensor([1.0, 2.0, 3.0]))
    path.write_bytes(network(legacy_blob(10**12, [1.0]), 1))
    with pytest.raises(NetworkPickleError, match=r"claims 4,000,000,000,000 bytes but holds"):
        read_network_pickle(path)
    path.write_bytes(network(legacy_blob(3, [1.0, 2.0, 3.0]), 4))  # a view past its storage
    with pytest.raises(NetworkPickleError, match=r"net\.pkl: a tensor reaching past its storage"):
        read_network_pickle(path)
