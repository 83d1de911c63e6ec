"""Collectives (NCCL/RCCL kernels): what one call moved, and the interconnect roof it is judged against.

Bandwidth, from nccl-tests ``doc/PERFORMANCE.md`` (NVIDIA/nccl-tests):

* algorithm bandwidth ``algbw = S / t``, with ``S`` the size of the whole array: for all-gather the
  gathered output, for reduce-scatter the input before scattering (``count × n × sizeof``);
* bus bandwidth ``busbw = algbw × factor``, the factor being 2(n−1)/n for all-reduce, (n−1)/n for
  all-gather, reduce-scatter and all-to-all, 1 for broadcast, reduce and send/receive. busbw is
  what one GPU's link carries in one direction, so it compares with the hardware's unidirectional
  link bandwidth "independently of the number of ranks".

Per-call latency, from NCCL's own cost model (``src/graph/tuning.cc``, NCCL 2.18, the ring
algorithm with the LL protocol — the one NCCL picks for small messages because its latency is the
lowest): ``6.6 µs + steps × hop``, a hop costing 0.6 µs over NVLink and 1.0 µs over PCIe, with
2(n−1) steps for all-reduce, n−1 for all-gather / reduce-scatter, one for broadcast, reduce and
send/receive. The roof of one call is therefore ``latency + S × factor / B_link``: the best time
NCCL's model allows on this link.

Pure functions of names, PyTorch's recorded arguments and the device's roofs; no I/O.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from roofline.hardware.spec import Roof, Roofs

if TYPE_CHECKING:
    import numpy as np

    from roofline.analysis.event_table import EventTable

ALL_REDUCE = "all_reduce"
ALL_GATHER = "all_gather"
REDUCE_SCATTER = "reduce_scatter"
ALL_TO_ALL = "all_to_all"
BROADCAST = "broadcast"
REDUCE = "reduce"
SEND_RECV = "send_recv"
GATHER = "gather"
SCATTER = "scatter"
BARRIER = "barrier"

# NCCL 2.18 tuning.cc: baseLat[Ring][LL] and hwLat[NVLINK|PCI][Ring][LL], in seconds.
RING_LL_BASE_LATENCY_S = 6.6e-6
HOP_LATENCY_S = {"nvlink": 0.6e-6, "pcie": 1.0e-6}
# An HGX/MI300X node holds 8 GPUs: a larger group spans nodes, and the network (which the registry
# does not list) is then the roof.
GPUS_PER_NODE = 8

# PyTorch's dtype names in record_param_comms ("BFloat16", "Float", "Long" …) → bytes per element.
_DTYPE_BYTES = {
    "double": 8, "float": 4, "half": 2, "bfloat16": 2, "long": 8, "int": 4, "short": 2, "char": 1, "byte": 1,
    "bool": 1, "float8_e4m3fn": 1, "float8_e5m2": 1, "float8_e4m3fnuz": 1, "float8_e5m2fnuz": 1,
    "complexfloat": 8, "complexdouble": 16, "complexhalf": 4, "uint16": 2, "uint32": 4, "uint64": 8,
}
# Kernel-name tokens (ncclDevKernel_AllReduce_Sum_bf16_RING_LL, ncclKernel_Broadcast_RING_LL_…).
_NAME_COLLECTIVE = {
    "allreduce": ALL_REDUCE, "allgather": ALL_GATHER, "reducescatter": REDUCE_SCATTER, "alltoall": ALL_TO_ALL,
    "alltoallpivot": ALL_TO_ALL, "broadcast": BROADCAST, "reduce": REDUCE, "sendrecv": SEND_RECV,
    "send": SEND_RECV, "recv": SEND_RECV,
}
_KERNEL_PREFIX = re.compile(r"(?:nccl|rccl|msccl)(?:Dev)?Kernel_([A-Za-z]+)", re.IGNORECASE)
_ALGORITHMS = ("NVLS_TREE", "NVLSTREE", "COLLNET_DIRECT", "COLLNET_CHAIN", "COLLNET", "NVLS", "RING", "TREE", "PAT")
_PROTOCOLS = ("LL128", "SIMPLE", "LL")


# PyTorch's symmetric-memory collectives (torch.distributed._symmetric_memory): the op and the
# kernel it launches (``symm_mem::multimem_all_reduce_`` runs ``multimem_all_reduce_kernel<…>``,
# NVLink SHARP multimem loads/stores; the others are peer loads over NVLink).
_SYMM_MEM_OPS = {
    "symm_mem::multimem_all_reduce_": ALL_REDUCE, "symm_mem::multimem_one_shot_all_reduce": ALL_REDUCE,
    "symm_mem::one_shot_all_reduce": ALL_REDUCE, "symm_mem::two_shot_all_reduce_": ALL_REDUCE,
}
_SYMM_MEM_KERNELS = (("multimem_all_reduce_kernel", ALL_REDUCE), ("multimem_one_shot_all_reduce_kernel", ALL_REDUCE),
                     ("one_shot_all_reduce_kernel", ALL_REDUCE), ("two_shot_all_reduce_kernel", ALL_REDUCE))


def is_collective_kernel(name: str) -> bool:
    """NCCL/RCCL/MSCCL collective and point-to-point kernels (ncclKernel_AllReduce…, ncclDevKernel_…)
    and PyTorch's symmetric-memory all-reduce kernels."""
    lowered = name.lower()
    return "nccl" in lowered or "rccl" in lowered or _symm_mem_kernel(name) is not None


