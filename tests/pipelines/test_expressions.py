"""The pipeline expression language: GitHub Actions' semantics, its bounds, and no way out.

Tables pin the semantics (each row is what GitHub's documentation or runner gives), every
bad input is checked for its message and column, and Hypothesis checks that no text and no
context makes the evaluator raise anything but PipelineExpressionError or return anything
but plain JSON.
"""

from __future__ import annotations

import contextlib
import enum
import math
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logomesh.errors import LogoMeshError, PipelineExpressionError
from logomesh.pipelines import (
    evaluate,
    expressions,
    find_templates,
    parse,
    parse_condition,
    render,
    templates,
)

CONTEXT: dict[str, Any] = {
    "inputs": {
        "name": "Mona",
        "n": 3,
        "list": [1, "two", {"k": True}],
        "words": ["a", "b"],
        "obj": {"a b": 1},
        "empty": "",
    },
    "steps": {"build": {"outcome": "success", "data": {"files": ["a.py"], "count": "2"}}},
}
STATUS = {
    "success": lambda: True,
    "failure": lambda: False,
    "always": lambda: True,
    "cancelled": lambda: False,
}


def value(text: str) -> Any:
    return evaluate(text, CONTEXT, STATUS)


SEMANTICS = [
    # literals
    ("null", None),
    ("true", True),
    ("false", False),
    ("711", 711),
    ("-9.2", -9.2),
    ("0xff", 255),
    ("-2.99e-2", -0.0299),
    ("'It''s open source!'", "It's open source!"),
    ("''", ""),
    # paths and indexes
    ("inputs.name", "Mona"),
    ("inputs['name']", "Mona"),
    ("inputs.list[1]", "two"),
    ("inputs.list[2].k", True),
    ("inputs.list['0']", 1),  # an index is cast to a number, as GitHub does
    ("inputs.list[true]", "two"),
    ("inputs.obj['a b']", 1),
    ("steps.build.data.files[0]", "a.py"),
    ("steps['build'].outcome", "success"),
    ("fromJSON('{\"a\": [5]}').a[0]", 5),
    # loose equality: different kinds are cast to numbers; strings ignore case
    ("1 == 1.0", True),
    ("'abc' == 'ABC'", True),
    ("null == 0", True),
    ("null == false", True),
    ("'' == 0", True),
    ("true == 1", True),
    ("'1' == 1", True),
    ("' 0x10 ' == 16", True),
    ("'\u0663' == 3", False),  # only ASCII digits make a number
    ("steps.build.data.count == 2", True),
    ("'abc' == 0", False),
    ("'abc' != 0", True),
    ("fromJSON('[]') == fromJSON('[]')", False),  # arrays: only the same one
    ("inputs.list == inputs.list", True),
    ("inputs.list == 0", False),  # an array is NaN as a number
    ("1 == 1 == true", True),  # left to right: (1 == 1) == true
    # ordering
    ("1 < 2", True),
    ("'a' < 'B'", True),
    ("'10' > 9", True),
    ("2 >= 2", True),
    ("2 <= 1", False),
    ("'abc' < 1", False),  # NaN: every relation is false
    ("'abc' >= 1", False),
    ("inputs.list < 1", False),
    ("null < 1", True),
    # ! and truthiness: false, 0, -0, '', null are falsy
    ("!0", True),
    ("!-0", True),
    ("!''", True),
    ("!null", True),
    ("!'a'", False),
    ("!'false'", False),  # a non-empty string is truthy
    ("!inputs.list", False),
    ("!fromJSON('{}')", False),
    ("!!1", True),
    ("!1 == false", True),  # ! binds tighter than ==
    # && and || return the operand that decided
    ("null || 'default'", "default"),
    ("'x' || 'y'", "x"),
    ("0 && 'y'", 0),
    ("1 && 'y'", "y"),
    ("'' || 0 || null", None),
    ("inputs.n > 1 && 'big' || 'small'", "big"),
    ("inputs.n > 5 && 'big' || 'small'", "small"),
    ("1 == 1 && 2 == 3", False),
    ("false || 1 < 2 == true", True),
    ("(1 || 0) && (0 || 'z')", "z"),
    # functions
    ("contains('Hello world', 'WORLD')", True),
    ("contains(inputs.list, 'TWO')", True),
    ("contains(inputs.list, '1')", True),  # elements compare loosely
    ("contains(inputs.list, 3)", False),
    ("contains(inputs.words, 'c')", False),
    ("startsWith('Hello', 'he')", True),
    ("startsWith(123, 12)", True),
    ("endsWith('Hello', 'LO')", True),
    ("endsWith('Hello', 'x')", False),
    ("format('{0} {{x}} {1}', 'a', 2)", "a {x} 2"),
    ("format('{1}{0}{1}', 'a', 'b')", "bab"),
    ("format('plain')", "plain"),
    ("format('[{0}|{1}|{2}|{3}]', null, 1.5, true, inputs.list)", "[|1.5|true|Array]"),
    ("format('{0}', inputs.obj)", "Object"),
    ("join(inputs.words)", "a,b"),
    ("join(inputs.words, ' | ')", "a | b"),
    ("join('x', '-')", "x"),
    ("join(fromJSON('[1, null, true]'), '-')", "1--true"),
    ("toJSON(inputs.obj)", '{\n  "a b": 1\n}'),
    ("toJSON('x')", '"x"'),
    ("toJSON(null)", "null"),
    ("fromJSON('true')", True),
    ("fromJSON('{\"a\": 1}')", {"a": 1}),
    ("fromjson('[1]')", [1]),  # function names ignore case, as GitHub's do
    ("FORMAT('{0}', 1)", "1"),
    # status functions come from the caller
    ("success() && !cancelled()", True),
    ("failure()", False),
    ("always() || inputs.missing", True),
]


