"""MoE ops of one step per GPU under tensor, expert and attention-data parallelism: the router,
the routed experts as one grouped GEMM, the shared experts, and the expert-parallel all-to-all.

* Router: a d × E GEMM (plus top-k) on the tokens this GPU holds.
* Routed experts on the busiest expert-parallel rank: it holds E/ep experts and receives
  ``expected_max_load(T·k, ep)`` token-expert pairs (roofline.workload.moe); it reads the weights of
  the experts some token picked, E/ep · (1 − (1 − k/E)^T) of them, each 1/expert_tensor wide; the
  grouped GEMM's M is the tokens per touched expert, so its tile fill (M / (M + half rows)) falls as
  the experts spread the batch thin.
* All-to-all (attention data parallelism with expert parallelism: DeepEP, TensorRT-LLM's
  all-to-all MoE): each GPU sends its tokens to the ranks of their k experts and gets the outputs
  back — per GPU and direction, T_local · k · (1 − 1/ep) · d · bytes, plus a latency per call.
  Without attention DP the tokens are already on every rank (after the attention all-reduce) and
  the expert outputs are summed by the layer's all-reduce instead.
"""

from __future__ import annotations

from collections.abc import Callable

from roofline.precision import Precision, Unit
from roofline.workload.model import ModelArch
from roofline.workload.moe import expected_max_load, experts_touched
from roofline.workload.op_record import PhaseOp
from roofline.workload.parallel import expert_width_per_gpu

Kernels = Callable[[str], int]


def moe_layer_ops(arch: ModelArch, *, tokens: float, local_tokens: float, tensor: int, expert: int,
                  expert_tensor: int, layers: int, b_w: float, b_w_experts: float, b_act: float,
                  compute: Precision, dequant: bool, expert_compute: Precision, expert_dequant: bool,
                  vector: Precision, kernels: Kernels, all_to_all: bool, scale_out: bool = False,
                  b_dispatch: float | None = None, redundant: int = 0, shared_over: int = 1) -> list[PhaseOp]:
    """``tokens``: the replica's tokens in the step (what the experts see); ``local_tokens``: those
    on this GPU's attention group (router, shared experts, dispatch); ``redundant``: extra expert
    copies (each GPU holds (E + redundant) / expert slots, touched in the same proportion)."""
    assert arch.moe is not None
    moe, d = arch.moe, arch.hidden_size
    k, E = moe.experts_per_token, moe.num_experts
    gate_mult = 3 if arch.gated_ffn else 2
    width = float(expert_width_per_gpu(arch, expert_tensor))  # padded up when it does not divide
    proj = gate_mult * d * width
    pairs = expected_max_load(tokens * k, expert) if expert > 1 else tokens * k
    touched = experts_touched(E, k, tokens) / expert * (E + redundant) / E
    weights = touched * proj * b_w_experts
    acts = pairs * (2 * d + gate_mult * width) * b_act
    router_w = d * E * b_w
    ops = [
        PhaseOp("router", "gemm", 2 * local_tokens * d * E, router_w + local_tokens * (d + E) * b_act, compute,
                Unit.MATRIX, kernels("router"), layers, weight_bytes=router_w, rows=local_tokens),
        PhaseOp("experts", "gemm", 2 * pairs * proj, weights + acts, expert_compute, Unit.MATRIX, 3, layers,
                weight_bytes=weights, dequant=expert_dequant, rows=pairs / touched if touched else 0.0),
    ]
    if moe.shared_width:
        # ``shared_over`` > 1: the shared experts sharded over the replica under attention DP (SGLang),
        # each GPU's slice for every DP group's tokens.
        shared_w = moe.shared_width / (tensor * shared_over)
        shared = gate_mult * d * shared_w
        rows = tokens if shared_over > 1 else local_tokens
        ops.append(PhaseOp("shared_experts", "gemm", 2 * rows * shared,
                           shared * b_w + rows * (2 * d + gate_mult * shared_w) * b_act, compute, Unit.MATRIX,
                           3, layers, weight_bytes=shared * b_w, dequant=dequant, rows=rows))
    if all_to_all and expert > 1:
        sent = local_tokens * k * (1 - 1 / expert) * d
        for name, per_element in (("moe_dispatch", b_dispatch or b_act), ("moe_combine", b_act)):
            ops.append(PhaseOp(name, "comm", 0.0, 2 * sent * per_element, vector, Unit.VECTOR, 1, layers,
                               comm_bytes=sent * per_element, group=expert, scale_out=scale_out))
    return ops
