"""`stage check`: the show file's validation plus "can every part open?" — every checkpoint
(opened once and shared by the parts' checks), every shader and parameter, the face (camera,
model, mappings), OSC mappings, and every output. Each problem names its key path.
"""

from __future__ import annotations

from typing import Any

from performer.show import Show


def check_show(show: Show) -> list[str]:
    """Every problem with running `show` here, or [] when it can play."""
    from performer.inputs.face.rig import check_face
    from performer.inputs.osc.link import osc_problems
    from performer.outputs import check_outputs

    loaded, problems = _checkpoints(show)
    specs, shader_problems = _shaders(show)
    problems += shader_problems + _latents(show, loaded) + _params(show, specs)
    problems += _anchors(show, loaded)  # scenes anchored on a picture: readable, an encoder
    problems += check_face(show, loaded)  # camera, face model, mappings, video needs an encoder
    problems += osc_problems(show, specs, loaded)  # [[osc.map]] targets the show does not have
    size = (show.output.width, show.output.height)
    problems += check_outputs(show.outputs, size, show.output.fps)  # NDI, virtual camera
    return problems


def _checkpoints(show: Show) -> tuple[dict[str, Any], list[str]]:
    from models.checkpoint import CheckpointError
    from performer.engine.worker import open_model

    loaded, problems = {}, []
    for m in show.models:
        try:
            loaded[m.name] = open_model(
                m.checkpoint, class_index=m.class_index, truncation=m.truncation
            )
        except CheckpointError as e:
            problems.append(f"models.{m.name}.checkpoint: {e}")
    return loaded, problems


def _anchors(show: Show, loaded: dict[str, Any]) -> list[str]:
    from performer.engine.anchors import anchor_scenes

    return anchor_scenes(show, loaded)[1]


def _latents(show: Show, loaded: dict[str, Any]) -> list[str]:
    problems = []
    dims = {name: int(m.generator.z_dim) for name, m in loaded.items()}
    for i, sc in enumerate(show.scenes):
        if sc.z is not None and sc.model in dims and len(sc.z) != dims[sc.model]:
            problems.append(
                f"scenes[{i}].z: model {sc.model!r} has a {dims[sc.model]}-d latent,"
                f" the vector has {len(sc.z)} values"
            )
    return problems


def _shaders(show: Show) -> tuple[dict[str, Any], list[str]]:
    from performer.render.shaders import ShaderError, check_shader, shader_params

    specs, problems = {}, []
    for name in show.programs:
        try:
            error = check_shader(name, show.shader_dir)
            if error:
                problems.append(f"shaders: {error}")
            specs.update(
                {f"{name}.{k}": v for k, v in shader_params(name, show.shader_dir).items()}
            )
        except (ShaderError, OSError) as e:
            problems.append(f"shaders: {name}: {e}")
    return specs, problems


def _params(show: Show, specs: dict[str, Any]) -> list[str]:
    from performer.core.automation import ENGINE_PARAMS

    problems = []
    sources = [("shaders.params", show.params)]
    sources += [(f"scenes[{i}].params", sc.params) for i, sc in enumerate(show.scenes)]
    sources += [(f"cues.order[{i}].params", st.params) for i, st in enumerate(show.cue_steps)]
    programs = show.programs
    for where, params in sources:
        for key, value in params.items():
            spec = specs.get(key) or ENGINE_PARAMS.get(key)
            if spec is None:
                if key.split(".")[0] in programs:
                    problems.append(f"{where}.{key}: the shader declares no such parameter")
                else:
                    program = key.split(".")[0]
                    problems.append(f"{where}.{key}: {program!r} is in no shader chain")
            elif not spec.min <= value <= spec.max:
                problems.append(
                    f"{where}.{key}: expected a value in [{spec.min:g}, {spec.max:g}],"
                    f" got {value:g}"
                )
    return problems