@pytest.mark.parametrize(("text", "expected"), SEMANTICS)
def test_semantics(text: str, expected: Any) -> None:
    result = value(text)
    assert result == expected and type(result) is type(expected)


def test_and_or_short_circuit_and_do_not_evaluate_the_rest() -> None:
    """The right side would fail (a missing field), so reaching it would raise."""
    assert value("true || inputs.missing") is True
    assert value("false && inputs.missing") is False
    with pytest.raises(PipelineExpressionError, match="no field 'missing'"):
        value("false || inputs.missing")


def test_the_status_functions_are_the_callers() -> None:
    assert evaluate("failure()", {}, {"failure": lambda: True}) is True
    with pytest.raises(PipelineExpressionError, match=r"success\(\) is not available here"):
        evaluate("success()", {})
    assert parse("success() && inputs.x").uses_status_function
    assert not parse("contains(inputs.x, 'y')").uses_status_function


RENDERED = [
    ("${{ inputs.n }}", 3),  # one whole template keeps its type
    ("  ${{ inputs.list }} ", [1, "two", {"k": True}]),
    ("${{ null }}", None),
    ("n=${{ inputs.n }}, l=${{ inputs.list }}, x=${{ null }}.", "n=3, l=Array, x=."),
    ("${{ inputs.name }}${{ inputs.n }}", "Mona3"),
    ("no template here", "no template here"),
    ("${{ format('{0}}}', 'a') }}", "a}"),  # }} inside a string does not end it
    ("${{ '${{' }} and }}", "${{ and }}"),
    ("${{ 1.5 }} and ${{ 2.0 }}", "1.5 and 2"),
]


@pytest.mark.parametrize(("template", "expected"), RENDERED)
def test_render(template: str, expected: Any) -> None:
    assert render(template, CONTEXT) == expected


def test_render_walks_objects_and_lists_and_keeps_other_values() -> None:
    value = {"a": ["${{ inputs.n }}", 7, None, True], "b": {"c": "x${{ inputs.n }}"}}
    assert render(value, CONTEXT) == {"a": [3, 7, None, True], "b": {"c": "x3"}}


def test_find_templates_gives_the_path_and_the_column_of_each() -> None:
    found = list(find_templates({"args": ["x ${{ inputs.a }} ${{ steps.b.outcome }}"], "n": 1}))
    assert [(t.path, t.column, t.expression.text.strip()) for t in found] == [
        (("args", 0), 3, "inputs.a"),
        (("args", 0), 19, "steps.b.outcome"),
    ]


REFERENCES = [
    ("inputs.x", {("inputs", "x")}),
    ("steps.build.data.files[0]", {("steps", "build", "data", "files", "0")}),
    ("steps['build'].outcome", {("steps", "build", "outcome")}),
    ("steps[inputs.id].outcome", {("steps",), ("inputs", "id")}),
    ("inputs", {("inputs",)}),
    ("contains(inputs.a, 'x') && !steps.t.outcome", {("inputs", "a"), ("steps", "t", "outcome")}),
    ("format('{0}', 1)", set()),
]


@pytest.mark.parametrize(("text", "expected"), REFERENCES)
def test_references_list_the_context_paths(text: str, expected: set[tuple[str, ...]]) -> None:
    assert parse(text).references() == expected


