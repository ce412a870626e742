"""The step graph and its scheduler: every order the scheduler allows respects `needs`,
cycles are found and named as real paths, and a 10,000-step file is handled at once."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from logomesh.pipelines.graph import Scheduler, StepGraph


def test_omitted_needs_mean_after_the_previous_step_and_empty_means_at_once() -> None:
    graph = StepGraph.of([("a", None), ("b", None), ("c", []), ("d", ["a", "c", "zz"])])
    assert graph.needs == {"a": (), "b": ("a",), "c": (), "d": ("a", "c")}
    assert graph.unknown == {"d": ("zz",)}
    assert graph.waves() == [["a", "c"], ["b", "d"]]
    assert graph.upstream("d") == {"a", "c"} and graph.upstream("b") == {"a"}


def test_a_cycle_is_named_in_the_direction_work_flows() -> None:
    graph = StepGraph.of([("a", ["c"]), ("b", ["a"]), ("c", ["b"]), ("d", [])])
    assert graph.cycle() == ["a", "b", "c", "a"]
    assert graph.waves() == []
    assert StepGraph.of([("self", ["self"])]).cycle() == ["self", "self"]


def test_ten_thousand_steps_in_a_row() -> None:
    graph = StepGraph.of([(f"s{i}", None) for i in range(10_000)])
    assert graph.cycle() is None
    assert len(graph.waves()) == 10_000


@st.composite
def graphs(draw: st.DrawFn, *, acyclic: bool) -> StepGraph:
    count = draw(st.integers(1, 25))
    steps: list[tuple[str, list[str] | None]] = []
    for i in range(count):
        if draw(st.booleans()) and i:
            steps.append((f"s{i}", None))
            continue
        pool = range(i) if acyclic else range(count)
        needs = draw(st.lists(st.sampled_from([f"s{j}" for j in pool]), max_size=4)) if pool else []
        steps.append((f"s{i}", needs))
    return StepGraph.of(steps)


@given(graphs(acyclic=True), st.randoms(use_true_random=False))
@settings(max_examples=200, deadline=None)
def test_every_order_the_scheduler_allows_respects_needs(
    graph: StepGraph, rng: random.Random
) -> None:
    scheduler = Scheduler(graph)
    ready = scheduler.start()
    order: list[str] = []
    while ready:
        step = ready.pop(rng.randrange(len(ready)))  # any ready step may finish first
        order.append(step)
        ready.extend(scheduler.finish(step))
    assert sorted(order) == sorted(graph.order)
    position = {step: index for index, step in enumerate(order)}
    for step in graph.order:
        assert all(position[need] < position[step] for need in graph.needs[step])
    assert graph.cycle() is None


@given(graphs(acyclic=False))
@settings(max_examples=300, deadline=None)
def test_a_cycle_is_reported_exactly_when_not_every_step_can_run(graph: StepGraph) -> None:
    cycle = graph.cycle()
    complete = sum(len(wave) for wave in graph.waves()) == len(graph.order)
    assert (cycle is None) == complete
    if cycle is not None:
        assert cycle[0] == cycle[-1]
        for earlier, later in itertools.pairwise(cycle):
            assert earlier in graph.needs[later]  # each hop is a real `needs`


@given(graphs(acyclic=True))
@settings(max_examples=200, deadline=None)
def test_upstream_is_every_step_a_step_waits_for(graph: StepGraph) -> None:
    for step in graph.order:
        expected: set[str] = set()
        frontier = set(graph.needs[step])
        while frontier:
            expected |= frontier
            frontier = {n for f in frontier for n in graph.needs[f]} - expected
        assert graph.upstream(step) == expected
