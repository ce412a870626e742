"""The graph of a pipeline's steps: who needs whom, what may start now, and cycles.

``needs`` as users write it: omitted means "after the step before it" (a list of steps
runs in order, as a shell script would), ``[]`` means "at once", and a list names the
steps it waits for. The executor asks a :class:`Scheduler` which steps may start as others
finish; validation asks :meth:`StepGraph.cycle` and :meth:`StepGraph.upstream`
(a step may only refer to the outputs of steps it waits for, directly or not).

Everything here is linear in the number of steps and edges, so a 10,000-step file is
checked at once (no quadratic pass).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StepGraph:
    order: tuple[str, ...]  # the steps as the file lists them
    needs: dict[str, tuple[str, ...]]  # each step's resolved needs (known ids only)
    unknown: dict[str, tuple[str, ...]]  # needs that name no step, for validation to report

    @classmethod
    def of(cls, steps: Sequence[tuple[str, Sequence[str] | None]]) -> StepGraph:
        """``steps``: (id, needs or None for "after the previous step"), in file order."""
        order = tuple(step_id for step_id, _ in steps)
        known = set(order)
        needs: dict[str, tuple[str, ...]] = {}
        unknown: dict[str, tuple[str, ...]] = {}
        previous: str | None = None
        for step_id, wanted in steps:
            if wanted is None:
                resolved: tuple[str, ...] = (previous,) if previous is not None else ()
            else:
                resolved = tuple(dict.fromkeys(w for w in wanted if w in known))
                missing = tuple(w for w in wanted if w not in known)
                if missing:
                    unknown[step_id] = missing
            needs[step_id] = resolved
            previous = step_id
        return cls(order, needs, unknown)

    def dependents(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {step: [] for step in self.order}
        for step in self.order:
            for need in self.needs[step]:
                out[need].append(step)
        return out

    def cycle(self) -> list[str] | None:
        """One cycle as a path that ends where it starts (``['a', 'b', 'a']``), or None."""
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        for root in self.order:
            if state.get(root):
                continue
            path: list[str] = []
            stack: list[tuple[str, int]] = [(root, 0)]
            while stack:
                node, index = stack.pop()
                if index == 0:
                    state[node] = 1
                    path.append(node)
                needs = self.needs[node]
                if index < len(needs):
                    stack.append((node, index + 1))
                    nxt = needs[index]
                    if state.get(nxt) == 1:
                        start = path.index(nxt)
                        return [*path[start:], nxt][::-1]  # in the direction work flows
                    if not state.get(nxt):
                        stack.append((nxt, 0))
                    continue
                state[node] = 2
                path.pop()
        return None

    def upstream(self, step: str) -> set[str]:
        """Every step ``step`` waits for, directly or through others."""
        seen: set[str] = set()
        todo = list(self.needs.get(step, ()))
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(self.needs[node])
        return seen

    def waves(self) -> list[list[str]]:
        """The steps grouped by the earliest moment each may start (for an unlimited run);
        empty when there is a cycle (``cycle`` says which)."""
        scheduler = Scheduler(self)
        waves: list[list[str]] = []
        wave = scheduler.start()
        while wave:
            waves.append(wave)
            wave = [ready for step in wave for ready in scheduler.finish(step)]
        return waves if scheduler.finished == len(self.order) else []


class Scheduler:
    """Which steps may start, kept as steps finish: each step and edge is looked at once."""

    def __init__(self, graph: StepGraph) -> None:
        self.graph = graph
        self._waiting = {step: len(graph.needs[step]) for step in graph.order}
        self._dependents = graph.dependents()
        self.finished = 0

    def start(self) -> list[str]:
        """The steps that need nothing, in file order."""
        return [step for step, count in self._waiting.items() if count == 0]

    def finish(self, step: str) -> list[str]:
        """``step`` is done (whatever its outcome): the steps that may start now."""
        self.finished += 1
        now: list[str] = []
        for dependent in self._dependents[step]:
            self._waiting[dependent] -= 1
            if self._waiting[dependent] == 0:
                now.append(dependent)
        return now