def _symm_mem_kernel(name: str) -> str | None:
    head = name.split("<", 1)[0]  # "void (anonymous namespace)::multimem_all_reduce_kernel"
    return next((collective for token, collective in _SYMM_MEM_KERNELS if head.endswith(token)), None)


def collective_from_name(kernel_name: str) -> str | None:
    """The collective a kernel's name says it runs; None for RCCL's ``ncclDevKernel_Generic``."""
    match = _KERNEL_PREFIX.search(kernel_name)
    if not match:
        return _symm_mem_kernel(kernel_name)
    return _NAME_COLLECTIVE.get(match.group(1).lower())


def collective_from_args(name: Any) -> str | None:
    """PyTorch's ``Collective name`` (allreduce, _allgather_base, reduce_scatter_tensor_coalesced,
    all_to_allv, send …) as one of the collectives here."""
    if not isinstance(name, str):
        return None
    key = name.lower().replace("_", "")
    for token, collective in (("allreduce", ALL_REDUCE), ("reducescatter", REDUCE_SCATTER),
                              ("allgather", ALL_GATHER), ("alltoall", ALL_TO_ALL), ("broadcast", BROADCAST),
                              ("barrier", BARRIER), ("gather", GATHER), ("scatter", SCATTER), ("reduce", REDUCE),
                              ("send", SEND_RECV), ("recv", SEND_RECV)):
        if token in key:
            return collective
    return None


def algorithm_and_protocol(kernel_name: str) -> tuple[str | None, str | None]:
    """NCCL's algorithm (RING, TREE, NVLS …) and protocol (LL, LL128, SIMPLE) from a kernel name."""
    tokens = kernel_name.split("(", 1)[0].upper()
    algorithm = next((a for a in _ALGORITHMS if re.search(rf"(?:^|_){a}(?:_|$)", tokens)), None)
    protocol = next((p for p in _PROTOCOLS if re.search(rf"(?:^|_){p}(?:_|$)", tokens)), None)
    return algorithm, protocol


def bus_factor(collective: str, ranks: int) -> float:
    """busbw / algbw for a collective over ``ranks`` GPUs (nccl-tests doc/PERFORMANCE.md).

    Gather and scatter are not NCCL primitives (PyTorch runs them as send/receive): by the same
    argument as broadcast, the root's link carries all but its own 1/n of the array, (n−1)/n.
    A barrier is an all-reduce of one element.
    """
    if ranks < 1:
        raise ValueError("a collective needs at least one rank")
    if collective in (ALL_REDUCE, BARRIER):
        return 2 * (ranks - 1) / ranks
    if collective in (ALL_GATHER, REDUCE_SCATTER, ALL_TO_ALL, GATHER, SCATTER):
        return (ranks - 1) / ranks
    if collective in (BROADCAST, REDUCE, SEND_RECV):
        return 1.0
    raise ValueError(f"unknown collective {collective!r}")


def latency_steps(collective: str, ranks: int) -> int:
    """Link hops one ring call takes in NCCL's cost model (tuning.cc ``nsteps``; broadcast and
    reduce pipeline their chunks on one channel set, one hop)."""
    if collective in (ALL_REDUCE, BARRIER):
        return 2 * (ranks - 1)
    if collective in (ALL_GATHER, REDUCE_SCATTER, ALL_TO_ALL, GATHER, SCATTER):
        return ranks - 1
    return 1


def dtype_bytes(dtype: Any) -> int | None:
    if not isinstance(dtype, str):
        return None
    return _DTYPE_BYTES.get(dtype.lower().replace("c10::", ""))


@dataclass(frozen=True, slots=True)
class CollectiveCall:
    """One call as PyTorch recorded it (record_param_comms, or the kernel's own args)."""

    collective: str | None
    message_bytes: float | None  # S of PERFORMANCE.md: the whole array
    group_size: int | None
    dtype: str | None


