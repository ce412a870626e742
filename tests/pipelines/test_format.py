"""The pipeline file format: loading, refusing hostile files, and validating the graph.

Each bad input of issue 12 that concerns files has a test here, asserting the exact
file:line:column, path and message a person sees, since that is what they act on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logomesh.errors import LogoMeshError, PipelineValidationError, Problem
from logomesh.pipelines import loader, validation
from logomesh.pipelines.loader import load_bytes, load_file
from logomesh.pipelines.model import Pipeline, PipelineUse, schema
from logomesh.pipelines.validation import load_pipeline, pipelines_used, references, validate

COMMANDS = frozenset({"devshell.git_status", "devshell.run_tests", "llm.complete", "audit.query"})

VALID = """\
version: 1
name: ci
description: Lint and tests, then a summary if one failed.
inputs:
  branch: {type: string, default: main, description: the branch to test}
  strict: {type: boolean, required: true}
defaults:
  timeout: 300
  retry: {max_attempts: 2, backoff: {initial: 0.5, factor: 3, max: 10}, on: [timeout]}
steps:
  - id: lint
    uses: devshell.git_status
    needs: []
  - id: tests
    uses: devshell.run_tests
    needs: []
    with: {branch: "${{ inputs.branch }}", answer: no, count: 3}
    retry: {max_attempts: 3, jitter: false, on: [error, timeout]}
    timeout: 60.5
  - id: summary
    uses: llm.complete
    needs: [lint, tests]
    if: failure() && steps.tests.outcome == 'failure'
    with:
      prompt: "Summarise: ${{ steps.tests.data.output }}"
    continue_on_error: true
  - id: each
    uses: {pipeline: review}
    for_each: ["a", "b"]
    max_parallel: 2
outputs:
  summary: "${{ steps.summary.data.text }}"
