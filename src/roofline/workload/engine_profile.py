"""Engine profiles: every constant the serving model takes from the engine that runs it — its
scheduler (host time per iteration and per running sequence, fixed cost per request, token budget
per iteration, how long a new request waits behind other prefills), its kernels' efficiencies by
op class and precision, its all-reduce latency by tensor-parallel size, and its use of CUDA graphs.

Profiles are versioned, typed YAML files (``workloads/engines/*.yaml``, or a user's own from
``roofline calibrate``), loaded through roofline.yamlio; unknown keys are an error. Each constant's
source and the fit error it gives are in ``provenance`` (and in comments of the bundled files).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from roofline.data import bundled_dir
from roofline.errors import InputError
from roofline.workload.efficiency import Efficiency
from roofline.yamlio import load_yaml, validate

PROFILE_SCHEMA_VERSION = 1
# The generic engine prefills a whole prompt in one step, however long (no chunking).
GENERIC_TOKEN_BUDGET = 2**31 - 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MemoryReserve(_Strict):
    """An engine that derives its memory fraction from the device, as SGLang's default mem_fraction_static
    (server_args.py ``_handle_gpu_memory_settings``): reserved MiB = base + per_budget_token × max(token
    budget, min_budget_tokens) + per_graph_batch × CUDA-graph max batch + per_gpu × TP·PP, plus, under attention DP over
    ``dp`` ranks, per_dp_graph_batch × graph batch × dp (and per_dp_large_graph_batch × the same above
    ``large_graph_batch``); at least ``floor_mib`` on devices above ``floor_above_mib``; fraction = (device MiB − reserved) / device MiB."""

    base_mib: float = Field(512.0, ge=0)
    per_budget_token_mib: float = Field(1.5, ge=0)
    min_budget_tokens: int = Field(2048, ge=0)
    per_graph_batch_mib: float = Field(2.0, ge=0)
    # The CUDA-graph max batch at TP >= 4 and on devices of at least large_device_mib (None: the profile's).
    graph_batch_at_tp4: int | None = Field(512, ge=0)
    large_device_mib: float = Field(163840.0, ge=0)
    per_gpu_mib: float = Field(128.0, ge=0)
    # Attention data parallelism pads its graphs: per graph batch and DP rank, and more above a batch size.
    per_dp_graph_batch_mib: float = Field(3.0, ge=0)
    per_dp_large_graph_batch_mib: float = Field(1.5, ge=0)
    large_graph_batch: int = Field(300, ge=0)
    floor_mib: float = Field(10240.0, ge=0)
    floor_above_mib: float = Field(61440.0, ge=0)


def reserved_memory_fraction(reserve: MemoryReserve, device_bytes: float, *, token_budget: int,
                             graph_max_batch: int, tp: int, pp: int = 1, dp: int = 1) -> float:
    """The fraction of ``device_bytes`` the engine keeps for weights and its KV pool (3 decimals, as SGLang)."""
    mib = device_bytes / 2**20
    large = tp >= 4 or mib >= reserve.large_device_mib
    graphs = reserve.graph_batch_at_tp4 if reserve.graph_batch_at_tp4 is not None and large else graph_max_batch
    reserved = (reserve.base_mib + reserve.per_budget_token_mib * max(token_budget, reserve.min_budget_tokens)
                + reserve.per_graph_batch_mib * graphs + reserve.per_gpu_mib * tp * pp)
    if dp > 1:
        reserved += reserve.per_dp_graph_batch_mib * graphs * dp
        if graphs > reserve.large_graph_batch:
            reserved += reserve.per_dp_large_graph_batch_mib * graphs * dp
    if mib > reserve.floor_above_mib:
        reserved = max(reserved, reserve.floor_mib)
    return round((mib - reserved) / mib, 3)


class Scheduler(_Strict):
    # Host time per engine iteration that the GPU waits for (scheduling, input preparation,
    # sampling launch, output processing), and its part that grows with each running sequence.
    iteration_s: float = Field(0.0, ge=0, le=1)
    per_sequence_s: float = Field(0.0, ge=0, le=0.01)
    # Fixed time from a request's arrival to its first token besides GPU work (HTTP, tokenisation,
    # admission, detokenising the first token).
    per_request_s: float = Field(0.0, ge=0, le=10)
    # Host time per model layer of each prefill request: the prefill runs eagerly (CUDA graphs cover
    # decode only), so the CPU dispatches every layer's kernels for it — a cost that grows with the
    # layer count, not the batch (aiconfigurator calibrates vLLM's at 0.8 ms per layer).
    per_request_layer_s: float = Field(0.0, ge=0, le=0.1)
    # Tokens (prefill + decode) one iteration may carry: vLLM max_num_batched_tokens, TensorRT-LLM
    # max_num_tokens, SGLang chunked_prefill_size. A longer prompt is prefilled in chunks.
    token_budget: int = Field(8192, ge=1)
    # Running sequences at most (vLLM max_num_seqs, TensorRT-LLM max_batch_size, SGLang max_running_requests).
    max_running: int = Field(1024, ge=1)
    # The share of the other running requests' prefills a new request waits behind before its own:
    # 0 when arrivals are spread out, 0.5 when the closed-loop clients arrive together (each waits,
    # on average, behind half of the others), more when the engine prefers decode over new prefills.
    ttft_queue_share: float = Field(0.0, ge=0, le=4)
    # The engine packs waiting prompts into one prefill batch up to token_budget and streams each
    # request's first token at the batch's end, so a request also waits for the prompts packed after
    # it (SGLang's PrefillAdder; roofline.workload.scheduling.batch_fill). Off: only its own chunks.
    prefill_batch_fill: bool = False
    # The engine takes new requests in only every this many iterations while it decodes (SGLang
    # --scheduler-recv-interval; 1: every iteration). An arrival waits for the next poll.
    recv_interval: int = Field(1, ge=1, le=10_000)
    # Fraction of device memory the engine manages (vLLM gpu_memory_utilization 0.9).
    memory_fraction: float = Field(1.0, gt=0, le=1)
    # Derived from the device instead of memory_fraction when set (SGLang's default mem_fraction_static).
    memory_reserve: MemoryReserve | None = None
    # Decode steps replay CUDA graphs up to this batch (vLLM/SGLang capture sizes); None: the config's
    # runtime.cuda_graphs decides.
    graph_max_batch: int | None = Field(None, ge=0)


class Kernels(_Strict):
    """Efficiencies that replace the defaults of roofline.workload.efficiency (None keeps them)."""

    gemm_compute: dict[str, float] = Field(default_factory=dict, description="by compute precision")
    gemm_memory: dict[str, float] = Field(default_factory=dict, description="by compute precision")
    gemm_half_rows: float | None = Field(None, ge=0)
    gemm_memory_half_bytes: float | None = Field(None, ge=0)  # bytes a call at which streaming reaches half its η
    decode_attention_memory: float | None = Field(None, gt=0, le=1)
    prefill_attention_compute: float | None = Field(None, gt=0, le=1)
    elementwise_memory: float | None = Field(None, gt=0, le=1)
    # Launch constants (roofline calibrate from traces): host time to issue one eager kernel, host
    # submit cost per kernel of a CUDA-graph replay, GPU gap between replayed kernels.
    host_s_per_kernel: float | None = Field(None, ge=0, le=0.01)
    graph_submit_s_per_kernel: float | None = Field(None, ge=0, le=0.001)
    graph_gap_s: float | None = Field(None, ge=0, le=0.001)
    flash_attention: bool | None = None  # the engine's attention is fused
    fused_elementwise: bool | None = None  # the engine fuses norms/activations (torch.compile or its own kernels)

    @model_validator(mode="after")
    def _fractions(self) -> Kernels:
        for name, table in (("gemm_compute", self.gemm_compute), ("gemm_memory", self.gemm_memory)):
            for precision, value in table.items():
                if not 0 < value <= 1:
                    raise ValueError(f"{name}.{precision} must be in (0, 1], got {value}")
        return self


class Comm(_Strict):
    allreduce_latency_s: dict[int, float] = Field(default_factory=dict, description="per call, by TP size")
    bus_efficiency: float | None = Field(None, gt=0, le=1)

    @model_validator(mode="after")
    def _latencies(self) -> Comm:
        for tp, value in self.allreduce_latency_s.items():
            if tp < 2 or not 0 <= value <= 0.01:
                raise ValueError(f"allreduce_latency_s.{tp}: TP ≥ 2 and 0–10 ms per call, got {value}")
        return self


class MoEConstants(_Strict):
    """Constants of the engine's MoE path, fitted on the MoE models' fit rows (benchmarks/fidelity/
    fit_moe.py) apart from the dense fit: the expert-parallel all-to-all latency per call, the
    grouped-GEMM efficiency against a dense GEMM, and the host time per iteration for MoE models
    (which replaces scheduler.iteration_s for them), and the fixed cost per request before its first
    token (replaces scheduler.per_request_s for them: fitted on the MoE rows' TTFT). None keeps the default."""

    alltoall_latency_s: float | None = Field(None, ge=0, le=0.01)
    grouped_gemm: float | None = Field(None, gt=0, le=1)
    # The routed experts' weight-streaming efficiency by compute precision: the engine's MoE kernels
    # (TensorRT-LLM's and vLLM's fused fp4 MoE on Blackwell) are not the dense GEMMs whose streaming
    # efficiency the dense fit measured (kernels.gemm_memory); empty keeps the dense value.
    expert_memory: dict[str, float] = Field(default_factory=dict)
    iteration_s: float | None = Field(None, ge=0, le=1)
    per_request_s: float | None = Field(None, ge=0, le=10)
    rows_fit: int = Field(0, ge=0)
    fit_tpot_error: float | None = None
    fit_ttft_error: float | None = None
    source: str = ""

    @model_validator(mode="after")
    def _expert_fractions(self) -> MoEConstants:
        for precision, value in self.expert_memory.items():
            if not 0 < value <= 1:
                raise ValueError(f"expert_memory.{precision} must be in (0, 1], got {value}")
        return self


class Placement(_Strict):
    """Where the engine puts weights under a layout. ``attention_dp_sharded``: under attention DP, the
    weight groups it keeps sharded over every GPU of the replica instead of replicated on each DP
    group (``Parallelism.dp_sharded``; a config that sets it wins)."""

    attention_dp_sharded: tuple[Literal["lm_head", "dense_ffn", "shared_experts"], ...] = ()


class VendorOverride(_Strict):
    """Constants that differ on another vendor's stack (AMD ROCm/RCCL vs NVIDIA CUDA/NCCL)."""

    kernels: Kernels = Field(default_factory=Kernels)
    comm: Comm = Field(default_factory=Comm)
    source: str = ""


def version_parts(version: str) -> list[str]:
    """``0.5.6.post2`` → ['0', '5', '6', 'post2']; ``1.0.0rc3`` → ['1', '0', '0rc3'] (dot-separated)."""
    return [part for part in version.strip().lower().split(".") if part]


def version_matches(prefix: str, version: str) -> bool:
    """A profile's version prefix covers a version component by component: '0.5.1' covers '0.5.1.post1'
    and '0.5.1' but not '0.5.10'; '1.0.0' covers '1.0.0rc3' (a release candidate of that release)."""
    want, have = version_parts(prefix), version_parts(version)
    if not want or len(want) > len(have):
        return False
    *whole, last = want
    return have[:len(whole)] == whole and (have[len(whole)] == last or (
        have[len(whole)].startswith(last) and not have[len(whole)][len(last):][:1].isdigit()))


class SchedulerOverride(_Strict):
    """The fitted scheduler constants of one engine version (None keeps the profile's)."""

    iteration_s: float | None = Field(None, ge=0, le=1)
    per_sequence_s: float | None = Field(None, ge=0, le=0.01)
    per_request_s: float | None = Field(None, ge=0, le=10)
    per_request_layer_s: float | None = Field(None, ge=0, le=0.1)
    ttft_queue_share: float | None = Field(None, ge=0, le=4)


class VersionOverride(_Strict):
    """Constants fitted on the runs of one engine version (its scheduler changes between releases:
    e.g. SGLang 0.5.1's prefill-first scheduling keeps closed-loop arrivals synchronised, 0.5.6's do not)."""

    scheduler: SchedulerOverride = Field(default_factory=SchedulerOverride)
    kernels: Kernels = Field(default_factory=Kernels)
    comm: Comm = Field(default_factory=Comm)
    rows_fit: int = Field(0, ge=0)
    fit_ttft_error: float | None = None
    fit_tpot_error: float | None = None
    cv_ttft_error: float | None = None
    cv_tpot_error: float | None = None
    source: str = ""


class FitRecord(_Strict):
    corpus: str
    sha256: str = ""
    split: str
    rows_fit: int = Field(ge=0)
    rows_validate: int = Field(ge=0)
    fit_ttft_error: float | None = None
    fit_tpot_error: float | None = None
    cv_ttft_error: float | None = None
    cv_tpot_error: float | None = None
    validate_ttft_error: float | None = None
    validate_tpot_error: float | None = None


class EngineProfile(_Strict):
    schema_version: Literal[1] = 1
    name: str
    description: str = ""
    versions: list[str] = Field(default_factory=list, description="engine versions it describes (prefixes)")
    framework: Literal["engine", "huggingface"] = "engine"
    default_mode: Literal["continuous", "static"] = "continuous"
    scheduler: Scheduler = Field(default_factory=Scheduler)
    kernels: Kernels = Field(default_factory=Kernels)
    comm: Comm = Field(default_factory=Comm)
    parallel: Placement = Field(default_factory=Placement)
    vendors: dict[str, VendorOverride] = Field(default_factory=dict, description="by hardware vendor: amd, …")
    # Constants fitted on one engine version's runs, by version prefix ('0.5.1', '1.0.0'); a config's
    # runtime.engine_version picks the longest prefix that covers it, else the profile's own values.
    by_version: dict[str, VersionOverride] = Field(default_factory=dict)
    fit: FitRecord | None = None
    moe: MoEConstants | None = None
    provenance: dict[str, str] = Field(default_factory=dict, description="constant → its source and fit error")

    def efficiency(self, base: Efficiency, vendor: str | None = None) -> Efficiency:
        """The base efficiencies with this profile's (and its vendor override's) replacing them."""
        updates: dict[str, object] = {}
        override = self.vendors.get(vendor or "")
        for kernels, comm in ((self.kernels, self.comm),) + (((override.kernels, override.comm),) if override else ()):
            if kernels.gemm_compute:
                updates["gemm_compute_by_precision"] = {**updates.get("gemm_compute_by_precision", {}),  # type: ignore[dict-item]
                                                        **kernels.gemm_compute}
            if kernels.gemm_memory:
                updates["gemm_memory_by_precision"] = {**updates.get("gemm_memory_by_precision", {}),  # type: ignore[dict-item]
                                                       **kernels.gemm_memory}
            for field in ("gemm_half_rows", "gemm_memory_half_bytes", "decode_attention_memory", "prefill_attention_compute",
                          "elementwise_memory", "host_s_per_kernel", "graph_submit_s_per_kernel", "graph_gap_s"):
                value = getattr(kernels, field)
                if value is not None:
                    updates[field] = value
            if comm.allreduce_latency_s:
                updates["comm_latency_by_tp"] = {**updates.get("comm_latency_by_tp", {}),  # type: ignore[dict-item]
                                                 **comm.allreduce_latency_s}
            if comm.bus_efficiency is not None:
                updates["comm_bandwidth"] = comm.bus_efficiency
        if self.moe is not None:
            updates.update({k: v for k, v in (("alltoall_latency_s", self.moe.alltoall_latency_s),
                                              ("grouped_gemm", self.moe.grouped_gemm)) if v is not None})
            if self.moe.expert_memory:
                updates["expert_memory_by_precision"] = dict(self.moe.expert_memory)
        if not updates:
            return base
        return base.model_copy(update={**updates, "source": f"engine profile {self.label}"})

    def for_model(self, moe: bool) -> EngineProfile:
        """For an MoE model, the MoE section's host time per iteration and fixed cost per request
        replace the dense ones (dense models keep the scheduler's)."""
        if not moe or self.moe is None:
            return self
        update = {k: v for k, v in (("iteration_s", self.moe.iteration_s), ("per_request_s", self.moe.per_request_s))
                  if v is not None}
        return self.model_copy(update={"scheduler": self.scheduler.model_copy(update=update)}) if update else self

    def covers(self, version: str) -> bool:
        return any(version_matches(v, version) for v in (*self.versions, *self.by_version))

    def for_version(self, version: str | None) -> EngineProfile:
        """This profile with the override of the longest version prefix covering ``version`` applied
        (the kernels and comm of an override replace the profile's entry by entry)."""
        if not version or not self.by_version:
            return self
        matches = [v for v in self.by_version if version_matches(v, version)]
        if not matches:
            return self
        key = max(matches, key=lambda v: len(version_parts(v)))
        o = self.by_version[key]
        scheduler = self.scheduler.model_copy(update={k: v for k, v in o.scheduler if v is not None})
        kernels = self.kernels.model_copy(update={
            "gemm_compute": {**self.kernels.gemm_compute, **o.kernels.gemm_compute},
            "gemm_memory": {**self.kernels.gemm_memory, **o.kernels.gemm_memory},
            **{k: v for k, v in o.kernels if v is not None and not isinstance(v, dict)}})
        comm = self.comm.model_copy(update={
            "allreduce_latency_s": {**self.comm.allreduce_latency_s, **o.comm.allreduce_latency_s},
            **({"bus_efficiency": o.comm.bus_efficiency} if o.comm.bus_efficiency is not None else {})})
        provenance = {**self.provenance, **{f"version {key}": o.source}} if o.source else self.provenance
        return self.model_copy(update={"scheduler": scheduler, "kernels": kernels, "comm": comm, "by_version": {},
                                       "versions": [key], "provenance": provenance})

    @property
    def label(self) -> str:
        return self.name + (f" ({', '.join(self.versions)})" if self.versions else "")

    def constants(self) -> list[tuple[str, str, str]]:
        """(name, value, source) of every constant the profile sets, for display."""
        rows: list[tuple[str, str, str]] = []

        def add(prefix: str, model: BaseModel) -> None:
            for field, value in model:
                if value is None or value == {} or isinstance(value, BaseModel):
                    continue
                name = f"{prefix}.{field}"
                if isinstance(value, dict):
                    for key, item in value.items():
                        rows.append((f"{name}.{key}", _fmt(item), self.provenance.get(f"{name}.{key}",
                                                                                      self.provenance.get(name, ""))))
                else:
                    rows.append((name, _fmt(value), self.provenance.get(name, "")))

        add("scheduler", self.scheduler)
        add("kernels", self.kernels)
        add("comm", self.comm)
        for vendor, override in self.vendors.items():
            add(f"vendors.{vendor}.kernels", override.kernels)
            add(f"vendors.{vendor}.comm", override.comm)
        return rows


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def bundled_profiles() -> dict[str, Path]:
    return {path.stem: path for path in sorted((bundled_dir("workloads") / "engines").glob("*.yaml"))}


def load_profile_file(path: Path) -> EngineProfile:
    data, node = load_yaml(path, what="engine profile")
    if not isinstance(data, dict):
        raise InputError("expected a mapping (name, scheduler, kernels, comm, …)", file=path,
                         fix="see docs/plan.md, 'Engine profiles'")
    return validate(EngineProfile, data, path=path, node=node, what="engine profile")


def profile_path_inside(base: Path, ref: str) -> Path:
    """A profile path from a serving config is read only inside that config's directory (the same
    rule as its model path, docs/robustness.md)."""
    path = Path(ref)
    try:
        resolved = (base / path).resolve()
        outside = path.is_absolute() or not resolved.is_relative_to(base.resolve())
    except (OSError, RuntimeError, ValueError):
        raise InputError(f"engine profile path '{ref}' cannot be resolved", place="runtime.engine_profile",
                         fix="give the path of a profile YAML next to the config") from None
    if outside:
        raise InputError(f"engine profile path '{ref}' leads outside the config's directory ({base})",
                         place="runtime.engine_profile", fix="put the profile in or below the config's directory")
    return base / path


def load_engine_profile(engine: str, version: str | None = None, *, path: Path | None = None) -> EngineProfile:
    """A user's profile file (``runtime.engine_profile``), or the bundled profile of ``engine``; an
    unknown engine or a version none of its profiles covers is an error listing the known ones."""
    if path is not None:
        return load_profile_file(path)
    bundled = bundled_profiles()
    if engine not in bundled:
        close = difflib.get_close_matches(engine, list(bundled), n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise InputError(f"unknown engine '{engine}'", place="runtime.engine",
                         fix=f"{hint}known engines: {', '.join(bundled)}; or give runtime.engine_profile: FILE.yaml")
    profile = load_profile_file(bundled[engine])
    if version is not None and not profile.covers(version):
        known = ", ".join(sorted({*profile.versions, *profile.by_version})) or "none (this profile is not versioned)"
        raise InputError(f"no {engine} profile for version '{version}'", place="runtime.engine_version",
                         fix=f"known {engine} versions: {known}; drop engine_version, or calibrate your own "
                             "(roofline calibrate)")
    return profile.for_version(version)


def profile_yaml(profile: EngineProfile, header: str) -> str:
    """The profile as the YAML file it loads from, under a comment header (its provenance is data)."""
    import yaml

    body = yaml.safe_dump(profile.model_dump(mode="json", exclude_none=True), sort_keys=False, allow_unicode=True,
                          width=110)
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comment + body
