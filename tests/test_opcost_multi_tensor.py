"""Multi-tensor-apply kernels costed from their grid (roofline.opcost.multi_tensor).

Figures are hand arithmetic from PyTorch's MultiTensorApply.cuh (kChunkSize = 65536, 4 KB layout
depth_to_max_tensors = {110, 64, 48, 36, 30}) and the Adam update counted in opcost/optimizer.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from roofline.opcost.multi_tensor import element_range, functor_cost, launch_depth

# Kernel names as kineto records them (tests/data/h200/training/llama_train_compiled_bf16.json.gz and
# HTA's negative_queue_length_values_check/rank0.json.gz).
FUSED_ADAMW_BF16 = (
    "void at::native::(anonymous namespace)::multi_tensor_apply_kernel<at::native::(anonymous namespace)::"
    "FusedOptimizerTensorListMetadata<4>, at::native::(anonymous namespace)::FusedAdamMathFunctor<c10::BFloat16, 4, "
    "(at::native::ADAM_MODE)1, false>, float const*, double, double, double, double, double, bool, float const*, "
    "float const*>(at::native::(anonymous namespace)::FusedOptimizerTensorListMetadata<4>, ...)")
APEX_ADAM_FP32 = ("void multi_tensor_apply_kernel<TensorListMetadata<4>, AdamFunctor<float>, float, float, float, float, "
                  "float, float, float, float, adamMode_t, float, int, int, int>(int, int volatile*, ...)")
FOREACH_ADD_SCALAR = (
    "void at::native::(anonymous namespace)::multi_tensor_apply_kernel<at::native::(anonymous namespace)::"
    "TensorListMetadata<1>, at::native::(anonymous namespace)::BinaryOpScalarFunctor<float, 1, 1, 0>, "
    "std::plus<float>, float>(...)")


def test_fused_adamw_bf16_per_element() -> None:
    cost = functor_cost(FUSED_ADAMW_BF16)
    # 7 accesses (param, grad, exp_avg, exp_avg_sq read; param, exp_avg, exp_avg_sq written) x 2 B
    assert cost.bytes_per_element == 14 and cost.flops_per_element == 13
    assert cost.dtype.name == "bfloat16" and launch_depth(FUSED_ADAMW_BF16) == 4


def test_amsgrad_reads_and_writes_one_more_list() -> None:
    name = FUSED_ADAMW_BF16.replace("ADAM_MODE)1, false>", "ADAM_MODE)1, true>")
    assert functor_cost(name).bytes_per_element == 9 * 2


def test_apex_adam_fp32_and_foreach_add() -> None:
    assert functor_cost(APEX_ADAM_FP32).bytes_per_element == 7 * 4
    add = functor_cost(FOREACH_ADD_SCALAR)  # in place: list 0 read and written, 1 FLOP
    assert (add.bytes_per_element, add.flops_per_element) == (8, 1)


def test_unknown_functors_abstain() -> None:
    assert functor_cost("void multi_tensor_apply_kernel<TensorListMetadata<1>, UnaryOpFunctor<float, 1, 1, 0>, "
                        "Sqrt<float>>") is None
    assert functor_cost("ampere_bf16_s16816gemm") is None


def test_element_range_from_grid() -> None:
    # 320 blocks, depth 4 (<= 36 tensors): at most 320 x 65536, at least (320 - 36) x 65536 + 36.
    assert element_range(320, 4) == (284 * 65536 + 36, 20_971_520)
    # 39 blocks of one list may be 39 one-element step counters (<= 110 tensors): no bound.
    assert element_range(39, 1) is None
    assert element_range(320, 6) is None


LLAMA = Path(__file__).parent / "data/h200/training/llama_train_compiled_bf16.json.gz"


@pytest.mark.skipif(not LLAMA.exists(), reason="trace not in this checkout")
def test_llama_fused_adamw_is_memory_bound_from_its_grid() -> None:
    import json

    from typer.testing import CliRunner

    from roofline.cli import app

    out = CliRunner().invoke(app, ["classify", str(LLAMA), "--format", "json"]).stdout
    adam = [k for k in json.loads(out)["kernels"] if "FusedAdamMathFunctor" in k["name"]]
    assert adam and all(k["bound"] == "memory" and k["source"] == "trace" for k in adam)
    # The grids as the raw trace records them: sum of grid.x x 65536 elements x 14 B.
    import gzip

    events = json.load(gzip.open(LLAMA))["traceEvents"]
    blocks = [e["args"]["grid"][0] for e in events if e.get("cat") == "kernel" and "FusedAdamMathFunctor" in e["name"]]
    assert len(blocks) == 48 and max(blocks) == 320
    assert sum(k["bytes"] for k in adam) == pytest.approx(sum(blocks) * 65536 * 14)


@pytest.mark.skipif(not LLAMA.exists(), reason="trace not in this checkout")
def test_llama_grid_bound_against_the_model_parameter_count() -> None:
    """The model of that capture (tests/data/h200/training/README.md: 4 Llama layers, hidden 2048,
    16/8 heads of 128, MLP 5632, vocab 32000, untied embedding and LM head) has, per layer,
    q 2048², k and v 2048x1024, o 2048², gate/up/down 2048x5632 and two norms of 2048; plus the
    embedding, the head and a final norm: 319 834 112 parameters in 39 tensors. Their chunks of
    65536: per layer 64 + 32 + 32 + 64 + 3x176 + 2 = 722, x4 = 2888, + 1000 + 1000 + 1 = 4889 blocks
    per optimizer step, so the grid bound is 4889 x 65536 = 320 405 504 elements, 0.18 % above."""
    import gzip
    import json

    events = json.load(gzip.open(LLAMA))["traceEvents"]
    blocks = [e["args"]["grid"][0] for e in events if e.get("cat") == "kernel" and "FusedAdamMathFunctor" in e["name"]]
    steps = sum(1 for e in events if e.get("cat") == "cpu_op" and e["name"] == "aten::_fused_adamw_")
    per_step = sum(element_range(b, 4)[1] for b in blocks) / steps
    assert per_step == 4889 * 65536
    params = 4 * (2 * 2048 * 2048 + 2 * 2048 * 1024 + 3 * 2048 * 5632 + 2 * 2048) + 2 * 32000 * 2048 + 2048
    assert params == 319_834_112
    assert params <= per_step <= params * 1.002
    fewest = sum(element_range(b, 4)[0] for b in blocks) / steps
    assert fewest <= params
