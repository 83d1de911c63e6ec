"""SGLang packs waiting prompts into one prefill batch up to chunked_prefill_size and streams every
first token at the batch's end: a request also waits for the prompts packed after it (batch_fill)."""

from __future__ import annotations

import math

import pytest

from roofline.workload.engine_profile import Scheduler, load_engine_profile
from roofline.workload.scheduling import StepResult, batch_fill, continuous


def _packed_after(clients: int, prompt: int, budget: int) -> float:
    """Enumerate a wave of ``clients`` prompts packed back to back into batches of ``budget`` tokens
    (the last of a batch chunked, as SGLang's PrefillAdder does): the mean number of tokens prefilled
    in a request's final batch after its own last token, in units of min(prompt, budget)."""
    total = clients * prompt
    after = []
    for j in range(clients):
        end = (j + 1) * prompt  # where its last token lands
        batch_end = min(math.ceil(end / budget) * budget, total)
        after.append(batch_end - end)
    return sum(after) / len(after) / min(prompt, budget)


def test_batch_fill_matches_the_enumerated_wave() -> None:
    sched = Scheduler(token_budget=8192, prefill_batch_fill=True)
    # 16 prompts of 1,024 tokens: 8 per batch, on average 3.5 prompts after a request in its batch.
    assert _packed_after(16, 1024, 8192) == pytest.approx(3.5)
    assert batch_fill(sched, 16, 1024) == pytest.approx(3.5)
    # 128 prompts of 2,048 tokens: 4 per batch, 1.5 after.
    assert batch_fill(sched, 128, 2048) == pytest.approx(_packed_after(128, 2048, 8192))
    # 3 prompts of 1,024: the wave is one batch, the others supply what fills it: mean 1 prompt after.
    assert _packed_after(3, 1024, 8192) == pytest.approx(1.0)
    assert batch_fill(sched, 3, 1024) == pytest.approx(1.0)


def test_batch_fill_of_a_chunked_prompt_fills_after_its_last_chunk() -> None:
    sched = Scheduler(token_budget=8192, prefill_batch_fill=True)
    # 10,000 tokens: chunks of 8,192 and 1,808; the last batch has 6,384 tokens of room, half on average.
    assert batch_fill(sched, 64, 10_000) == pytest.approx(6384 / 2 / 8192)
    assert batch_fill(sched, 64, 8192) == 0.0  # a prompt that fills its batch waits for no one else


def test_batch_fill_is_off_by_default_and_for_one_client() -> None:
    assert batch_fill(Scheduler(token_budget=8192), 16, 1024) == 0.0
    assert batch_fill(Scheduler(token_budget=8192, prefill_batch_fill=True), 1, 1024) == 0.0
    assert load_engine_profile("sglang").scheduler.prefill_batch_fill
    assert not load_engine_profile("vllm").scheduler.prefill_batch_fill
    assert not load_engine_profile("trtllm").scheduler.prefill_batch_fill


def _step(decodes: int, context: int, prompt_tokens: int, prompt: int) -> StepResult:
    return StepResult((0.02 if decodes else 0.0) + 1e-5 * prompt_tokens, None)


def test_continuous_ttft_adds_the_fill_and_leaves_tpot() -> None:
    base = Scheduler(token_budget=8192, ttft_queue_share=0.5)
    on = base.model_copy(update={"prefill_batch_fill": True})
    off_t = continuous(clients=16, capacity=16, prompt=1024, output=129, scheduler=base, step=_step)
    on_t = continuous(clients=16, capacity=16, prompt=1024, output=129, scheduler=on, step=_step)
    # 3.5 prompts of 1,024 tokens at 10 µs a token (the marginal of one chunk over a decode step).
    assert on_t.ttft_s - off_t.ttft_s == pytest.approx(3.5 * 1024 * 1e-5)
    assert on_t.tpot_s == off_t.tpot_s
    assert on_t.ttft_weights["batch_fill"] == pytest.approx(3.5)
