"""SGLang --scheduler-recv-interval N: while it decodes, the scheduler polls for new requests every N
iterations, so an arrival waits for the next poll (InferenceX's DeepSeek-R1 B200 scripts run 10 or 30)."""

from __future__ import annotations

import pytest

from roofline.hardware.registry import load_registry
from roofline.hardware.spec import roofs_from_spec
from roofline.planner.serving import build_context
from roofline.workload.engine_profile import Scheduler
from roofline.workload.model import load_model
from roofline.workload.scheduling import StepResult, continuous
from roofline.workload.serving import ServingConfig


def _step(decodes: int, context: int, prompt_tokens: int, prompt: int) -> StepResult:
    return StepResult((0.02 if decodes else 0.0) + 1e-5 * prompt_tokens, None)


def _mean_wait_for_poll(interval: int, iteration_s: float, points: int = 100_000) -> float:
    """An arrival at a uniform instant of the N-iteration poll cycle waits until the cycle ends:
    enumerated on a fine grid of arrival instants (midpoints)."""
    cycle = interval * iteration_s
    return sum(cycle - (k + 0.5) * cycle / points for k in range(points)) / points


def test_the_poll_wait_matches_the_enumerated_cycle_and_leaves_tpot() -> None:
    base = Scheduler(token_budget=8192)
    kwargs = dict(clients=16, capacity=16, prompt=1024, output=1025, step=_step)
    every = continuous(scheduler=base, **kwargs)
    for n in (10, 30):
        polled = continuous(scheduler=base.model_copy(update={"recv_interval": n}), **kwargs)
        # Against polling every iteration (the residual half iteration, already counted), the wait grows by
        # the enumerated cycle wait less that half: 4.5 TPOT at N = 10, 14.5 at N = 30.
        added = _mean_wait_for_poll(n, every.tpot_s) - _mean_wait_for_poll(1, every.tpot_s)
        assert polled.ttft_s - every.ttft_s == pytest.approx(added, rel=1e-6)
        assert polled.tpot_s == every.tpot_s
    assert (continuous(scheduler=base.model_copy(update={"recv_interval": 10}), **kwargs).ttft_s - every.ttft_s
            == pytest.approx(4.5 * every.tpot_s))


def test_one_client_arrives_at_an_idle_engine() -> None:
    base = Scheduler(token_budget=8192)
    one = dict(clients=1, capacity=16, prompt=1024, output=129, step=_step)
    assert continuous(scheduler=base.model_copy(update={"recv_interval": 30}), **one).ttft_s == \
        continuous(scheduler=base, **one).ttft_s


def test_the_deployment_sets_the_interval() -> None:
    cfg = ServingConfig.model_validate({"model": "deepseek-r1", "hardware": "b200-sxm", "gpus": 8,
                                        "parallelism": {"tensor": 8, "expert": 8, "expert_tensor": 1},
                                        "precision": {"weights": "fp8", "activations": "fp8", "kv_cache": "fp8"},
                                        "runtime": {"engine": "sglang", "recv_interval": 30},
                                        "serving": {"concurrency": 32, "prompt_tokens": 1024, "output_tokens": 1024}})
    spec = load_registry().resolve(cfg.hardware)
    context = build_context(cfg, load_model("deepseek-r1")[0], spec, roofs_from_spec(spec))
    assert context.scheduler_for(cfg).recv_interval == 30
    assert context.profile.scheduler.recv_interval == 1  # the bundled profile polls every iteration


def test_corpus_rows_get_the_script_interval() -> None:
    import importlib.util
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parent.parent / "benchmarks" / "fidelity"
    sys.path.insert(0, str(bench))
    try:
        if "inferencex_layouts" not in sys.modules:
            spec = importlib.util.spec_from_file_location("inferencex_layouts", bench / "inferencex_layouts.py")
            sys.modules["inferencex_layouts"] = module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        spec = importlib.util.spec_from_file_location("corpus_moe_recv", bench / "corpus_moe.py")
        cm = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(cm)
    finally:
        sys.path.remove(str(bench))
    row = {"backend": "sglang", "mode": "agg", "system": "b200_sxm", "gemm_quant_mode": "fp8", "tp_size": "8",
           "attention_dp_size": "1", "moe_ep_size": "1", "moe_tp_size": "8", "batch_size": "4",
           "silicon_data_source": "db-dump/x"}
    assert cm.recv_interval(row, "deepseek-r1") == 10  # dsr1_fp8_b200.sh: TP 8, CONC < 16
    assert cm.recv_interval({**row, "batch_size": "16"}, "deepseek-r1") == 30  # CONC ≥ 16
    assert cm.recv_interval({**row, "batch_size": "64", "tp_size": "4", "moe_tp_size": "4"}, "deepseek-r1") == 10
    assert cm.recv_interval({**row, "backend": "trtllm"}, "deepseek-r1") is None
    assert cm.recv_interval({**row, "silicon_data_source": "aic/x"}, "deepseek-r1") is None