"""


def problems_of(text: str | bytes, *, name: str = "p.yaml", **kwargs: object) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(PipelineValidationError) as caught:
        validate(load_bytes(data, file=name, json_format=name.endswith(".json")), **kwargs)  # type: ignore[arg-type]
    assert caught.value.code == "pipeline.invalid"
    return [str(problem) for problem in caught.value.problems]


def pipeline_text(*steps: str, extra: str = "") -> str:
    return "version: 1\nname: p\n" + extra + "steps:\n" + "".join(steps)


# --- a valid file -------------------------------------------------------------------------


def test_a_valid_file_round_trips_into_the_model(tmp_path: Path) -> None:
    path = tmp_path / "ci.yaml"
    path.write_text(VALID, encoding="utf-8")
    pipeline = load_pipeline(path, known_commands=COMMANDS, pipelines={"review": set()})
    assert pipeline.name == "ci" and pipeline.version == 1
    assert pipeline.inputs["branch"].default == "main" and pipeline.inputs["strict"].required
    assert pipeline.defaults.timeout == 300
    assert pipeline.defaults.retry is not None and pipeline.defaults.retry.on == ("timeout",)
    assert pipeline.defaults.retry.backoff.factor == 3
    lint, tests, summary, each = pipeline.steps
    assert lint.needs == () and each.needs is None  # [] is "at once", omitted "after the last"
    # YAML 1.2 core schema: `no` stays a string, numbers are numbers.
    assert tests.with_ == {"branch": "${{ inputs.branch }}", "answer": "no", "count": 3}
    assert tests.retry is not None and tests.retry.jitter is False and tests.timeout == 60.5
    assert summary.if_ == "failure() && steps.tests.outcome == 'failure'"
    assert summary.continue_on_error and summary.needs == ("lint", "tests")
    assert each.uses == PipelineUse(pipeline="review") and each.for_each == ["a", "b"]
    assert pipelines_used(pipeline) == {"review"}
    # The same pipeline written as JSON is the same model.
    as_json = tmp_path / "ci.json"
    as_json.write_text(json.dumps(pipeline.model_dump(by_alias=True, exclude_unset=True)))
    assert load_pipeline(as_json, known_commands=COMMANDS, pipelines={"review": set()}) == pipeline
    with pytest.raises(ValueError):  # frozen
        pipeline.name = "other"  # type: ignore[misc]


def test_the_schema_is_pydantics_with_the_keys_of_the_file() -> None:
    document = schema()
    assert document["$schema"].startswith("https://json-schema.org/")
    assert set(document["required"]) == {"version", "name", "steps"}
    assert document["additionalProperties"] is False
    step = document["$defs"]["Step"]["properties"]
    assert {"with", "if", "needs", "for_each", "max_parallel"} <= set(step)
    assert json.loads(json.dumps(document)) == document
    assert Pipeline.model_json_schema(by_alias=True)["$defs"] == document["$defs"]
    # What the loader accepts, the schema accepts (editors validate with it), and not a typo.
    jsonschema = pytest.importorskip("jsonschema")
    data = load_bytes(VALID.encode(), file="ci.yaml").data
    jsonschema.validate(data, document)
    data["steps"][0]["nedds"] = []
    with pytest.raises(jsonschema.ValidationError, match="nedds"):
        jsonschema.validate(data, document)
    short = load_bytes(b"version: 1\nname: a\nsteps: [{id: b, uses: c, needs: b}]", file="a")
    jsonschema.validate(short.data, document)


def test_the_message_lists_every_problem_as_file_line_column_path_message() -> None:
    error = PipelineValidationError(
        (Problem("a.yaml", 3, 5, "steps[0].id", "fix it"), Problem("a.yaml", 1, 1, "", "and this"))
    )
    assert isinstance(error, LogoMeshError)
    assert error.user_message.splitlines() == [
        "The pipeline file is not valid (2 problems):",
        "a.yaml:3:5: steps[0].id: fix it",
        "a.yaml:1:1: and this",
    ]


# --- the graph ----------------------------------------------------------------------------


def test_a_cycle_is_named_step_by_step() -> None:
    text = pipeline_text(
        "  - {id: a, uses: audit.query, needs: [c]}\n",
        "  - {id: b, uses: audit.query, needs: [a]}\n",
        "  - {id: c, uses: audit.query, needs: [b]}\n",
    )
    assert problems_of(text) == [
        "p.yaml:4:39: steps[0].needs: the steps' needs form a cycle a -> c -> b -> a; "
        "remove one of these needs"
    ]


def test_a_step_that_needs_or_reads_itself() -> None:
    text = pipeline_text(
        "  - id: a\n    uses: audit.query\n    needs: [a]\n",
        "  - id: b\n    uses: audit.query\n    with: {x: '${{ steps.b.outcome }}'}\n",
    )
    assert problems_of(text) == [
        "p.yaml:6:13: steps[0].needs[0]: step 'a' needs itself; remove it from its needs",
        "p.yaml:9:15: steps[1].with.x: step 'b' cannot read its own result; use an earlier step's",
    ]


def test_pipelines_that_use_each_other_are_named_as_a_circle() -> None:
    a = "version: 1\nname: a\nsteps:\n  - id: call\n    uses: {pipeline: b}\n"
    assert problems_of(a, pipelines={"b": {"c"}, "c": {"a"}}) == [
        "p.yaml:5:22: steps[0].uses.pipeline: the pipelines use each other in a circle "
        "(a -> b -> c -> a); break it"
    ]
    assert problems_of(a.replace("pipeline: b", "pipeline: a"), pipelines={}) == [
        "p.yaml:5:22: steps[0].uses.pipeline: the pipeline uses itself (a -> a); "
        "use another pipeline"
    ]
    assert problems_of(a.replace("pipeline: b", "pipeline: revew"), pipelines={"review": ()}) == [
        "p.yaml:5:22: steps[0].uses.pipeline: unknown pipeline 'revew' (did you mean 'review'?); "
        "name a pipeline of the workspace"
    ]


def test_duplicate_ids_and_unknown_needs() -> None:
    text = pipeline_text(
        "  - {id: build, uses: audit.query}\n",
        "  - {id: build, uses: audit.query}\n",
        "  - {id: test, uses: audit.query, needs: [biuld, build]}\n",
    )
    assert problems_of(text) == [
        "p.yaml:5:10: steps[1].id: duplicate step id 'build' (first on line 4); rename one",
        "p.yaml:6:43: steps[2].needs[0]: needs the unknown step 'biuld' (did you mean 'build'?); "
        "use a step's id",
    ]


def test_references_to_unknown_later_and_unrelated_steps_and_inputs() -> None:
    text = pipeline_text(
        "  - id: first\n    uses: audit.query\n    needs: []\n"
        "    with: {a: '${{ steps.later.data.x }}', b: '${{ steps.nope.outcome }}'}\n",
        "  - id: other\n    uses: audit.query\n    needs: []\n",
        "  - id: later\n    uses: audit.query\n    needs: [first]\n"
        "    if: steps.other.outcome == 'success'\n"
        "    with: {c: 'on ${{ inputs.brnch }}', d: \"${{ format('steps.x', inputs.branch) }}\"}\n",
        extra="inputs:\n  branch: {}\n",
    )
    assert problems_of(text) == [
        "p.yaml:9:15: steps[0].with.a: steps.later is not upstream of step 'first', so it may "
        "not have run yet; add 'later' to the needs of 'first'",
        "p.yaml:9:47: steps[0].with.b: steps.nope names no step; use a step's id",
        "p.yaml:16:9: steps[2].if: steps.other is not upstream of step 'later', so it may not "
        "have run yet; add 'other' to the needs of 'later'",
        "p.yaml:17:15: steps[2].with.c: inputs.brnch is not declared (did you mean 'branch'?); "
        "add it to inputs",
    ]


def test_a_step_reads_what_is_upstream_through_needs_or_file_order() -> None:
    text = pipeline_text(
        "  - {id: a, uses: audit.query}\n",
        "  - {id: b, uses: audit.query}\n",  # after a (needs omitted)
        "  - {id: c, uses: audit.query, needs: [b], with: {x: '${{ steps.a.outcome }}'}}\n",
    )
    assert validate(load_bytes(text.encode(), file="p.yaml")).steps[2].id == "c"


def test_the_stand_in_reference_finder() -> None:
    found = set(references("${{ steps.a.data.x }} and ${{ inputs.b && 'steps.q' }} steps.z"))
    assert found == {("steps", "a"), ("inputs", "b")}
    assert set(references("steps.a.outcome == 'x'", whole_expression=True)) == {("steps", "a")}
    assert set(references("${{ foo.steps.x }}")) == set()


def test_an_expression_in_many_steps_is_parsed_once_and_each_mistake_reported_where_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed: list[str] = []
    real = validation.parse_in

    def counted(text: str, **kwargs: object) -> object:
        parsed.append(text)
        return real(text, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(validation, "parse_in", counted)
    same = "    with: {a: '${{ inputs.x }}', b: 'x ${{ inputs.x }}', c: '${{ inputs.x + 1 }}'}\n"
    text = pipeline_text(*(f"  - id: s{i}\n    uses: audit.query\n{same}" for i in range(3)),
                         extra="inputs:\n  x: {}\n")  # fmt: skip
    mistake = "there is no arithmetic: use format('{0}{1}', a, b) to join strings"
    assert [p.split(": ", 2)[:2] for p in problems_of(text)] == [
        [f"p.yaml:{line}:61", f"steps[{i}].with.c"] for i, line in ((0, 8), (1, 11), (2, 14))
    ]
    assert all(mistake in p for p in problems_of(text))
    assert parsed.count(" inputs.x ") == 2  # once per validation (problems_of ran twice)


def test_unknown_commands_are_named_with_the_closest_one() -> None:
    text = pipeline_text("  - {id: a, uses: devshel.git_status}\n", "  - {id: b, uses: x.y}\n")
    assert problems_of(text, known_commands=COMMANDS) == [
        "p.yaml:4:19: steps[0].uses: unknown command 'devshel.git_status' (did you mean "
        "'devshell.git_status'?); `logomesh commands` lists them",
        "p.yaml:5:19: steps[1].uses: unknown command 'x.y'; `logomesh commands` lists them",
    ]


def test_model_errors_point_at_the_key_or_value_and_say_how_to_fix_them() -> None:
    text = (
        "version: 2\nname: Bad Name\nstepz: []\nsteps:\n"
        "  - id: a\n    uses: audit.query\n    timeout: -1\n    retry: {max_attemps: 3}\n"
        "  - {uses: audit.query, for_each: 5}\n"
    )
    assert problems_of(text) == [
        "p.yaml:1:10: version: Input should be 1 (it is 2); change the value",
        "p.yaml:2:7: name: String should match pattern '^[a-z0-9][a-z0-9_-]*$' (it is "
        "'Bad Name'); change the value",
        "p.yaml:3:1: stepz: unknown key 'stepz'; did you mean 'steps'?",
        "p.yaml:7:14: steps[0].timeout: Input should be greater than 0 (it is -1); "
        "change the value",
        "p.yaml:8:13: steps[0].retry.max_attemps: unknown key 'max_attemps'; "
        "did you mean 'max_attempts'?",
        "p.yaml:9:5: steps[1]: the key 'id' is required here; add it",
        "p.yaml:9:35: steps[1].for_each: Input should be a valid string or Input should be a "
        "valid list (it is 5); change the value",
    ]


def test_json_files_have_positions_too() -> None:
    text = (
        '{\n\t"version": 1,\n\t"name": "p",\n'
        '\t"steps": [{"id": "a", "uses": "audit.query", "nedds": []}]\n}\n'
    )
    assert problems_of(text, name="p.json") == [
        "p.json:4:47: steps[0].nedds: unknown key 'nedds'; did you mean 'needs'?"
    ]
    assert problems_of('{"version": 1,\n "name": }', name="p.json") == [
        "p.json:2:10: this is not valid JSON (Expecting value); correct it"
    ]


# --- hostile and malformed files ----------------------------------------------------------

BILLION_LAUGHS = """\
version: 1
name: lol
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
steps: [{id: s, uses: audit.query, with: {x: *i}}]
"""
NO_ANCHORS = (
    "anchors and aliases (&name, *name) are not allowed in a pipeline file "
    "(they can expand a small file without bound); write the value out"
)


@pytest.mark.timeout(30)  # refused, not expanded: a hang fails here (speed is benchmarked)
def test_a_billion_laughs_file_is_refused_at_its_first_anchor() -> None:
    assert problems_of(BILLION_LAUGHS) == [f"p.yaml:3:4: a: {NO_ANCHORS}"]


def test_deep_aliases_are_refused_at_the_alias() -> None:
    text = pipeline_text("  - &s {id: a, uses: audit.query}\n")
    assert problems_of(text) == [f"p.yaml:4:5: steps[0]: {NO_ANCHORS}"]
    alias_only = "version: 1\nname: p\nsteps: [{id: a, uses: audit.query, with: {x: *nowhere}}]\n"
    # PyYAML itself stops at an undefined alias; either way it is a positioned problem.
    assert problems_of(alias_only)[0].startswith("p.yaml:3:")


def test_an_alias_in_a_key_place_is_refused_at_its_mapping() -> None:
    # Found by the fuzz test below: the path once ended in the key not yet read (None).
    assert problems_of("{*1") == [f"p.yaml:1:2: {NO_ANCHORS}"]
    text = pipeline_text("  - id: a\n    *x: audit.query\n")
    assert problems_of(text) == [f"p.yaml:5:5: steps[0]: {NO_ANCHORS}"]


def test_a_50_mb_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: the loader must not read it to know
    with pytest.raises(PipelineValidationError) as caught:
        load_file(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:1:1: the file is 52,428,800 bytes, over the 1,048,576-byte limit for a "
        "pipeline; split it into pipelines that use each other (uses: {pipeline: NAME})"
    ]
    assert problems_of(b"#" * (loader.MAX_FILE_BYTES + 1))[0].startswith("p.yaml:1:1: the file")


def test_10000_nesting_levels_are_refused_at_the_65th() -> None:
    deep = "[" * 10_000 + "]" * 10_000
    expected = "nesting deeper than 64 levels; a pipeline never needs that much"
    assert problems_of(f"version: 1\nx: {deep}\n") == [f"p.yaml:2:67: x{'[0]' * 63}: {expected}"]
    assert problems_of('{"x": ' + deep + "}", name="p.json") == [
        f"p.json:1:70: x{'[0]' * 63}: {expected}"
    ]


def test_bytes_that_are_not_utf8_are_named_by_offset_and_line() -> None:
    assert problems_of(b"version: 1\nname: caf\xe9\n") == [
        "p.yaml:2:10: byte 20 (0xe9) is not UTF-8; save the file as UTF-8"
    ]


def test_tabs_used_for_indentation_name_their_lines() -> None:
    text = "version: 1\nname: p\nsteps:\n\t- id: a\n  \t  uses: audit.query\n"
    message = "a tab is used for indentation; YAML needs spaces, indent with spaces"
    assert problems_of(text) == [f"p.yaml:4:1: {message}", f"p.yaml:5:3: {message}"]
    # A tab inside a line is not indentation.
    assert validate(load_bytes(b"version: 1\nname: p\nsteps:\t[{id: a, uses: x}]\n", file="t"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "- a\n- b\n",
            "p.yaml:1:1: the document is a list; a pipeline is a mapping with version, name, steps",
        ),
        (
            "",
            "p.yaml:1:1: the document is empty; a pipeline is a mapping with version, name, steps",
        ),
        (
            "version: 1\n---\nversion: 1\n",
            "p.yaml:2:1: a second document (---); a file holds one pipeline, split it",
        ),
        (
            "version: 1\nname: !!python/object:os.system x\n",
            "p.yaml:2:7: name: the tag tag:yaml.org,2002:python/object:os.system is not "
            "supported; remove it (only plain data is read)",
        ),
        (
            "version: 1\nname: a\nname: b\n",
            "p.yaml:3:1: the key 'name' appears twice in this mapping (first on line 2); keep one",
        ),
        ("version: 1\nname: [\n", "p.yaml:3:1: this is not valid YAML ("),
        ("[1]: x\n", "p.yaml:1:1: a key must be plain text, not a list or mapping"),
    ],
)
def test_documents_that_are_not_one_plain_mapping(text: str, expected: str) -> None:
    assert problems_of(text)[0].startswith(expected)


@pytest.mark.timeout(60)  # validated, not hung (its speed belongs to the benchmarks)
def test_a_10000_step_file_validates_without_hanging() -> None:
    reference = "'${{{{ steps.s{}.outcome }}}}'"
    steps = "".join(
        f"  - id: s{n}\n    uses: audit.query\n    with: {{x: {reference.format(n - 1)}}}\n"
        for n in range(1, 10_001)
    )
    text = pipeline_text("  - {id: s0, uses: audit.query}\n", steps).encode()
    pipeline = validate(load_bytes(text, file="big.yaml"), known_commands=COMMANDS)
    assert len(pipeline.steps) == 10_001
    bad = text + b"  - {id: last, uses: audit.query, needs: [], with: {x: '${{ steps.s0 }}'}}\n"
    assert problems_of(bad)[0].endswith("add 's0' to the needs of 'last'")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_a_validation_error(data: bytes) -> None:
    for json_format in (False, True):
        try:
            validate(load_bytes(data, file="fuzz", json_format=json_format))
        except PipelineValidationError as error:
            assert error.problems and all(p.line >= 1 and p.column >= 1 for p in error.problems)


YAMLISH = st.text(alphabet="ab1:-[]{}&*!|>'\"# \n\t,.?%@`~$", max_size=200)


@settings(max_examples=300, deadline=None)
@given(st.one_of(YAMLISH, YAMLISH.map(lambda t: "version: 1\nname: p\nsteps:\n" + t)))
def test_arbitrary_yaml_like_text_raises_only_a_validation_error(text: str) -> None:
    try:
        validate(load_bytes(text.encode(), file="fuzz"), known_commands=COMMANDS, pipelines={})
    except PipelineValidationError as error:
        assert error.problems


def test_an_input_default_must_have_the_declared_type() -> None:
    text = pipeline_text(
        "  - {id: a, uses: audit.query}\n",
        extra="inputs:\n  n: {type: integer, default: 'three'}\n  ok: {type: number, default: 2}\n"
        "  flag: {type: integer, default: true}\n",
    )
    assert problems_of(text) == [
        "p.yaml:4:6: inputs.n: the default 'three' is not of type integer; "
        "change the default or the type",
        "p.yaml:6:9: inputs.flag: the default True is not of type integer; "
        "change the default or the type",
    ]


def test_an_unknown_key_spelled_like_an_internal_name_is_still_reported() -> None:
    text = pipeline_text("  - {id: a, uses: {pipeline: b, command name: x}}\n")
    assert problems_of(text, pipelines={"b": ()}) == [
        "p.yaml:4:33: steps[0].uses.command name: unknown key 'command name'; valid keys: pipeline"
    ]


def test_no_steps_and_long_wrong_values_get_short_clear_messages() -> None:
    assert problems_of("version: 1\nname: p\nsteps: []\n") == [
        "p.yaml:3:8: steps: a pipeline needs at least one step; add one under steps"
    ]
    long = "x" * 100_000
    text = pipeline_text(f"  - {{id: a, uses: audit.query, timeout: {long}}}\n")
    assert problems_of(text) == [
        "p.yaml:4:41: steps[0].timeout: Input should be a valid number, unable to parse string "
        f"as a number (it is '{'x' * 56}...); change the value"
    ]


def test_the_example_in_the_docs_is_valid() -> None:
    """Against the commands LogoMesh really ships, so the example names real ones."""
    from logomesh.composition import FEATURES

    shipped = {spec.name for feature in FEATURES for spec in feature.commands}
    docs = (Path(__file__).resolve().parents[2] / "docs" / "pipelines.md").read_text()
    example = docs.split("```yaml\n", 1)[1].split("```", 1)[0]
    pipeline = validate(
        load_bytes(example.encode(), file="pipelines.md"),
        known_commands=shipped,
        pipelines={"review": ()},
    )
    assert [step.id for step in pipeline.steps] == ["lint", "tests", "summary", "review-each"]


# --- expressions, read by the real parser ---------------------------------------------------


def test_a_malformed_expression_is_a_problem_at_its_place() -> None:
    text = pipeline_text(
        "  - id: a\n    uses: audit.query\n    with: {x: '${{ inputs.x.__class__ ** 2 }}'}\n",
        "  - id: b\n    uses: audit.query\n    if: success() &&\n",
        extra="inputs:\n  x: {type: string}\n",
    )
    found = problems_of(text)
    assert len(found) == 2
    assert found[0].startswith("p.yaml:8:15: steps[0].with.x: expression")
    assert "pipeline.expression" not in found[0] and "Fix" in found[0]
    assert found[1].startswith("p.yaml:11:9: steps[1].if:")


def test_index_syntax_references_are_checked_like_dotted_ones() -> None:
    text = pipeline_text(
        "  - id: first\n    uses: audit.query\n",
        "  - id: second\n    uses: audit.query\n    needs: []\n"
        "    with: {x: \"${{ steps['first'].outcome }}\"}\n",
    )
    [problem] = problems_of(text)
    assert "steps.first is not upstream of step 'second'" in problem