def test_conditions_are_bare_or_one_template() -> None:
    assert parse_condition("inputs.n > 2").text == "inputs.n > 2"
    assert evaluate(parse_condition("${{ inputs.n > 2 }}"), CONTEXT) is True
    with pytest.raises(PipelineExpressionError, match="always be true") as caught:
        parse_condition("deploy ${{ inputs.n > 2 }}")
    assert caught.value.column == 8


class _Sneaky(str):
    """A str that runs code when compared: what exact type checks keep out."""

    def casefold(self) -> str:
        raise AssertionError("the evaluator ran a context value's own code")


class _Level(enum.IntEnum):
    HIGH = 3


BIG = "x" * 40_000
BAD = [
    # (expression, context, message, column)
    ("9**9**9", CONTEXT, "no arithmetic", 2),
    ("inputs.__class__", CONTEXT, "inputs has no field '__class__'", 7),
    ("inputs.name.__class__", CONTEXT, "inputs.name is a string, which has no field", 12),
    ("inputs.list.__len__", CONTEXT, "inputs.list has 3 items; there is no item '__len__'", 12),
    ("inputs['__dict__']", CONTEXT, "no field '__dict__'", 7),
    ("lambda x: x", CONTEXT, "':' is not part of the expression language", 9),
    ("lambda", CONTEXT, "no context 'lambda'", 1),
    ("import os", CONTEXT, "expected an operator or the end, found 'os'", 8),
    ("__import__('os')", CONTEXT, "no function '__import__'. Fix: call one of: contains", 1),
    ("inputs.name.upper()", CONTEXT, "expected an operator or the end, found '('", 18),
    ("contains(1)", CONTEXT, "contains() takes 2 arguments, not 1", 1),
    ("success(1)", CONTEXT, "success() takes no arguments, not 1", 1),
    ("format()", CONTEXT, "format() takes at least 1 argument, not 0", 1),
    ("join(1, 2, 3)", CONTEXT, "join() takes 1 to 2 arguments, not 3", 1),
    ("env.HOME", CONTEXT, "no context 'env'. Fix: use one of: inputs, steps", 1),
    ("'" + "a" * (1 << 20) + "'", CONTEXT, "over the limit of 4,096", 1),
    ("(" * 65 + "1" + ")" * 65, CONTEXT, "nested deeper than 64", 65),
    ("!" * 65 + "true", CONTEXT, "nested deeper than 64", 65),
    ("format('{0}{0}', inputs.big)", {"inputs": {"big": BIG}}, "beyond the limit of 65,536", 1),
    ("join(inputs.l, '')", {"inputs": {"l": [BIG, BIG]}}, "the result of join()", 1),
    ("toJSON(inputs.l)", {"inputs": {"l": [BIG, BIG]}}, "the result of toJSON()", 1),
    ("contains(inputs.l, 'y')", {"inputs": {"l": ["x"] * 20_000}}, "more than 10,000 steps", 1),
    ("'abc", CONTEXT, "never closed", 1),
    ('"a"', CONTEXT, "strings use single quotes", 1),
    ("1 = 1", CONTEXT, "compare with ==", 3),
    ("inputs.n & 1", CONTEXT, "write && for 'and'", 10),
    ("a.1", {"a": {}}, "expected a field name after '.'", 3),
    ("1abc", CONTEXT, "is not a number", 1),
    ("1e999", CONTEXT, "is not a number", 1),
    ("\u0663", CONTEXT, "'\u0663' is not part of the expression language", 1),  # Arabic 3
    ("", CONTEXT, "the expression is empty", 1),
    ("(1", CONTEXT, "expected ')' but the expression ends", 3),
    ("[1]", CONTEXT, "expected a value but found '['", 1),
    ("inputs.list[5]", CONTEXT, "inputs.list has 3 items; there is no item '5'", 12),
    ("inputs[1]", CONTEXT, "inputs is an object, indexed by a number", 7),
    ("fromJSON('{bad')", CONTEXT, "not JSON", 1),
    ("fromJSON('" + "[" * 65 + "]" * 65 + "')", CONTEXT, "nested deeper than 64", 1),
    ("format('{x}', 1)", CONTEXT, "without an argument number", 1),
    ("format('{1}', 'a')", CONTEXT, "uses {1} but 1 argument(s) follow it", 1),
    ("format('}', 1)", CONTEXT, "unmatched '}'", 1),
    ("toJSON(inputs.f)", {"inputs": {"f": math.nan}}, "cannot write this value as JSON", 1),
    ("inputs.x", {"inputs": {"x": object()}}, "a Python object, not a JSON value", 7),
    ("inputs", {"inputs": {"x": len}}, "a Python builtin_function_or_method, not", 1),
    ("inputs", {"inputs": {1: "a"}}, "a key that is not a string", 1),
    ("inputs.x == 'a'", {"inputs": {"x": _Sneaky("a")}}, "a Python _Sneaky, not a JSON", 7),
    ("inputs.x > 1", {"inputs": {"x": _Level.HIGH}}, "a Python _Level, not a JSON value", 7),
]