def call_from_args(args: dict[str, Any]) -> CollectiveCall | None:
    """The collective of one event's args, or None when they record none.

    ``In msg nelems`` / ``Out msg nelems`` are per rank: for all-gather the output is the whole
    array, for reduce-scatter the input is; the larger of the two is S.
    """
    if "Collective name" not in args and "In msg nelems" not in args:
        return None
    collective = collective_from_args(args.get("Collective name"))
    size = dtype_bytes(args.get("dtype"))
    counts = [c for c in (args.get("In msg nelems"), args.get("Out msg nelems"))
              if type(c) in (int, float) and 0 <= c < 1e18]
    message = float(max(counts)) * size if counts and size is not None else None
    group = args.get("Group size")
    group_size = int(group) if type(group) is int and 0 < group < 1 << 31 else None
    dtype = args.get("dtype") if isinstance(args.get("dtype"), str) else None
    return CollectiveCall(collective, message, group_size, dtype)


def call_from_symm_mem(name: str, args: dict[str, Any]) -> CollectiveCall | None:
    """A symmetric-memory all-reduce op's call: in place on its first input, so the message is that
    tensor (``Input Dims`` × the element size of its ``Input type``). The group is passed by name,
    which the profiler does not record: the group size stays unknown."""
    collective = _SYMM_MEM_OPS.get(name)
    if collective is None:
        return None
    dims, types = args.get("Input Dims"), args.get("Input type")
    shape = dims[0] if isinstance(dims, list) and dims and isinstance(dims[0], list) else None
    dtype = types[0] if isinstance(types, list) and types and isinstance(types[0], str) else None
    size = dtype_bytes(dtype)
    message = None
    if shape is not None and size is not None and all(type(d) is int and d >= 0 for d in shape):
        message = float(math.prod(shape)) * size
    return CollectiveCall(collective, message, None, dtype.replace("c10::", "") if dtype else None)


@dataclass(frozen=True)
class CollectivePart:
    """Calls of one kernel group that share a group size; message bytes are their total
    (None when some call's size is not recorded)."""

    group_size: int | None
    calls: int
    message_bytes: float | None
    measured_s: float


@dataclass(frozen=True)
class CollectiveWork:
    """A kernel group's collectives: the type, NCCL's algorithm/protocol, and the calls by group size."""

    collective: str | None
    algorithm: str | None
    protocol: str | None
    dtype: str | None
    parts: tuple[CollectivePart, ...]

    @property
    def calls(self) -> int:
        return sum(p.calls for p in self.parts)

    @property
    def group_size(self) -> int | None:
        """The group size of most calls."""
        sized = [p for p in self.parts if p.group_size]
        return max(sized, key=lambda p: p.calls).group_size if sized else None


def _most_common(values: list[str]) -> str:
    return Counter(values).most_common(1)[0][0]


def collective_work(kernel_name: str, calls: list[tuple[CollectiveCall | None, int]]) -> CollectiveWork:
    """Aggregate ``(call, duration ns)`` pairs of one kernel group. The recorded collective name wins
    over the kernel's (NCCL runs all-to-all as SendRecv kernels; RCCL names them all ``Generic``)."""
    names = [c.collective for c, _ in calls if c is not None and c.collective]
    # The most common; among equally common, the first seen (max over a set broke ties by string hash:
    # the verdict changed with PYTHONHASHSEED).
    collective = _most_common(names) if names else collective_from_name(kernel_name)
    dtypes = [c.dtype for c, _ in calls if c is not None and c.dtype]
    by_size: dict[int | None, list[tuple[CollectiveCall | None, int]]] = {}
    for call, dur in calls:
        by_size.setdefault(call.group_size if call else None, []).append((call, dur))
    parts = []
    for size, members in sorted(by_size.items(), key=lambda item: (item[0] is None, item[0] or 0)):
        sizes = [c.message_bytes if c is not None else None for c, _ in members]
        message = None if any(s is None for s in sizes) else float(sum(sizes))  # type: ignore[arg-type]
        parts.append(CollectivePart(size, len(members), message, sum(d for _, d in members) * 1e-9))
    algorithm, protocol = algorithm_and_protocol(kernel_name)
    return CollectiveWork(collective, algorithm, protocol, _most_common(dtypes) if dtypes else None,
                          tuple(parts))


@dataclass(frozen=True)
class LinkRoof:
    """The bus bandwidth a group of GPUs can reach (one direction) and the hop latency of that link."""

    bandwidth: Roof
    hop_latency_s: float
    note: str | None = None


