"""Capture a PyTorch-profiler (kineto) trace with the settings roofline's analysis needs.

``record_shapes=True`` (FLOPs and bytes come from op input shapes), CPU + CUDA activities (CPU
alone without CUDA), a warm-up/active schedule with ``repeat=1`` so one-off costs (cuBLAS
handles, allocator growth, autotuning) stay out, and ``ProfilerStep#N`` markers per step::

    with roofline.capture("trace.json", steps=3, warmup=2) as cap:
        for batch in loader:
            train_step(batch)
            cap.step()
            if cap.done:
                break

:func:`bootstrap` is the other entry: ``roofline profile`` starts it inside the profiled script's
interpreter (through an injected ``sitecustomize``) and places the step markers itself.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from roofline.errors import InputError, MissingDependencyError


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingDependencyError("torch is not installed", place="capture", fix="pip install torch") from None
    return torch


class Capture:
    """A running profiler: call :meth:`step` once per iteration; the trace is written when the last
    active step ends (or, partially, when the ``with`` block exits early during the active steps)."""

    def __init__(self, path: str | os.PathLike[str], steps: int = 3, warmup: int = 2, *, wait: int = 0,
                 sync: bool = True, with_stack: bool = False) -> None:
        if steps < 1 or warmup < 0 or wait < 0:
            raise InputError(f"steps={steps}, warmup={warmup}, wait={wait}", place="capture",
                             fix="steps must be at least 1; warmup and wait at least 0")
        self.path = Path(path)
        self.steps, self.warmup, self.wait = steps, warmup, wait
        # Synchronising before each step marker keeps every step's GPU work inside its own step
        # span; without it the last active step's kernels can finish after the trace is cut.
        self.sync = sync
        self.with_stack = with_stack
        self.steps_taken = 0
        self.written = False
        self.discarded = False
        self._prof: Any = None
        self._torch: Any = None

    @property
    def total_steps(self) -> int:
        return self.wait + self.warmup + self.steps

    @property
    def done(self) -> bool:
        return self.steps_taken >= self.total_steps

    @property
    def active_steps_recorded(self) -> int:
        return max(0, min(self.steps_taken - self.wait - self.warmup, self.steps))

    def __enter__(self) -> Capture:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        torch = self._torch = _import_torch()
        profiler = torch.profiler
        activities = [profiler.ProfilerActivity.CPU]
        if torch.cuda.is_available():
            activities.append(profiler.ProfilerActivity.CUDA)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._prof = profiler.profile(
            activities=activities,
            schedule=profiler.schedule(wait=self.wait, warmup=self.warmup, active=self.steps, repeat=1),
            record_shapes=True,
            with_stack=self.with_stack,
            on_trace_ready=self._export,
        )
        self._prof.__enter__()

    def _export(self, prof: Any) -> None:
        if self.discarded:
            return
        # Written beside the target and renamed over it, so a process killed mid-export leaves no
        # half trace under the final name (docs/robustness.md). export_chrome_trace gzips when the
        # name ends in .gz, so the temporary name keeps that ending.
        gz = ".gz" if self.path.name.endswith(".gz") else ""
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial{gz}")
        try:
            prof.export_chrome_trace(str(partial))
            os.replace(partial, self.path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        self.written = True

    def step(self) -> None:
        """Mark the end of one iteration. Extra calls after the last active step are ignored."""
        if self._prof is None or self.done:
            return
        if self.sync and self._torch.cuda.is_available() and self._torch.cuda.is_initialized():
            self._torch.cuda.synchronize()
        self.steps_taken += 1
        self._prof.step()
        if self.done:
            self.stop()

    def discard(self) -> None:
        """Stop without writing anything (a provisional whole-run capture that steps replace)."""
        self.discarded = True
        if self._prof is not None:
            prof, self._prof = self._prof, None
            prof.__exit__(None, None, None)

    def stop(self) -> None:
        if self._prof is None:
            return
        prof, self._prof = self._prof, None
        if self.sync and self._torch.cuda.is_available() and self._torch.cuda.is_initialized():
            self._torch.cuda.synchronize()
        # Stopping during the active steps writes what was recorded; during warm-up nothing is.
        prof.__exit__(None, None, None)
        if not self.written:
            warnings.warn(
                f"roofline.capture: only {self.steps_taken} step(s) ran; {self.wait + self.warmup} "
                f"wait/warm-up step(s) come before the first profiled one, so no trace was written to {self.path}",
                RuntimeWarning,
                stacklevel=2,
            )
        elif self.active_steps_recorded < self.steps:
            warnings.warn(f"roofline.capture: {self.active_steps_recorded} of {self.steps} profiled steps ran "
                          f"before the capture stopped", RuntimeWarning, stacklevel=2)


def capture(path: str | os.PathLike[str], steps: int = 3, warmup: int = 2, *, wait: int = 0, sync: bool = True,
            with_stack: bool = False) -> Capture:
    """Profile ``steps`` iterations after ``warmup`` ones into ``path`` (``.json`` or ``.json.gz``)."""
    return Capture(path, steps, warmup, wait=wait, sync=sync, with_stack=with_stack)


# --- inside the script run by `roofline profile` ------------------------------------------------

CONFIG_ENV = "ROOFLINE_PROFILE_CONFIG"
STEP_MODES = ("auto", "module", "optimizer", "none")


class _Session:
    """Step markers placed without the script's help: the first nn.Module called (necessarily the
    outermost one: nothing else is running) is the step module. A step ends when its forward returns
    (inference, decode loops) or, when it is training, at each optimizer step.

    ``auto`` decides from what the script does, not from ``module.training`` alone (a model never
    put in ``eval()`` is in training mode while it serves): a training-mode module starts on
    optimizer steps, and when its forward returns a second time with no optimizer step and no
    gradient in between, it was inference after all and its forward calls become the steps. Until a
    module is called, ``auto`` records the whole run from torch's import, so a script without an
    nn.Module still leaves a trace (as ``--step-on none`` would); the first forward call replaces
    that provisional capture with the scheduled one."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.mode = config["step_on"]
        self.capture: Capture | None = None
        self.provisional: Capture | None = None
        self.module: str | None = None
        self.step_module: Any = None
        self.forwards = 0
        self.optimizer_steps = 0
        self.note: str | None = None
        self.undecided = False
        self.handles: list[Any] = []
        atexit.register(self.finish)

    def on_torch(self, torch: Any) -> None:
        if self.mode == "none":
            self._start(torch)
            return
        if self.mode == "auto":
            self.provisional = Capture(self.config["out"], steps=1, warmup=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.provisional.start()
        self.handles.append(torch.nn.modules.module.register_module_forward_pre_hook(self._first_forward))

    def _first_forward(self, module: Any, args: Any) -> None:
        import torch

        self._remove_hooks()  # a global hook on every module call would tax a launch-bound script
        if self.provisional is not None:
            self.provisional.discard()
            self.provisional = None
        self.module = type(module).__name__
        self.step_module = module
        training = module.training and torch.is_grad_enabled()
        if self.mode == "optimizer" or (self.mode == "auto" and training):
            from torch.optim.optimizer import register_optimizer_step_post_hook

            self.undecided = self.mode == "auto"
            self.mode = "optimizer"
            self.handles.append(register_optimizer_step_post_hook(lambda *a: self._optimizer_step()))
            self.handles.append(module.register_forward_hook(lambda *a: self._forward()))
        else:
            self.mode = "module"
            self.handles.append(module.register_forward_hook(lambda *a: self._forward()))
        self._start(torch)

    def _optimizer_step(self) -> None:
        self.optimizer_steps += 1
        self.undecided = False
        self._step()

    def _forward(self) -> None:
        self.forwards += 1
        if self.mode == "module":
            self._step()
        elif self.undecided and self.forwards >= 2 and self.optimizer_steps == 0:
            # Two forward calls, no optimizer step between them: inference, unless gradients are
            # being accumulated over micro-batches (then .grad is set and the optimizer comes later).
            self.undecided = False
            if not any(p.grad is not None for p in self.step_module.parameters()):
                self.mode = "module"
                self.note = (f"{self.module} is in training mode but no optimizer stepped and no gradient was "
                             "computed: its forward calls are the steps (call .eval() to say so)")
                self._step()

    def _start(self, torch: Any) -> None:
        c = self.config
        if self.mode == "none":  # no steps: one active window from torch's import to the exit
            self.capture = Capture(c["out"], steps=1, warmup=0)
        else:
            self.capture = Capture(c["out"], steps=c["steps"], warmup=c["warmup"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's "won't be using warmup" would land in the script's stderr
            self.capture.start()

    def _step(self) -> None:
        if self.capture is None:
            return
        self.capture.step()
        if self.capture.done:
            self._remove_hooks()
            self.write_status()

    def _remove_hooks(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()

    def finish(self) -> None:
        if self.provisional is not None:  # auto, and no nn.Module was ever called: the whole run
            self.capture, self.provisional, self.mode = self.provisional, None, "none"
            self.note = "no nn.Module was called: the whole run was profiled, without steps (as --step-on none)"
        if self.capture is not None and not self.capture.done:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the parent reports what is missing, in one line
                self.capture.stop()
        self.write_status()

    def write_status(self) -> None:
        c = self.capture
        status = {
            "started": c is not None,
            "mode": self.mode,
            "module": self.module,
            "steps_taken": c.steps_taken if c else 0,
            "active_steps_recorded": c.active_steps_recorded if c else 0,
            "written": bool(c and c.written),
            "forwards": self.forwards,
            "optimizer_steps": self.optimizer_steps,
            "note": self.note,
        }
        Path(self.config["status"]).write_text(json.dumps(status))


class _AfterImport:
    """A meta-path finder that runs a callback once ``torch`` has been imported by the script, so
    the script's own environment set-up (before its ``import torch``) still takes effect."""

    def __init__(self, callback: Any) -> None:
        self.callback = callback

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "torch":
            return None
        sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        loader, exec_module = spec.loader, spec.loader.exec_module

        def run(module: Any) -> None:
            exec_module(module)
            self.callback(module)

        loader.exec_module = run  # type: ignore[method-assign]
        return spec


def bootstrap(config_json: str) -> None:
    """Set up profiling inside the profiled script's interpreter (called from sitecustomize)."""
    session = _Session(json.loads(config_json))
    if "torch" in sys.modules:
        session.on_torch(sys.modules["torch"])
    else:
        sys.meta_path.insert(0, _AfterImport(session.on_torch))


class _CallableModule(type(sys)):  # type: ignore[misc]
    """``roofline.capture`` names both this module and the function: once the module is imported,
    the import system binds ``roofline.capture`` to the module, so the module itself must be callable."""

    def __call__(self, *args: Any, **kwargs: Any) -> Capture:
        return capture(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