@pytest.mark.parametrize(("text", "context", "message", "column"), BAD)
def test_bad_input_gets_a_clear_error(
    text: str, context: dict[str, Any], message: str, column: int
) -> None:
    with pytest.raises(PipelineExpressionError) as caught:
        evaluate(text, context, STATUS)
    error = caught.value
    assert message in error.user_message
    assert error.column == column and f"column {column}:" in error.user_message
    assert error.expression == text and "Fix: " in error.user_message
    assert error.code == "pipeline.expression" and isinstance(error, LogoMeshError)


def test_a_huge_integer_from_a_context_is_a_double_as_in_github() -> None:
    """str() of a 5,000-digit int raises ValueError in Python; it must not escape."""
    huge = {"inputs": {"x": 10**5000}}
    assert evaluate("format('{0}', inputs.x)", huge) == "Infinity"
    assert evaluate("inputs.x > 1", huge) is True


def test_a_context_that_contains_itself_is_refused_not_walked_forever() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    with pytest.raises(PipelineExpressionError, match="contains itself"):
        evaluate("inputs", {"inputs": loop})
    with pytest.raises(PipelineExpressionError, match="cannot write this value as JSON"):
        evaluate("toJSON(inputs)", {"inputs": loop})
    assert evaluate("contains(inputs, 1)", {"inputs": loop}) is True


def test_a_shared_container_is_not_a_cycle_and_is_checked_once() -> None:
    """Python may share one list between two steps' data; 64 levels of [x, x] would be
    2**64 visits if each were walked again."""
    shared: Any = [1]
    for _ in range(64):
        shared = [shared, shared]
    with _within(2.0):
        assert evaluate("inputs", {"inputs": shared}) is shared


def test_render_refuses_a_value_that_is_not_json() -> None:
    with pytest.raises(PipelineExpressionError, match="a Python tuple, not a JSON value"):
        render({"a": (1, 2)}, CONTEXT)


def test_find_templates_and_conditions_report_errors_where_they_are() -> None:
    with pytest.raises(PipelineExpressionError, match=r"column 8: .*no function 'os'"):
        list(find_templates({"run": ["ok ${{ os('x') }}"]}))
    with pytest.raises(PipelineExpressionError, match="column 5: there is no context 'env'"):
        parse_condition("${{ env.X }}", contexts={"inputs"})
    assert parse_condition("${{ always() }}").uses_status_function


def test_a_condition_is_parsed_once_however_often_a_run_asks_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The executor asks for a step's condition on every run (and for_each item): the
    # per-step overhead budget is 1 ms, so it must not pay for the parser each time.
    parses: list[str] = []
    real = expressions.parse_in

    def counted(text: str, **kwargs: Any) -> Any:
        parses.append(text)
        return real(text, **kwargs)

    monkeypatch.setattr(templates, "parse_in", counted)
    bare, wrapped = "inputs.n > 2 && 'cache-test-1' != ''", "${{ inputs.n < 2 || 'cache-test-2' }}"
    assert all(parse_condition(bare) is parse_condition(bare) for _ in range(3))
    assert all(parse_condition(wrapped) is parse_condition(wrapped) for _ in range(3))
    assert len(parses) == 2
    for _ in range(2):  # a bad one is not remembered as good: it fails each time
        with pytest.raises(PipelineExpressionError, match="mixes text"):
            parse_condition("x ${{ 'cache-test-3' }}")


def test_unknown_contexts_can_be_refused_when_parsing() -> None:
    with pytest.raises(PipelineExpressionError, match="use one of: inputs, steps") as caught:
        parse("inputs.a && env.HOME", contexts={"inputs", "steps"})
    assert caught.value.column == 13


def test_a_template_counts_columns_in_the_whole_string() -> None:
    with pytest.raises(PipelineExpressionError, match=r"column 16: .* no arithmetic"):
        render("value is ${{ 2 * 3 }}", CONTEXT)
    with pytest.raises(PipelineExpressionError, match=r"column 3: this \$\{\{ is never closed"):
        render("a ${{ inputs.n", CONTEXT)
    with pytest.raises(PipelineExpressionError, match="the rendered string"):
        render("${{ inputs.big }}-${{ inputs.big }}", {"inputs": {"big": BIG}})


# --- properties --------------------------------------------------------------------------

