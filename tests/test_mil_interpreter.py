"""The NumPy MIL interpreter (export/targets/coreml/mil.py): each op kind against PyTorch, on a
program written with coremltools' MIL builder and saved as a real .mlpackage (no optimisation
passes, so every op survives as written), then whole MeshPose programs against the PyTorch
deployment graph for every CoreML precision."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from meshpose_export.targets.coreml import mil
from meshpose_export.targets.coreml.tools import coremltools_quietly, quiet

RNG = np.random.default_rng(0)
X = RNG.normal(size=(1, 4, 9, 7)).astype(np.float32)
# Conv cases: (name, cout, groups, kernel, strides, dilations, pad_type, pad [top, bottom, left, right]).
CONVS = [
    ("conv_plain", 6, 1, 3, (1, 1), (1, 1), "custom", (1, 1, 1, 1)),
    ("conv_asym_pad", 6, 1, 3, (1, 1), (1, 1), "custom", (2, 0, 0, 1)),
    ("conv_stride2", 6, 1, 3, (2, 2), (1, 1), "custom", (1, 1, 1, 1)),
    ("conv_dilated", 4, 1, 3, (1, 1), (2, 3), "custom", (2, 2, 3, 3)),
    ("conv_groups2", 6, 2, 3, (1, 2), (1, 1), "custom", (1, 1, 0, 2)),
    ("conv_depthwise", 4, 4, 3, (2, 1), (2, 1), "custom", (2, 2, 1, 1)),
    ("conv_same", 5, 1, 4, (2, 2), (1, 1), "same", None),
    ("conv_same_lower", 5, 1, 4, (2, 2), (1, 1), "same_lower", None),
    ("conv_valid_1x1", 8, 1, 1, (1, 1), (1, 1), "valid", None),
]
CONV_W = {n: RNG.normal(size=(c, 4 // g, k, k)).astype(np.float32) for n, c, g, k, *_ in CONVS}
CONV_B = {n: RNG.normal(size=(c,)).astype(np.float32) for n, c, *_ in CONVS}
LUT6 = np.sort(RNG.normal(size=64)).astype(np.float32)
IDX6 = RNG.integers(0, 64, size=(6, 4, 3, 3)).astype(np.uint8)
LUT8 = np.sort(RNG.normal(size=256)).astype(np.float32)
IDX8 = RNG.integers(0, 256, size=(6, 4, 3, 3)).astype(np.uint8)
Q8 = RNG.integers(-128, 128, size=(6, 4, 3, 3)).astype(np.int8)
Q8_SCALE = RNG.uniform(0.01, 0.1, size=6).astype(np.float32)
Q8_ZERO = RNG.integers(-5, 5, size=6).astype(np.int8)
BN = {k: RNG.uniform(0.5, 2.0, size=4).astype(np.float32) for k in ("mean", "variance", "gamma", "beta")}
MAT = RNG.normal(size=(7, 5)).astype(np.float32)


def _build(path: Path, fp16: bool = False) -> None:
    ct = coremltools_quietly()
    from coremltools.converters.mil import Builder as mb
    from coremltools.optimize._utils import pack_elements_into_bits

    outs: dict[str, object] = {}

    @mb.program(input_specs=[mb.TensorSpec(shape=X.shape)], opset_version=ct.target.iOS16)
    def prog(x):
        for name, _c, g, _k, s, d, pad_type, pad in CONVS:
            kw = {"pad": list(pad)} if pad is not None else {}
            outs[name] = mb.conv(
                x=x, weight=CONV_W[name], bias=CONV_B[name], strides=list(s), dilations=list(d),
                pad_type=pad_type, groups=g, name=name, **kw,
            )  # fmt: skip
        outs["conv_no_bias"] = mb.conv(x=x, weight=CONV_W["conv_plain"], pad_type="valid", name="conv_no_bias")
        outs["up_align"] = mb.upsample_bilinear(
            x=x, scale_factor_height=2.0, scale_factor_width=3.0, align_corners=True, name="up_align"
        )
        outs["up_half_pixel"] = mb.upsample_bilinear(
            x=x, scale_factor_height=2.0, scale_factor_width=3.0, align_corners=False, name="up_half_pixel"
        )
        for mode in ("STRICT_ALIGN_CORNERS", "UNALIGN_CORNERS", "DEFAULT", "OFFSET_CORNERS"):
            name = f"resize_{mode.lower()}"
            outs[name] = mb.resize_bilinear(
                x=x, target_size_height=13, target_size_width=5, sampling_mode=mode, name=name
            )
        outs["nearest"] = mb.upsample_nearest_neighbor(x=x, scale_factor_height=2, scale_factor_width=3, name="nearest")
        for axis in (1, 2, -1):
            name = f"softmax_{axis}".replace("-", "m")
            outs[name] = mb.softmax(x=x, axis=axis, name=name)
        r = mb.reshape(x=x, shape=[1, 0, -1, 7], name="reshape_0_m1")
        outs["reshape_0_m1"] = r
        outs["reshape_transpose"] = mb.transpose(
            x=mb.reshape(x=x, shape=[4, 63], name="flat"), perm=[1, 0], name="reshape_transpose"
        )
        outs["reduce_sum_hw"] = mb.reduce_sum(x=x, axes=[2, 3], keep_dims=True, name="reduce_sum_hw")
        outs["reduce_mean_c"] = mb.reduce_mean(x=x, axes=[1], keep_dims=False, name="reduce_mean_c")
        outs["reduce_max_last"] = mb.reduce_max(x=x, axes=[-1], keep_dims=False, name="reduce_max_last")
        outs["reduce_sum_all"] = mb.reduce_sum(x=x, keep_dims=False, name="reduce_sum_all")
        outs["max_pool"] = mb.max_pool(
            x=x, kernel_sizes=[3, 3], strides=[2, 2], pad_type="custom", pad=[1, 1, 1, 1], name="max_pool"
        )
        outs["avg_pool"] = mb.avg_pool(
            x=x, kernel_sizes=[3, 2], strides=[2, 1], pad_type="custom", pad=[1, 1, 0, 1],
            exclude_padding_from_average=False, name="avg_pool",
        )  # fmt: skip
        outs["avg_pool_excl"] = mb.avg_pool(
            x=x, kernel_sizes=[3, 3], strides=[1, 1], pad_type="same", exclude_padding_from_average=True,
            name="avg_pool_excl",
        )  # fmt: skip
        outs["matmul_t"] = mb.matmul(x=x, y=MAT.T.copy(), transpose_y=True, name="matmul_t")
        outs["linear"] = mb.linear(x=x, weight=MAT.T.copy(), bias=np.arange(5, dtype=np.float32), name="linear")
        outs["concat"] = mb.concat(values=[x, mb.relu(x=x)], axis=1, name="concat")
        outs["stack"] = mb.stack(values=[mb.sigmoid(x=x), mb.clip(x=x, alpha=-0.5, beta=0.5)], axis=-1, name="stack")
        outs["relu6_sub_div"] = mb.relu6(x=mb.real_div(x=mb.sub(x=x, y=0.25), y=0.125), name="relu6_sub_div")
        outs["expand_squeeze"] = mb.squeeze(
            x=mb.expand_dims(x=x, axes=[-1], name="expanded"), axes=[0], name="expand_squeeze"
        )
        outs["batch_norm"] = mb.batch_norm(x=x, epsilon=1e-3, name="batch_norm", **BN)
        outs["exp"] = mb.exp(x=x, name="exp")
        outs["tanh"] = mb.tanh(x=x, name="tanh")
        outs["sqrt_abs"] = mb.sqrt(x=mb.abs(x=x), name="sqrt_abs")
        outs["rsqrt_square"] = mb.rsqrt(x=mb.square(x=x), epsilon=1e-3, name="rsqrt_square")
        outs["pow"] = mb.pow(x=mb.abs(x=x), y=1.5, name="pow")
        outs["max_min"] = mb.maximum(x=mb.minimum(x=x, y=0.5), y=-0.5, name="max_min")
        outs["reduce_min"] = mb.reduce_min(x=x, axes=[1], keep_dims=True, name="reduce_min")
        outs["identity"] = mb.identity(x=x, name="identity")
        w_cast = mb.constexpr_cast(
            source_val=CONV_W["conv_plain"].astype(np.float16), output_dtype="fp32", name="w_cast"
        )
        outs["conv_cast_weight"] = mb.conv(x=x, weight=w_cast, pad_type="valid", name="conv_cast_weight")
        w_aff = mb.constexpr_affine_dequantize(
            quantized_data=Q8, zero_point=Q8_ZERO, scale=Q8_SCALE, axis=0, name="w_affine"
        )
        outs["conv_w8"] = mb.conv(x=x, weight=w_aff, pad_type="valid", name="conv_w8")
        for bits, lut, idx in ((6, LUT6, IDX6), (8, LUT8, IDX8)):
            w_lut = mb.constexpr_lut_to_dense(
                indices=pack_elements_into_bits(idx.ravel(), bits),
                lut=lut,
                shape=np.asarray(idx.shape, dtype=np.uint32),
                name=f"w_pal{bits}",
            )
            outs[f"conv_pal{bits}"] = mb.conv(x=x, weight=w_lut, pad_type="valid", name=f"conv_pal{bits}")
        return tuple(outs.values())

    pipeline = ct.PassPipeline.EMPTY
    if fp16:  # only the pass that makes an FP16 program: float16 ops between casts
        for name in ("common::add_fp16_cast", "common::const_elimination", "common::dead_code_elimination"):
            pipeline.append_pass(name)
    with quiet():
        model = ct.convert(
            prog,
            convert_to="mlprogram",
            minimum_deployment_target=ct.target.iOS16,
            compute_precision=ct.precision.FLOAT16 if fp16 else ct.precision.FLOAT32,
            pass_pipeline=pipeline,
        )
        model.save(str(path))


def _expected() -> dict[str, np.ndarray]:
    x = torch.from_numpy(X)
    exp: dict[str, torch.Tensor] = {}
    for name, _c, g, k, s, d, pad_type, pad in CONVS:
        if pad_type == "custom":
            top, bottom, left, right = pad
        elif pad_type == "valid":
            top = bottom = left = right = 0
        else:  # same / same_lower along each axis
            pads = []
            for n, si, di in zip(X.shape[2:], s, d, strict=True):
                total = max((math.ceil(n / si) - 1) * si + (k - 1) * di + 1 - n, 0)
                lo, hi = total // 2, total - total // 2
                pads.append((lo, hi) if pad_type == "same" else (hi, lo))
            (top, bottom), (left, right) = pads
        xp = F.pad(x, (left, right, top, bottom))
        w, b = torch.from_numpy(CONV_W[name]), torch.from_numpy(CONV_B[name])
        exp[name] = F.conv2d(xp, w, b, stride=s, dilation=d, groups=g)
    exp["conv_no_bias"] = F.conv2d(x, torch.from_numpy(CONV_W["conv_plain"]))
    exp["up_align"] = F.interpolate(x, scale_factor=(2, 3), mode="bilinear", align_corners=True)
    exp["up_half_pixel"] = F.interpolate(x, scale_factor=(2, 3), mode="bilinear", align_corners=False)
    exp["resize_strict_align_corners"] = F.interpolate(x, size=(13, 5), mode="bilinear", align_corners=True)
    exp["resize_unalign_corners"] = F.interpolate(x, size=(13, 5), mode="bilinear", align_corners=False)
    exp["nearest"] = F.interpolate(x, scale_factor=(2, 3), mode="nearest")
    for axis in (1, 2, -1):
        exp[f"softmax_{axis}".replace("-", "m")] = torch.softmax(x, dim=axis)
    exp["reshape_0_m1"] = x.reshape(1, 4, -1, 7)
    exp["reshape_transpose"] = x.reshape(4, 63).t()
    exp["reduce_sum_hw"] = x.sum(dim=(2, 3), keepdim=True)
    exp["reduce_mean_c"] = x.mean(dim=1)
    exp["reduce_max_last"] = x.amax(dim=-1)
    exp["reduce_sum_all"] = x.sum()
    exp["max_pool"] = F.max_pool2d(x, 3, 2, padding=1)
    exp["avg_pool"] = F.avg_pool2d(F.pad(x, (0, 1, 1, 1)), (3, 2), (2, 1))
    ones = F.pad(torch.ones(1, 1, 9, 7), (1, 1, 1, 1))
    exp["avg_pool_excl"] = F.avg_pool2d(F.pad(x, (1, 1, 1, 1)), 3, 1, divisor_override=1) / F.avg_pool2d(
        ones, 3, 1, divisor_override=1
    )
    m = torch.from_numpy(MAT)
    exp["matmul_t"] = x @ m
    exp["linear"] = x @ m + torch.arange(5, dtype=torch.float32)
    exp["concat"] = torch.cat([x, torch.relu(x)], dim=1)
    exp["stack"] = torch.stack([torch.sigmoid(x), x.clamp(-0.5, 0.5)], dim=-1)
    exp["relu6_sub_div"] = F.relu6((x - 0.25) / 0.125)
    exp["expand_squeeze"] = x.unsqueeze(-1).squeeze(0)
    bn = {k: torch.from_numpy(v) for k, v in BN.items()}
    exp["batch_norm"] = F.batch_norm(x, bn["mean"], bn["variance"], bn["gamma"], bn["beta"], eps=1e-3)
    exp["exp"] = torch.exp(x)
    exp["tanh"] = torch.tanh(x)
    exp["sqrt_abs"] = x.abs().sqrt()
    exp["rsqrt_square"] = torch.rsqrt(x.square() + 1e-3)
    exp["pow"] = x.abs() ** 1.5
    exp["max_min"] = x.clamp(-0.5, 0.5)
    exp["reduce_min"] = x.amin(dim=1, keepdim=True)
    exp["identity"] = x
    w16 = torch.from_numpy(CONV_W["conv_plain"].astype(np.float16).astype(np.float32))
    exp["conv_cast_weight"] = F.conv2d(x, w16)
    w8 = torch.from_numpy(Q8_SCALE).view(-1, 1, 1, 1) * (
        torch.from_numpy(Q8.astype(np.float32)) - torch.from_numpy(Q8_ZERO.astype(np.float32)).view(-1, 1, 1, 1)
    )
    exp["conv_w8"] = F.conv2d(x, w8)
    exp["conv_pal6"] = F.conv2d(x, torch.from_numpy(LUT6[IDX6]))
    exp["conv_pal8"] = F.conv2d(x, torch.from_numpy(LUT8[IDX8]))
    out = {k: v.numpy() for k, v in exp.items()}
    # No PyTorch equivalent: the grid points of coremltools' documentation, applied with NumPy.
    for mode in ("DEFAULT", "OFFSET_CORNERS"):
        rows = _doc_matrix(13, 9, mode)
        cols = _doc_matrix(5, 7, mode)
        out[f"resize_{mode.lower()}"] = np.einsum("ah,nchw,bw->ncab", rows, X, cols)
    return out


def _doc_matrix(n_out: int, n_in: int, mode: str) -> np.ndarray:
    if mode == "DEFAULT":
        grid = [min(n_in - 1, max(0, i * (n_in - n_in / n_out) / (n_out - 1))) for i in range(n_out)]
    else:
        delta = max(1, n_in - 1) / n_out
        grid = [min(n_in - 1, max(0, 0.5 * delta + i * delta)) for i in range(n_out)]
    m = np.zeros((n_out, n_in))
    for i, g in enumerate(grid):
        lo = math.floor(g)
        hi = min(lo + 1, n_in - 1)
        m[i, lo] += 1 - (g - lo)
        m[i, hi] += g - lo
    return m


@pytest.fixture(scope="module")
def op_program(tmp_path_factory) -> mil.Program:
    path = tmp_path_factory.mktemp("mil") / "ops.mlpackage"
    _build(path)
    return mil.load_program(path)


@pytest.fixture(scope="module")
def op_outputs(op_program) -> dict[str, np.ndarray]:
    return mil.run_program(op_program, {"x": X}, "fp32")


EXPECTED = _expected()


@pytest.mark.parametrize("case", list(EXPECTED))
def test_op_matches_pytorch(op_outputs, case: str) -> None:
    assert set(op_outputs) == set(EXPECTED)
    got, want = op_outputs[case], EXPECTED[case]
    assert got.shape == want.shape, (case, got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5, err_msg=case)


def test_program_holds_every_op_kind(op_program) -> None:
    kinds = set(op_program.op_kinds())
    for k in (
        "conv", "upsample_bilinear", "resize_bilinear", "upsample_nearest_neighbor", "softmax", "reshape",
        "transpose", "reduce_sum", "reduce_mean", "reduce_max", "max_pool", "avg_pool", "matmul", "linear",
        "concat", "stack", "relu6", "clip", "sigmoid", "batch_norm", "expand_dims", "squeeze",
        "constexpr_affine_dequantize", "constexpr_lut_to_dense", "real_div", "sub",
    ):  # fmt: skip
        assert k in kinds, k
    # Every op kind the interpreter implements is exercised here (add, mul and cast through the
    # FP16 program and the MeshPose programs below).
    assert set(mil.supported_ops()) - kinds <= {"add", "mul", "cast"}, set(mil.supported_ops()) - kinds
    assert set(op_program.op_kinds()) <= set(mil.supported_ops()) | {"const"}


def test_sampling_grids_match_coremltools_docs() -> None:
    # The worked examples of resize_bilinear's docstring (Xin = 2).
    docs = {
        ("UNALIGN_CORNERS", 5): [0.0, 0.1, 0.5, 0.9, 1.0],
        ("STRICT_ALIGN_CORNERS", 5): [0.0, 0.25, 0.5, 0.75, 1.0],
        ("DEFAULT", 5): [0.0, 0.4, 0.8, 1.0, 1.0],
        ("OFFSET_CORNERS", 5): [0.1, 0.3, 0.5, 0.7, 0.9],
        ("UNALIGN_CORNERS", 6): [0.0, 0.0, 0.33, 0.67, 1.0, 1.0],
        ("DEFAULT", 6): [0.0, 0.33, 0.67, 1.0, 1.0, 1.0],
        ("OFFSET_CORNERS", 6): [0.08, 0.25, 0.42, 0.58, 0.75, 0.92],
    }
    for (mode, n_out), grid in docs.items():
        np.testing.assert_allclose(mil._source_coords(n_out, 2, mode), grid, atol=0.006, err_msg=mode)


def test_unpack_bits_lsb_first() -> None:
    # The docstring example of constexpr_lut_to_dense: n_bits=2, shape (5,), i0=00 i1=11 i2=10 i3=01 i4=11.
    packed = np.array([0b01101100, 0b00000011], dtype=np.uint8)
    assert mil.unpack_bits(packed, 2, 5).tolist() == [0, 3, 2, 1, 3]


def test_fp16_mode_rounds_each_op_output(tmp_path: Path) -> None:
    path = tmp_path / "ops16.mlpackage"
    _build(path, fp16=True)
    prog = mil.load_program(path)
    decls = prog.var_decls()
    fp16_vars = {n for n, d in decls.items() if d.dtype == np.float16 and n not in prog.consts}
    outs16 = mil.run_program(prog, {"x": X}, "fp16", keep=lambda n: n in fp16_vars)
    outs32 = mil.run_program(prog, {"x": X}, "fp32")
    kept = {n: v for n, v in outs16.items() if n not in prog.outputs}
    assert len(kept) > 10 and all(v.dtype == np.float16 for v in kept.values())
    outs16 = {n: outs16[n] for n in prog.outputs}
    for name, v in outs16.items():
        assert np.array_equal(v.astype(np.float16).astype(np.float32), v), name
    # fp32 mode on the same FP16 program keeps float32 arithmetic: results differ, slightly.
    diffs = [float(np.abs(outs16[k] - outs32[k]).max()) for k in outs32]
    assert 0 < max(diffs) < 0.1


def test_unknown_op_is_an_error_naming_it(tmp_path: Path) -> None:
    ct = coremltools_quietly()
    from coremltools.converters.mil import Builder as mb

    @mb.program(input_specs=[mb.TensorSpec(shape=(1, 3))], opset_version=ct.target.iOS16)
    def prog(x):
        return mb.sin(x=x, name="wave")

    with quiet():
        model = ct.convert(prog, convert_to="mlprogram", minimum_deployment_target=ct.target.iOS16,
                           pass_pipeline=ct.PassPipeline.EMPTY, compute_precision=ct.precision.FLOAT32)  # fmt: skip
        model.save(str(tmp_path / "sin.mlpackage"))
    with pytest.raises(mil.MILError, match=r"MIL op 'sin' \(wave\)"):
        mil.run_program(tmp_path / "sin.mlpackage", {"x": np.zeros((1, 3), np.float32)})


def test_bad_inputs_are_clear_errors(op_program, tmp_path: Path) -> None:
    with pytest.raises(mil.MILError, match="input 'x' missing"):
        mil.run_program(op_program, {})
    with pytest.raises(mil.MILError, match="expects"):
        mil.run_program(op_program, {"x": np.zeros((1, 3, 9, 7), np.float32)})
    with pytest.raises(mil.MILError, match=r"not an \.mlpackage"):
        mil.load_program(tmp_path)
    with pytest.raises(mil.MILError, match="unknown interpreter mode"):
        mil.run_program(op_program, {"x": X}, "int8")


# --- whole MeshPose programs ------------------------------------------------------------------

PRECISIONS = ("fp32", "fp16", "w8", "pal8", "pal6")


@pytest.fixture(scope="module")
def tiny_programs(tmp_path_factory, tiny_model):
    """The tiny model exported by the CoreML target at every precision (conversion only)."""
    from meshpose_export.sidecar import build_metadata
    from meshpose_export.targets.base import ExportContext, get_target
    from meshpose_mobile.crop import CropContract

    target = get_target("coreml")
    graph = tiny_model.deploy(**target.deploy_kwargs())
    cfg = tiny_model.config
    contract = CropContract(cfg.input_height, cfg.input_width)
    out = tmp_path_factory.mktemp("tiny_coreml")
    paths = {}
    for p in PRECISIONS:
        ctx = ExportContext(metadata=build_metadata(graph, target, p, contract, "", ""), workdir=out)
        paths[p] = target.export(graph, out / f"tiny_{p}.mlpackage", p, ctx)
    return paths


def _worst_px(reference, runner, images) -> float:
    worst = 0.0
    for img in images:
        ref, got = reference(img), runner(img)
        for name in ("vertices", "vertices_2d"):
            worst = max(worst, float(np.linalg.norm(got[name] - ref[name], axis=-1).max()))
    return worst


@pytest.mark.export
@pytest.mark.parametrize("precision", PRECISIONS)
def test_tiny_program_matches_pytorch(tiny_programs, tiny_graph, precision: str) -> None:
    from meshpose_export.reference import reference_artifact
    from meshpose_export.targets.base import get_target

    prog = mil.load_program(tiny_programs[precision])
    assert set(prog.op_kinds()) <= set(mil.supported_ops()) | {"const"}
    g = torch.Generator().manual_seed(1)
    images = [torch.randint(0, 256, (1, 3, 64, 48), generator=g).float().numpy() for _ in range(3)]
    reference = reference_artifact(tiny_graph)
    tol = get_target("coreml").tolerance(precision)
    fp32 = _worst_px(reference, mil.image_runner(prog, "fp32"), images)
    fp16 = _worst_px(reference, mil.image_runner(prog, "fp16"), images)
    if precision == "fp32":
        assert fp32 <= 0.005 and fp16 == fp32, (fp32, fp16)  # an fp32 program has no fp16 to round to
    else:
        assert fp16 <= tol.max_px and fp32 <= tol.max_px, (fp32, fp16)
        assert fp16 != fp32  # the fp16 mode rounds op outputs


@pytest.mark.export
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_coreml_parity_runs_the_program_on_linux(tiny_programs, tiny_model, precision: str) -> None:
    """Off macOS a CoreML artifact opens runnable: its program, run by the interpreter, labelled."""
    import platform

    from meshpose_export.convert.parity import check, parity_inputs
    from meshpose_export.reference import reference_artifact
    from meshpose_export.sidecar import Sidecar
    from meshpose_export.targets.base import get_target
    from meshpose_mobile.crop import CropContract

    if platform.system() == "Darwin":
        pytest.skip("on macOS the CoreML target runs Core ML itself")
    target = get_target("coreml")
    graph = tiny_model.deploy(**target.deploy_kwargs())
    contract = CropContract.for_config(tiny_model.config)
    path = tiny_programs[precision]
    side = Sidecar.build(graph, target, precision, contract, path.name, "")
    artifact = target.open(path, sidecar=side)
    assert artifact.can_run and artifact.executor.note == mil.INTERPRETER_NOTE
    inputs = parity_inputs(graph, contract, n_random=2)
    assert all(np.array_equal(i.image, np.rint(i.image)) for i in inputs)  # camera pixels: whole numbers
    report = check(target, artifact, graph, reference_artifact(tiny_model.deploy()), inputs)
    assert report.measured_by == mil.INTERPRETER_NOTE
    assert "reference interpreter (not the Core ML runtime)" in report.verdict()  # every summary line says so
    assert report.passed and report.status == "pass", report.table()
    assert len(report.checks) >= 5 and all(c.passed for c in report.checks)  # fp32: no fp16-islands check
    if precision == "fp32":
        assert report.stats["vertices"].max <= 0.005


@pytest.mark.export
def test_ane_report_names_its_evidence(tiny_programs) -> None:
    from meshpose_export.targets.coreml.ane import LABEL, ane_report

    r16 = ane_report(mil.load_program(tiny_programs["fp16"]))
    assert r16["label"] == LABEL and "estimate" in LABEL
    items = {i["item"].split(" (")[0]: i for i in r16["items"]}
    moves = items["reshapes that move channels into height"]
    assert moves["count"] == 4 and moves["evidence"][0]["from"] == [1, 128, 1, 1]
    assert moves["evidence"][0]["to"] == [1, 8, 16, 1]
    assert not any(i["item"].startswith("float32 ops") for i in r16["items"])  # the bias add is preprocessing
    r32 = ane_report(mil.load_program(tiny_programs["fp32"]))
    assert any(i["item"].startswith("float32 ops") and i["count"] > 50 for i in r32["items"])
