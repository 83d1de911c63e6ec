"""The planner's prediction for measured runs: each run becomes its serving config and is evaluated
in-process, as ``roofline plan`` would (no CLI, no files: model and hardware come through the
two resolvers the caller passes). Used by calibration and by the fidelity benchmark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from roofline.errors import InputError
from roofline.hardware.spec import HardwareSpec, Roofs
from roofline.planner.serving import ServingContext, build_context, evaluate
from roofline.workload.engine_profile import load_engine_profile
from roofline.workload.model import ModelArch
from roofline.workload.predict import Prediction
from roofline.workload.runs import MeasuredRun, bundled_name, hardware_name, serving_config_data
from roofline.workload.serving import ServingConfig

HardwareResolver = Callable[[str], tuple[HardwareSpec, Roofs]]
ModelResolver = Callable[[str], ModelArch]


@dataclass(frozen=True)
class RunPrediction:
    run: MeasuredRun
    config: ServingConfig | None
    prediction: Prediction | None
    refused: str | None = None  # the planner's error, when it refused the config

    @property
    def ttft_error(self) -> float | None:
        return self.prediction.ttft_s / self.run.ttft_s - 1 if self.prediction else None

    @property
    def tpot_error(self) -> float | None:
        return self.prediction.itl_s / self.run.tpot_s - 1 if self.prediction else None


@lru_cache(maxsize=None)
def _covers(engine: str, version: str) -> bool:
    try:
        return load_engine_profile(engine).covers(version) and bool(load_engine_profile(engine).by_version)
    except InputError:
        return False


def run_config(run: MeasuredRun, *, legacy: bool = False, profile_path: str | None = None,
               harness: bool = True) -> ServingConfig:
    """``harness``: with what the run's source fixes (its benchmark, deployment flags: runs.harness_of)."""
    data = serving_config_data(run, model=bundled_name(run.model), hardware=hardware_name(run.hardware),
                               legacy=legacy, harness=harness)
    if not legacy:
        # The profile is chosen by engine (or given); the row's version picks the constants fitted on
        # that version's runs where the bundled profile has them, and is otherwise no pin a row must match.
        runtime = dict(data["runtime"])  # type: ignore[arg-type]
        version = runtime.pop("engine_version", None)
        if version and profile_path is None and _covers(str(runtime["engine"]), str(version)):
            runtime["engine_version"] = version
        if profile_path is not None:
            runtime["engine_profile"] = profile_path
        data["runtime"] = runtime
    return ServingConfig.model_validate(data)


def predict_runs(
    runs: list[MeasuredRun],
    *,
    hardware: HardwareResolver,
    model: ModelResolver,
    legacy: bool = False,
    context_for: Callable[[ServingConfig, ModelArch, HardwareSpec, Roofs], ServingContext] | None = None,
    harness: bool = True,
) -> list[RunPrediction]:
    """Evaluate every run; a config the planner refuses (does not fit, unknown model) is kept with
    its one-line reason rather than dropped, so the refusals are counted."""
    make_context = context_for or (lambda cfg, arch, spec, roofs: build_context(cfg, arch, spec, roofs))
    contexts: dict[tuple[object, ...], ServingContext] = {}
    out: list[RunPrediction] = []
    for run in runs:
        try:
            cfg = run_config(run, legacy=legacy, harness=harness)
            key = (cfg.model, cfg.hardware, cfg.parallelism.tensor, cfg.runtime.model_dump_json())
            context = contexts.get(key)
            if context is None:
                spec, roofs = hardware(cfg.hardware)
                context = contexts[key] = make_context(cfg, model(cfg.model), spec, roofs)
            out.append(RunPrediction(run, cfg, evaluate(cfg, context).prediction))
        except InputError as exc:
            out.append(RunPrediction(run, None, None, refused=exc.message))
        except ValueError as exc:  # a config the schema refuses (pydantic)
            out.append(RunPrediction(run, None, None, refused=str(exc).splitlines()[-1].strip()))
    return out
