"""Find the kernel group (verdict) a timeline event belongs to.

Verdicts are grouped by (op, kernel name, launch mode, kind) — see
``roofline.analysis.timeline.group_events`` — but a verdict does not record its launch mode. When
the same kernel of the same op ran both eager and replayed from a CUDA graph there are two
verdicts; the one whose launch floor is the graph floor is the graph group.
"""

from __future__ import annotations

from collections import defaultdict

from roofline.analysis.classify import KernelVerdict
from roofline.analysis.events import GpuEvent
from roofline.analysis.result import ClassifyResult

GroupKey = tuple[str, str, str]  # (kernel name, op or "", kind)


def group_key(name: str, op: str | None, kind: str) -> GroupKey:
    return (name, op or "", kind)


class VerdictIndex:
    """Verdicts by (name, op, kind), split by launch mode where both modes occur."""

    def __init__(self, result: ClassifyResult) -> None:
        self._by_key: dict[GroupKey, list[KernelVerdict]] = defaultdict(list)
        for verdict in result.kernels:
            self._by_key[group_key(verdict.name, verdict.op, verdict.kind)].append(verdict)
        self._graph_floor = result.hardware.launch_floor_graph_s
        self._eager_floor = result.hardware.launch_floor_eager_s

    def find(self, name: str, op: str | None, kind: str, in_graph: bool) -> KernelVerdict | None:
        found = self._by_key.get(group_key(name, op, kind))
        if not found:
            return None
        if len(found) == 1 or self._graph_floor == self._eager_floor:
            return found[0]
        floor = self._graph_floor if in_graph else self._eager_floor
        for verdict in found:
            if verdict.launch_s == floor:
                return verdict
        return found[0]

    def for_event(self, event: GpuEvent) -> KernelVerdict | None:
        return self.find(event.name, event.op, event.kind, event.in_graph)
