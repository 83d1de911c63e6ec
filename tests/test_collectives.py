"""Collectives as communication: bus bandwidth, the interconnect roof, the trace verdict.

Independent figures:
* nccl-tests doc/PERFORMANCE.md factors, and nccl-tests' own output lines (algbw/busbw printed by
  all_reduce_perf on 16 H100s in two nodes, github.com/lessizzmore/create-a3mega-ztan-fork
  "ztan-NCCL-test-result"; sendrecv_perf on 8 A100s, github.com/li-plus/playground cuda/nccl.md);
* datasheet link arithmetic (hwspecs comments: NVLink 4 900 GB/s both directions; xGMI 7 links of
  64 GB/s per direction; PCIe Gen4 x16 64 GB/s both directions);
* NCCL's cost model (NVIDIA/nccl src/graph/tuning.cc, 2.18: ring/LL base 6.6 µs, NVLink hop 0.6 µs,
  PCIe hop 1.0 µs);
* the measured two-H200 traces (tests/data/h200x2/README.md: 0.88 ms per 256 MiB all-reduce ≈ 305 GB/s,
  52 % of the step exposed in `exposed/`, 1.15 ms of 5.05 ms in `overlapped/`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from roofline.analysis.classify import KernelWork, classify_kernel
from roofline.analysis.collectives import (
    CollectiveCall,
    CollectivePart,
    CollectiveWork,
    algorithm_and_protocol,
    bus_factor,
    call_from_args,
    collective_from_args,
    collective_from_name,
    link_roof,
)
from roofline.analysis.roofline import Bound
from roofline.app.classify import classify_loaded
from roofline.hardware.registry import load_registry
from roofline.hardware.spec import roofs_from_spec
from roofline.sources import read_input

H200X2 = Path(__file__).parent / "data" / "h200x2"


def roofs(name: str):
    return roofs_from_spec(load_registry().resolve(name))


def one_call(collective: str, ranks: int, size_bytes: float, seconds: float, name: str = "ncclDevKernel_X") -> KernelWork:
    work = CollectiveWork(collective, None, None, "Float", (CollectivePart(ranks, 1, size_bytes, seconds),))
    return KernelWork(name=name, count=1, measured_s=seconds, source="trace", collective=work)


# --- nccl-tests' formulas, against nccl-tests' printed figures ----------------------------------

@pytest.mark.parametrize(("size", "time_us", "algbw", "busbw"), [
    (1073741824, 6759.0, 158.86, 297.86),   # all_reduce_perf, 16 ranks
    (8589934592, 47535, 180.71, 338.82),
    (134217728, 1652.2, 81.24, 152.32),
])
def test_all_reduce_bus_bandwidth_matches_nccl_tests_output(size: int, time_us: float, algbw: float,
                                                           busbw: float) -> None:
    verdict = classify_kernel(one_call("all_reduce", 16, size, time_us * 1e-6), roofs("h100-sxm"))
    assert verdict.bound is Bound.COMMUNICATION
    assert verdict.collective is not None
    assert verdict.collective.algbw_bytes_per_s / 1e9 == pytest.approx(algbw, abs=0.01)
    assert verdict.collective.busbw_bytes_per_s / 1e9 == pytest.approx(busbw, abs=0.01)
    # 16 ranks: the run spanned two nodes, and the roof says it may be the network's.
    assert any("span nodes" in note for note in verdict.notes)


def test_send_recv_bus_bandwidth_is_the_algorithm_bandwidth() -> None:
    # sendrecv_perf, 8 A100: 1073741824 B in 5503.4 µs, algbw = busbw = 195.10 GB/s.
    verdict = classify_kernel(one_call("send_recv", 8, 1073741824, 5503.4e-6), roofs("a100-sxm4-80gb"))
    assert verdict.collective.algbw_bytes_per_s / 1e9 == pytest.approx(195.10, abs=0.01)
    assert verdict.collective.busbw_bytes_per_s == verdict.collective.algbw_bytes_per_s


@pytest.mark.parametrize(("collective", "ranks", "factor"), [
    ("all_reduce", 8, 14 / 8), ("all_reduce", 2, 1.0), ("all_gather", 8, 7 / 8), ("reduce_scatter", 4, 3 / 4),
    ("all_to_all", 8, 7 / 8), ("broadcast", 8, 1.0), ("reduce", 8, 1.0), ("send_recv", 2, 1.0),
])
def test_bus_factors_are_performance_md_summary(collective: str, ranks: int, factor: float) -> None:
    assert bus_factor(collective, ranks) == pytest.approx(factor)


# --- the interconnect roof from the registry -----------------------------------------------------

def test_nvswitch_parts_reach_half_their_bidirectional_nvlink_figure_at_any_group_size() -> None:
    for ranks in (2, 8):
        assert link_roof(roofs("h200-sxm"), ranks).bandwidth.value == pytest.approx(450e9)  # 900 GB/s / 2
    assert link_roof(roofs("a100-sxm4-80gb"), 8).bandwidth.value == pytest.approx(300e9)  # 600 / 2
    assert link_roof(roofs("b200"), 8).bandwidth.value == pytest.approx(900e9)  # 1800 / 2


def test_xgmi_mesh_uses_one_link_per_peer() -> None:
    # MI300X: 896 GB/s over 7 links both ways = 64 GB/s per link per direction.
    mi300x = roofs("mi300x")
    assert link_roof(mi300x, 2).bandwidth.value == pytest.approx(64e9)
    assert link_roof(mi300x, 4).bandwidth.value == pytest.approx(192e9)
    assert link_roof(mi300x, 8).bandwidth.value == pytest.approx(448e9)


def test_a_bridged_pair_beyond_two_gpus_and_a_part_without_nvlink_are_bound_by_pcie() -> None:
    a100_pcie = roofs("a100-pcie-80gb")
    assert link_roof(a100_pcie, 2).bandwidth.value == pytest.approx(300e9)
    beyond = link_roof(a100_pcie, 4)
    assert beyond.bandwidth.value == pytest.approx(32e9)  # PCIe Gen4 x16: 64 GB/s / 2
    assert "PCIe" in beyond.note
    assert link_roof(roofs("l4"), 2).bandwidth.value == pytest.approx(32e9)


def test_per_call_latency_is_nccls_ring_ll_model() -> None:
    # Tiny messages: the roof is all latency. all-reduce over 2 GPUs on NVLink: 6.6 + 2 × 0.6 µs;
    # over 8: 6.6 + 14 × 0.6; all-gather over 4 bridged A100 PCIe GPUs (PCIe hops): 6.6 + 3 × 1.0.
    for device, collective, ranks, latency in (("h200-sxm", "all_reduce", 2, 7.8e-6),
                                               ("h200-sxm", "all_reduce", 8, 15.0e-6),
                                               ("a100-pcie-80gb", "all_gather", 4, 9.6e-6)):
        verdict = classify_kernel(one_call(collective, ranks, 8, 100e-6), roofs(device))
        assert verdict.collective.latency_s == pytest.approx(latency)
        assert any(note.startswith("latency-dominated") for note in verdict.notes)


# --- what the trace records ----------------------------------------------------------------------

@pytest.mark.parametrize(("name", "collective", "algorithm", "protocol"), [
    ("ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)", "all_reduce", "RING", "LL"),
    ("ncclKernel_AllReduce_RING_LL_Sum_float(ncclDevComm*, unsigned long, ncclWork*)", "all_reduce", "RING", "LL"),
    ("ncclKernel_Broadcast_RING_LL_Sum_int8_t(ncclDevComm*, unsigned long, ncclWork*)", "broadcast", "RING", "LL"),
    ("ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t(ncclDevComm*, unsigned long, ncclWork*)", "send_recv", "RING",
     "SIMPLE"),
    ("ncclDevKernel_ReduceScatter_Sum_bf16_RING_LL128(ncclDevKernelArgsStorage<4096ul>)", "reduce_scatter", "RING",
     "LL128"),
    ("ncclDevKernel_AllReduce_Sum_bf16_NVLS_SIMPLE(ncclDevKernelArgsStorage<4096ul>)", "all_reduce", "NVLS", "SIMPLE"),
    ("ncclDevKernel_Generic(ncclDevKernelArgsStorage<4096ul>)", None, None, None),  # RCCL (MI300X)
])
def test_collective_and_algorithm_from_real_kernel_names(name: str, collective: str | None, algorithm: str | None,
                                                         protocol: str | None) -> None:
    assert collective_from_name(name) == collective
    assert algorithm_and_protocol(name) == (algorithm, protocol)


@pytest.mark.parametrize(("recorded", "collective"), [
    ("allreduce", "all_reduce"), ("_allgather_base", "all_gather"), ("allgather_into_tensor_coalesced", "all_gather"),
    ("reduce_scatter_tensor_coalesced", "reduce_scatter"), ("_reduce_scatter_base", "reduce_scatter"),
    ("all_to_allv", "all_to_all"), ("broadcast", "broadcast"), ("send", "send_recv"), ("barrier", "barrier"),
])
def test_pytorch_collective_names(recorded: str, collective: str) -> None:
    assert collective_from_args(recorded) == collective


def test_all_gather_size_is_the_gathered_output() -> None:
    # record_param_comms of an all-gather over 8 ranks: 1024 elements in, 8192 out (PERFORMANCE.md:
    # S is the whole array, sendcount × sizeof × n).
    call = call_from_args({"Collective name": "_allgather_base", "In msg nelems": 1024, "Out msg nelems": 8192,
                           "Group size": 8, "dtype": "BFloat16"})
    assert call == CollectiveCall("all_gather", 8192 * 2, 8, "BFloat16")
    assert call_from_args({"Collective name": "allreduce", "In msg nelems": 4, "dtype": "NoSuchType"}).message_bytes is None
    assert call_from_args({"grid": [1, 1, 1]}) is None


# --- the measured two-H200 traces ----------------------------------------------------------------

def classify(path: Path):
    return classify_loaded(read_input(path), load_registry(), "h200-sxm", None)


def test_exposed_all_reduce_matches_the_measured_bus_bandwidth_and_the_verdict_is_communication() -> None:
    result = classify(H200X2 / "exposed" / "rank0.json.gz")
    [nccl] = [v for v in result.kernels if v.collective is not None]
    c = nccl.collective
    assert (c.type, c.group_size, c.algorithm, c.protocol, c.dtype) == ("all_reduce", 2, "RING", "LL", "BFloat16")
    assert c.sized_calls == nccl.count == 12  # 4 per step, 3 steps
    assert c.message_bytes == 12 * 256 * 2**20
    assert c.busbw_bytes_per_s == pytest.approx(305e9, rel=0.02)  # README: 0.88 ms each ≈ 305 GB/s
    assert nccl.bound is Bound.COMMUNICATION
    assert nccl.pct_of_roof == pytest.approx(305e9 / 450e9, rel=0.03)
    summary = result.summary
    assert summary.verdict == "communication"
    assert summary.verdict_share == pytest.approx(0.52, abs=0.01)  # README: 52 % exposed
    assert summary.time_by_bound.communication == pytest.approx(nccl.total_s)


def test_overlapped_all_reduce_counts_only_its_exposed_part() -> None:
    summary = classify(H200X2 / "overlapped" / "rank0.json.gz").summary
    assert summary.verdict == "compute"
    # README: 1.15 ms of a 5.05 ms step exposed (the last all-reduce), 4.01 ms of NCCL per step.
    steps = len(summary.steps)
    assert summary.exposed_communication_s / steps == pytest.approx(1.15e-3, rel=0.1)
    assert summary.communication_s / steps == pytest.approx(4.01e-3, rel=0.05)
    assert summary.time_by_bound.communication > 3 * summary.exposed_communication_s


def _trace(tmp_path: Path, kernel_args: dict) -> Path:
    """A minimal kineto trace: one record_param_comms op and the NCCL kernel it launched."""
    import json

    op_args = {"External id": 5, "Collective name": "_allgather_base", "In msg nelems": 1048576,
               "Out msg nelems": 8388608, "Group size": 8, "dtype": "BFloat16"}
    events = [
        {"ph": "X", "cat": "cpu_op", "name": "record_param_comms", "pid": 1, "tid": 1, "ts": 10.0, "dur": 20.0,
         "args": op_args},
        {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1, "ts": 12.0, "dur": 5.0,
         "args": {"correlation": 7, "External id": 5}},
        {"ph": "X", "cat": "kernel", "name": "ncclDevKernel_Generic(ncclDevKernelArgsStorage<4096ul>)", "pid": 0,
         "tid": 7, "ts": 30.0, "dur": 100.0, "args": {"correlation": 7, "External id": 5, "device": 0, "stream": 7,
                                                       **kernel_args}},
    ]
    path = tmp_path / "trace.json"
    path.write_text(json.dumps({"traceEvents": events}))
    return path


@pytest.mark.parametrize("kernel_args", [{}, {"Collective name": "_allgather_base", "In msg nelems": 1048576,
                                               "Out msg nelems": 8388608, "Group size": 8, "dtype": "BFloat16"}])
def test_a_kernel_takes_its_collective_from_its_own_args_or_its_record_param_comms_op(tmp_path: Path,
                                                                                      kernel_args: dict) -> None:
    result = classify_loaded(read_input(_trace(tmp_path, kernel_args)), load_registry(), "mi300x", None)
    [v] = result.kernels
    c = v.collective
    # RCCL's Generic kernel names no collective: the recorded one is used. S = the gathered 8 Mi bf16.
    assert (c.type, c.group_size, c.sized_calls, c.message_bytes) == ("all_gather", 8, 1, 8388608 * 2)
    assert c.busbw_bytes_per_s == pytest.approx(8388608 * 2 / 100e-6 * 7 / 8)
    assert c.link_bandwidth_bytes_per_s == pytest.approx(448e9)  # 7 of MI300X's 7 xGMI links


def test_symm_mem_multimem_all_reduce_is_a_collective_with_its_message_size() -> None:
    """TraceLens b200/eager_trace.json.gz records ``symm_mem::multimem_all_reduce_`` with Input Dims
    [[2557440], [], []] and type c10::BFloat16: an in-place all-reduce of 2,557,440 x 2 B = 5,114,880 B;
    the group is passed by name, so its size is not recorded."""
    from roofline.analysis.collectives import ALL_REDUCE, call_from_symm_mem, collective_from_name, is_collective_kernel

    call = call_from_symm_mem("symm_mem::multimem_all_reduce_",
                              {"Input Dims": [[2557440], [], []], "Input type": ["c10::BFloat16", "", ""]})
    assert call is not None
    assert (call.collective, call.message_bytes, call.group_size, call.dtype) == (ALL_REDUCE, 5_114_880.0, None,
                                                                                 "BFloat16")
    kernel = ("void (anonymous namespace)::multimem_all_reduce_kernel<c10::BFloat16, 16>(c10::BFloat16*, "
              "unsigned long, unsigned int**, unsigned long, unsigned long)")
    assert is_collective_kernel(kernel) and collective_from_name(kernel) == ALL_REDUCE
    assert call_from_symm_mem("symm_mem::rendezvous", {}) is None
    assert not is_collective_kernel("void at::native::vectorized_elementwise_kernel<4, FillFunctor<float>>")
