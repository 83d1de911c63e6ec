"""The MoE path's fixed cost per request before the first token (engine profile moe.per_request_s)."""

from __future__ import annotations

import pytest

from roofline.workload.disagg import Disaggregated, Pool, serve
from roofline.workload.engine_profile import EngineProfile, MoEConstants, Scheduler


def test_moe_per_request_replaces_the_dense_one_for_moe_models_only():
    profile = EngineProfile(name="x", scheduler=Scheduler(per_request_s=0.07, iteration_s=1e-4),
                            moe=MoEConstants(per_request_s=0.2))
    assert profile.for_model(True).scheduler.per_request_s == 0.2
    assert profile.for_model(True).scheduler.iteration_s == 1e-4  # not given: the dense one stays
    assert profile.for_model(False).scheduler.per_request_s == 0.07
    assert EngineProfile(name="y", scheduler=Scheduler(per_request_s=0.07), moe=MoEConstants()) \
        .for_model(True).scheduler.per_request_s == 0.07


def test_disaggregated_ttft_adds_the_per_request_cost_and_the_loop_obeys_littles_law():
    # Hand arithmetic, one client, one prefill and one decode worker, t_p = 0.1 s, hand-off 0.01 s,
    # per-request cost 0.2 s, a decode step of 0.01 s whatever the batch, OSL 11:
    # TTFT = 0.2 + 0.1 + 0.01 = 0.31 s; cycle = 0.31 + 10 × 0.01 = 0.41 s; λ = C / cycle = 1 / 0.41.
    layout = Disaggregated(prefill=Pool(), decode=Pool())
    t = serve(clients=1, output=11, layout=layout, prefill_s=0.1, transfer_s=0.01,
              decode_step=lambda b: 0.01, per_request_s=0.2)
    assert t.ttft_s == pytest.approx(0.31)
    assert t.request_rate == pytest.approx(1 / 0.41)
    # Two clients on one prefill worker (M/D/1 closed loop by MVA, hand-iterated): n = 1: R = 0.1,
    # X = 1/0.41, Q = 0.1/0.41; n = 2: R = 0.1 × (1 + 0.1/0.41) = 0.12439, X = 2 / (0.12439 + 0.31)
    # = 4.6043 /s, so TTFT = 0.2 + 0.12439 + 0.01 = 0.33439 s.
    t2 = serve(clients=2, output=11, layout=layout, prefill_s=0.1, transfer_s=0.01,
               decode_step=lambda b: 0.01, per_request_s=0.2)
    assert t2.ttft_s == pytest.approx(0.2 + 0.1 * (1 + 0.1 / 0.41) + 0.01, rel=1e-9)
    assert t2.request_rate == pytest.approx(2 / (0.1 * (1 + 0.1 / 0.41) + 0.31), rel=1e-9)
