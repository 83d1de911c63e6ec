"""The serving config (SPEC §4): model, hardware, parallelism, precisions, batch, SLOs, runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from roofline.errors import InputError
from roofline.workload.benchmark import BatchWait, Benchmark
from roofline.workload.disagg import Disaggregated
from roofline.precision import Precision, parse_precision
from roofline.yamlio import load_yaml, validate

WEIGHT_PRECISIONS = {Precision.FP32, Precision.FP16, Precision.BF16, Precision.FP8, Precision.INT8, Precision.INT4, Precision.FP4}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Parallelism(_Section):
    tensor: int = Field(default=1, ge=1)  # attention (and dense-layer) tensor parallelism
    pipeline: int = Field(default=1, ge=1)
    # Attention data parallelism (SGLang --enable-dp-attention, TensorRT-LLM attention DP): this many
    # groups of ``tensor`` GPUs each run attention for their own share of the sequences; the MoE layers
    # span all tensor × attention_data GPUs of the replica.
    attention_data: int = Field(default=1, ge=1)
    # Expert parallelism: the routed experts are split over ``expert`` GPUs, each expert's width over
    # ``expert_tensor``; expert × expert_tensor = tensor × attention_data (None: the rest of it).
    expert: int = Field(default=1, ge=1)
    expert_tensor: int | None = Field(default=None, ge=1)
    # Under attention DP, the weights kept sharded over all tensor × attention_data GPUs instead of
    # replicated on each attention-DP group: the LM head, the dense layers' FFN, the shared experts
    # (SGLang's default: --enable-dp-lm-head and --moe-dense-tp-size 1 turn the first two off).
    # None: the engine profile's placement (parallel.attention_dp_sharded); [] replicates them all.
    dp_sharded: tuple[Literal["lm_head", "dense_ffn", "shared_experts"], ...] | None = None
    # Extra expert replicas (SGLang --ep-num-redundant-experts, TensorRT-LLM EPLB slots): the routed
    # experts plus these copies fill the expert slots, split evenly over ``expert`` GPUs — how an EP
    # width that does not divide the expert count runs (256 experts + 32 over EP 24 or 48).
    redundant_experts: int = Field(default=0, ge=0)

    @property
    def gpus_per_replica(self) -> int:
        return self.tensor * self.attention_data * self.pipeline

    @property
    def moe_tensor(self) -> int:
        return self.expert_tensor or max(self.tensor * self.attention_data // self.expert, 1)

    @model_validator(mode="after")
    def _moe_group(self) -> Parallelism:
        group = self.tensor * self.attention_data
        if self.expert * self.moe_tensor != group:
            raise ValueError(
                f"expert × expert_tensor = {self.expert} × {self.moe_tensor} must equal tensor × attention_data = "
                f"{self.tensor} × {self.attention_data} (the MoE layers run on the replica's {group} GPUs)")
        return self


class PrecisionConfig(_Section):
    weights: Precision = Precision.FP16
    activations: Precision = Precision.FP16
    kv_cache: Precision = Precision.FP16
    # Block-wise quantization: one fp16 scale per group of weights (int4/int8/fp4 only).
    weight_group_size: int | None = Field(default=None, gt=0)
    # The routed experts apart from the other GEMMs (gpt-oss MXFP4 experts with bf16 attention,
    # DeepSeek-R1-FP4's NVFP4 experts with fp8 attention); None: as ``weights``.
    experts: Precision | None = None
    experts_group_size: int | None = Field(default=None, gt=0)

    @field_validator("experts", mode="before")
    @classmethod
    def _experts(cls, value: object) -> Precision | None:
        return None if value is None else parse_precision(str(value))

    @field_validator("weights", "activations", "kv_cache", mode="before")
    @classmethod
    def _precision(cls, value: object) -> Precision:
        return parse_precision(str(value))

    @model_validator(mode="after")
    def _supported(self) -> PrecisionConfig:
        if self.activations == Precision.FP4 and self.weights != Precision.FP4:
            raise ValueError("fp4 activations need fp4 weights (W4A4: NVFP4 or MXFP4)")
        if self.activations not in (Precision.FP32, Precision.FP16, Precision.BF16, Precision.FP8, Precision.INT8,
                                    Precision.FP4):
            raise ValueError(f"activations in {self.activations.value} are not supported (fp16, bf16, fp8, int8, fp4, fp32)")
        if self.kv_cache not in (Precision.FP32, Precision.FP16, Precision.BF16, Precision.FP8, Precision.INT8, Precision.INT4):
            raise ValueError(f"a {self.kv_cache.value} KV cache is not supported")
        return self


class Serving(_Section):
    # continuous: an engine that admits requests every iteration and interleaves their prefill with
    # the running decodes (vLLM, TensorRT-LLM in-flight batching, SGLang); static: the whole batch is
    # prefilled, then decoded together (offline jobs, TensorRT-LLM session benchmarks, HF generate).
    mode: Literal["continuous", "static"] | None = None
    # Sequences the engine runs together. Given, it must fit in memory (an error says by how much);
    # with ``concurrency`` it caps the running batch (an engine's max_num_seqs).
    batch: int = Field(default=1, ge=1, description="concurrent sequences")
    # Closed-loop clients, each sending its next request when the last one finished. Beyond what
    # fits (or beyond ``batch``) the excess waits in the engine's queue: a longer TTFT, not an error.
    concurrency: int | None = Field(default=None, ge=1, le=10_000_000)
    prompt_tokens: int = Field(default=1024, ge=1)
    output_tokens: int = Field(default=256, ge=1)
    max_context_tokens: int | None = Field(default=None, ge=1)
    # Separate prefill and decode pools (roofline.workload.disagg); the clients are ``concurrency``.
    disaggregated: Disaggregated | None = None
    # Predict what a load generator reports (roofline.workload.benchmark: burst start, request count,
    # length spread, mean or median) instead of the steady state.
    benchmark: Benchmark | None = None

    @property
    def clients(self) -> int:
        return self.concurrency if self.concurrency is not None else self.batch

    @model_validator(mode="after")
    def _context(self) -> Serving:
        if self.max_context_tokens is not None and self.max_context_tokens < self.prompt_tokens + self.output_tokens:
            raise ValueError(
                f"max_context_tokens {self.max_context_tokens} is less than prompt_tokens + output_tokens "
                f"({self.prompt_tokens + self.output_tokens})"
            )
        if self.benchmark is not None and self.mode == "static":
            raise ValueError("serving.benchmark models clients of a continuous-batching server; a static batch has "
                             "no arrivals (drop serving.benchmark or use mode: continuous)")
        return self

    @property
    def context_tokens(self) -> int:
        return self.max_context_tokens or (self.prompt_tokens + self.output_tokens)


class SLO(_Section):
    # Bounded so that ratios to predictions stay finite: an SLO of 5e-324 ms made the planner's
    # score log(inf) (math domain error, exit 3). A nanosecond to a thousand years covers any goal.
    ttft_ms: float | None = Field(default=None, ge=1e-6, le=1e12)
    itl_ms: float | None = Field(default=None, ge=1e-6, le=1e12)
    throughput_tok_s: float | None = Field(default=None, ge=1e-6, le=1e15)


class Runtime(_Section):
    cuda_graphs: bool = False
    flash_attention: bool = False
    compiled: bool = False
    # Whose kernels run: an inference engine's fused kernels, or Hugging Face transformers eager code
    # (many more, smaller kernels and ~25 µs of Python per kernel): see docs/plan.md.
    framework: Literal["engine", "huggingface"] = "engine"
    # Whose scheduler and kernels: a bundled engine profile (workloads/engines/: vllm, trtllm,
    # sglang, huggingface, generic), optionally pinned to a version it was fitted on, or a profile
    # YAML of your own (``roofline calibrate``), relative to this config.
    engine: str = "generic"
    engine_version: str | None = None
    engine_profile: str | None = None
    # How requests reach the engine: through a serving front end (an HTTP server that tokenises,
    # admits and streams: the profile's per-request cost applies) or offline, in-process (LLM.generate,
    # TensorRT-LLM's session benchmark, batch jobs: no per-request front-end cost).
    frontend: Literal["server", "offline"] = "server"
    # The token budget per iteration, where the deployment sets it (vLLM --max-num-batched-tokens,
    # TensorRT-LLM --max_num_tokens, SGLang --chunked-prefill-size); None: the engine profile's.
    max_num_tokens: int | None = Field(default=None, ge=1, le=10_000_000)
    # Iterations between the scheduler's polls for new requests (SGLang --scheduler-recv-interval);
    # None: the engine profile's.
    recv_interval: int | None = Field(default=None, ge=1, le=10_000)
    # TensorRT-LLM's context batch wait (batch_wait_timeout_iters, batch_wait_max_tokens_ratio).
    batch_wait: BatchWait | None = None
    # The share of each GPU's memory the engine may fill with weights, activations and the KV pool,
    # where the deployment sets it (SGLang --mem-fraction-static, vLLM --gpu-memory-utilization);
    # None: the engine profile's (scheduler.memory_fraction, or SGLang's device-derived reserve).
    memory_fraction: float | None = Field(default=None, gt=0, le=1)

    @field_validator("engine", mode="before")
    @classmethod
    def _engine(cls, value: object) -> str:
        return str(value).strip().lower()


class Speculative(_Section):
    draft_model: str | None = None
    # The model's own multi-token-prediction layers draft (DeepSeek-V3/R1 num_nextn_predict_layers).
    mtp: bool = False
    # Up to 100,000 B (100 T) parameters: 1e298 overflowed the synthetic draft's sizing (exit 3).
    draft_params_b: float | None = Field(default=None, gt=0, le=1e5,
                                         description="draft size in billions of parameters")
    k: int = Field(default=4, ge=1, le=16, description="draft tokens per round")
    acceptance: float = Field(gt=0, lt=1, description="per-token acceptance probability p")

    @model_validator(mode="after")
    def _draft(self) -> Speculative:
        if self.draft_model is None and self.draft_params_b is None and not self.mtp:
            raise ValueError("give draft_model (a bundled name or config.json), draft_params_b, or mtp: true")
        return self


class ServingConfig(_Section):
    model: str
    hardware: str
    gpus: int = Field(default=1, ge=1)
    parallelism: Parallelism = Field(default_factory=Parallelism)
    precision: PrecisionConfig = Field(default_factory=PrecisionConfig)
    serving: Serving = Field(default_factory=Serving)
    slo: SLO = Field(default_factory=SLO)
    runtime: Runtime = Field(default_factory=Runtime)
    speculative: Speculative | None = None

    @model_validator(mode="after")
    def _gpus(self) -> ServingConfig:
        needed = self.parallelism.gpus_per_replica
        if needed > self.gpus:
            product = "tensor × pipeline" if self.parallelism.attention_data == 1 else \
                "tensor × attention_data × pipeline"
            raise ValueError(f"parallelism needs {product} = {needed} GPUs but gpus is {self.gpus}")
        disagg = self.serving.disaggregated
        if disagg is not None and disagg.gpus > self.gpus:
            raise ValueError(
                f"serving.disaggregated needs {disagg.prefill.gpus} prefill + {disagg.decode.gpus} decode GPUs = "
                f"{disagg.gpus}, more than gpus {self.gpus}")
        return self


def load_serving_config(path: Path) -> ServingConfig:
    data, node = load_yaml(path, what="serving config")
    if not isinstance(data, dict):
        raise InputError("expected a mapping (model, hardware, gpus, …)", file=path, fix="see docs/plan.md")
    return validate(ServingConfig, data, path=path, node=node, what="serving config")