FAST = settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
NAMES = ["inputs", "steps", "a", "b", "__class__", "__dict__", "x-y", "outcome", "data"]
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)
LANGUAGE = "()[]!.,'=<>&|{}$ -abcinpustrfl0123456789xe*+\"_"


@contextlib.contextmanager
def _within(seconds: float) -> Iterator[None]:
    """Turn a hang into a failure with its example (a deadline only measures an example
    that ends)."""

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@FAST
@given(st.text(max_size=120) | st.text(alphabet=LANGUAGE, max_size=200))
def test_any_text_parses_or_raises_a_pipeline_expression_error(text: str) -> None:
    for attempt in (lambda: parse(text), lambda: render(text, {}), lambda: parse_condition(text)):
        with _within(2.0), contextlib.suppress(PipelineExpressionError):
            attempt()


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


LEAVES = (
    st.sampled_from(["null", "true", "false", "0", "-1.5", "0x1f", "2e3"])
    | st.text(max_size=6).map(_quoted)
    | st.lists(st.sampled_from(NAMES), min_size=1, max_size=4).map(".".join)
    | st.tuples(st.sampled_from(NAMES), st.integers(-1, 3)).map(lambda t: f"{t[0]}[{t[1]}]")
)
FUNCTION_NAMES = ["contains", "startsWith", "endsWith", "format", "join", "toJSON", "fromJSON"]


def _compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    operators = st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "&&", "||"])
    return (
        inner.map(lambda e: f"!{e}")
        | inner.map(lambda e: f"({e})")
        | st.tuples(inner, operators, inner).map(" ".join)
        | st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]")
        | st.tuples(
            st.sampled_from([*FUNCTION_NAMES, "success", "always"]),
            st.lists(inner, max_size=3),
        ).map(lambda t: f"{t[0]}({', '.join(t[1])})")
    )


EXPRESSIONS = st.recursive(LEAVES, _compound, max_leaves=12)


def _is_plain_json(value: Any) -> bool:
    """Exact types: a subclass or any other object would be a way out."""
    if value is None or type(value) in (bool, int, float, str):
        return True
    if type(value) is list:
        return all(_is_plain_json(item) for item in value)
    if type(value) is dict:
        return all(type(k) is str and _is_plain_json(v) for k, v in value.items())
    return False


@FAST
@given(EXPRESSIONS, st.dictionaries(st.sampled_from(NAMES), JSON_VALUES, max_size=4))
def test_well_formed_expressions_give_json_or_a_pipeline_expression_error(
    text: str, context: dict[str, Any]
) -> None:
    try:
        with _within(2.0):
            result = evaluate(text, context, STATUS)
    except PipelineExpressionError:
        return
    assert _is_plain_json(result)
    assert render(f" ${{{{ {text} }}}} ", context, STATUS) == result  # a whole one keeps it
    try:
        with _within(2.0):
            rendered = render(f"[${{{{ {text} }}}}]", context, STATUS)
    except PipelineExpressionError:
        return
    assert type(rendered) is str


SMUGGLED = st.sampled_from(
    [object(), len, type, (1, 2), {1, 2}, b"x", ValueError("x"), _Sneaky("a"), _Level.HIGH]
)


WHOLE_VALUES = st.sampled_from(["inputs", "steps", "steps.a", "inputs[0]", "null || inputs"])


@FAST
@given(
    WHOLE_VALUES | EXPRESSIONS,
    st.recursive(
        JSON_VALUES | SMUGGLED,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(NAMES), inner, max_size=3)
        ),
        max_leaves=12,
    ),
)
def test_no_evaluation_reaches_a_python_object(text: str, data: Any) -> None:
    """Python objects put in a context by mistake are refused, never returned or looked
    into; the result is always plain JSON."""
    try:
        result = evaluate(text, {"inputs": data, "steps": {"a": data}}, STATUS)
    except PipelineExpressionError:
        return
    assert _is_plain_json(result)


FIELD = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,5}", fullmatch=True) | st.sampled_from(
    ["true", "null", "success", "contains", "inputs", "steps"]
)


@FAST
@given(st.lists(FIELD, min_size=1, max_size=5), st.sampled_from(["", " ", "\n\t "]))
def test_a_bare_path_is_read_as_the_parser_reads_it(fields: list[str], space: str) -> None:
    # A bare path skips the parser (most expressions are one): the node must be the same.
    text = space + ".".join(fields) + space
    parser = expressions._Parser(expressions._tokens(text, text, 0), text)
    assert parse(text).root == parser.whole()
    spaced = " . ".join(fields)  # a path written with spaces is not one token: same reading
    assert parse(spaced).references() == parse(".".join(fields)).references()