def link_roof(roofs: Roofs, ranks: int) -> LinkRoof | None:
    """The interconnect roof of a collective over ``ranks`` GPUs, from the registry.

    NVSwitch (``switch``): every GPU reaches any peer at its full link bandwidth. xGMI mesh: one link
    per peer, so n GPUs use min(n−1, links) of the links. A bridged pair: beyond two GPUs, PCIe.
    No GPU-GPU link listed: PCIe (host link). Registry figures are both directions summed; busbw is
    one direction, so half of each.
    """
    peer, host = roofs.peer_bandwidth, roofs.host_bandwidth
    topology = roofs.peer_topology
    note = None
    if ranks > GPUS_PER_NODE:
        note = (f"a group of {ranks} GPUs may span nodes: then the network bounds it, and the registry gives no "
                "network bandwidth — the intra-node link roof used here is an upper bound")
    if peer is not None and (topology != "pair" or ranks <= 2):
        value, label = peer.value, roofs.peer_name or "GPU-GPU link"
        if topology == "mesh" and roofs.peer_links:
            used = min(max(ranks - 1, 1), roofs.peer_links)
            value = peer.value * used / roofs.peer_links
            label = f"{label}, {used} of {roofs.peer_links} links"
        elif topology is None:
            extra = "the registry does not say how the links join the GPUs: every peer assumed reachable at full bandwidth"
            note = f"{note}; {extra}" if note else extra
        return LinkRoof(Roof(value, peer.origin, label), HOP_LATENCY_S["nvlink"], note)
    if host is not None:
        label = roofs.host_link_name or "PCIe"
        if peer is not None:
            extra = f"{ranks} GPUs reach beyond the {roofs.peer_name or 'bridged pair'}: bound by {label}"
            note = f"{note}; {extra}" if note else extra
        return LinkRoof(Roof(host.value, host.origin, label), HOP_LATENCY_S["pcie"], note)
    return None


@dataclass(frozen=True)
class CollectiveFigures:
    """What classification reports for a collective group (totals over the calls whose size is known)."""

    roof_s: float | None  # the best time NCCL's model allows: Σ latency + S × factor / B
    latency_s: float | None  # Σ per-call latency
    message_bytes: float | None
    bus_bytes: float | None
    sized_s: float  # measured time of the calls with known size and group
    roof: LinkRoof | None
    missing: str | None  # why the roof cannot be computed


def collective_figures(work: CollectiveWork, roofs: Roofs) -> CollectiveFigures:
    if work.collective is None:
        return CollectiveFigures(None, None, None, None, 0.0, None,
                                 "the collective's type is recorded neither in its name nor in its args")
    sized = [p for p in work.parts if p.group_size and p.message_bytes is not None]
    if not sized:
        missing = ("message size not recorded (no 'In msg nelems' / 'dtype' in the record_param_comms args)"
                   if any(p.group_size for p in work.parts) or not work.parts
                   else "group and message size not recorded: kineto traces of recent PyTorch carry them in the "
                        "record_param_comms args, older ones and Nsight exports do not")
        if work.parts and all(p.message_bytes is not None for p in work.parts):
            total = sum(p.message_bytes or 0.0 for p in work.parts)
            missing = (f"group size not recorded (messages of {total / 1e6:,.1f} MB in all are): a symmetric-memory "
                       "collective names its group, and the profiler does not record the name's group")
        return CollectiveFigures(None, None, None, None, 0.0, None, missing)
    roof_s = latency = message = bus = sized_s = 0.0
    chosen: LinkRoof | None = None  # the link of the part with the most calls, for the report
    for part in sorted(sized, key=lambda p: -p.calls):
        assert part.group_size is not None and part.message_bytes is not None
        link = link_roof(roofs, part.group_size)
        if link is None:
            return CollectiveFigures(None, None, None, None, 0.0, None,
                                     f"{roofs.display_name} lists no GPU-GPU or host link bandwidth")
        chosen = chosen or link
        factor = bus_factor(work.collective, part.group_size)
        part_bus = part.message_bytes * factor
        part_latency = part.calls * (RING_LL_BASE_LATENCY_S
                                     + latency_steps(work.collective, part.group_size) * link.hop_latency_s)
        roof_s += part_latency + part_bus / link.bandwidth.value
        latency += part_latency
        message += part.message_bytes
        bus += part_bus
        sized_s += part.measured_s
    return CollectiveFigures(roof_s, latency, message, bus, sized_s, chosen, None)


def group_collective(table: EventTable, rows: np.ndarray) -> CollectiveWork | None:
    """The collective work of one kernel group's rows of an event table; None for other kernels."""
    if not len(rows):
        return None
    name = table.names.values[int(table.name[rows[0]])]
    if table.kind[rows[0]] != 0 or not is_collective_kernel(name):
        return None
    comms = table.comms.values
    calls = [(comms[code] if code else None, dur) for code, dur in zip(table.comm[rows].tolist(),
                                                                      table.dur_ns[rows].tolist())]
    return collective_work(name, calls)


def events_collective(name: str, kind: str, calls: list[tuple[CollectiveCall | None, int]]) -> CollectiveWork | None:
    """The same for a group of GpuEvents: ``(event.collective, event.dur_ns)`` pairs."""
    if kind != "kernel" or not is_collective_kernel(name):
        return None
    return collective_work(name, calls)
