"""The pipeline file format, as pydantic models: what a valid file means, and its JSON Schema.

The shape follows GitHub Actions, which users already know: ``inputs``, ``defaults``,
``steps`` with ``uses``/``with``/``needs``/``if``, and ``outputs``. Every model is frozen
(a loaded pipeline is a value that a run can hold without copying) and forbids unknown
keys, so a typo is an error with a suggestion (see :mod:`logomesh.pipelines.validation`)
rather than a silently ignored setting. Expressions (``${{ ... }}`` and ``if:``) stay
strings here; their own parser checks and evaluates them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

# A pipeline's name becomes the command ``pipeline.NAME`` and a CLI argument.
PIPELINE_NAME = r"^[a-z0-9][a-z0-9_-]*$"
# A step id appears in ``${{ steps.ID... }}``, so it must be a plain word there.
STEP_ID = r"^[A-Za-z_][A-Za-z0-9_-]*$"
INPUT_NAME = STEP_ID

InputType = Literal["string", "number", "integer", "boolean", "array", "object"]
RetryReason = Literal["error", "timeout"]
# Where a step runs: in the run's process, or as a job for `logomesh worker` (docs/team.md).
Executor = Literal["local", "distributed"]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class InputSpec(_Spec):
    """One typed input: ``logomesh pipeline run NAME -i key=value`` fills it."""

    type: InputType = "string"
    default: JsonValue = None
    required: bool = False
    description: str = ""

    @model_validator(mode="after")
    def _default_has_the_type(self) -> InputSpec:
        if self.default is not None and not _has_type(self.default, self.type):
            raise ValueError(
                f"the default {self.default!r} is not of type {self.type}; "
                f"change the default or the type"
            )
        return self


_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _has_type(value: object, declared: str) -> bool:
    if isinstance(value, bool) and declared != "boolean":
        return False  # JSON's true is not the number 1
    if declared == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _PYTHON_TYPES[declared])


class Backoff(_Spec):
    """Delay before attempt n+1: ``min(initial * factor**(n-1), max)`` seconds."""

    initial: float = Field(default=1.0, ge=0)
    factor: float = Field(default=2.0, ge=1)
    max: float = Field(default=60.0, ge=0)


class RetrySpec(_Spec):
    """When and how often a failed step is tried again (1 attempt means no retry)."""

    max_attempts: int = Field(default=1, ge=1, le=100)
    backoff: Backoff = Backoff()
    jitter: bool = True
    on: tuple[RetryReason, ...] = ("error", "timeout")


class Defaults(_Spec):
    """What a step gets when it does not say: its timeout (seconds) and retry policy."""

    timeout: float | None = Field(default=None, gt=0)
    retry: RetrySpec | None = None


class PipelineUse(_Spec):
    """``uses: {pipeline: NAME}``: run another pipeline as one step."""

    pipeline: str = Field(pattern=PIPELINE_NAME)


# ``pipeline.<verb>`` are the management commands (``pipeline.list``...): no pipeline's.
MANAGEMENT_VERBS = frozenset(
    {"list", "validate", "schema", "run", "runs", "show", "cancel", "rerun", "check"}
)


def used_pipeline(uses: object) -> str | None:
    """The pipeline a step's ``uses`` runs, raw or modelled: ``{pipeline: NAME}``, or the
    command ``pipeline.NAME`` written out, which is the same run."""
    if isinstance(uses, PipelineUse):
        return uses.pipeline
    if isinstance(uses, dict):
        name = uses.get("pipeline")
        return name if isinstance(name, str) else None
    if isinstance(uses, str) and uses.startswith("pipeline."):
        name = uses.removeprefix("pipeline.")
        return name if name not in MANAGEMENT_VERBS else None
    return None


# Union tags appear in pydantic's error locations; validation skips them (not file keys).
UNION_TAGS = frozenset({"command name", "pipeline mapping"})


def _uses_kind(value: Any) -> str:
    return "pipeline mapping" if isinstance(value, dict | PipelineUse) else "command name"


# A mapping is another pipeline, anything else a command name: only one branch validates,
# so a wrong value gets one error, not one per member of the union.
Uses = Annotated[
    Annotated[str, Tag("command name"), Field(min_length=1)]
    | Annotated[PipelineUse, Tag("pipeline mapping")],
    Discriminator(_uses_kind),
]


# The schema says what a file may hold: ``needs: build`` too, which the model makes a tuple.
_NEEDS_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}, {"type": "null"}]
}


class Step(_Spec):
    """One node of the graph: a command (or pipeline) and its arguments."""

    id: str = Field(pattern=STEP_ID)
    uses: Uses
    with_: dict[str, JsonValue] = Field(default_factory=dict, alias="with")
    # None: after the previous step (the file's order); (): at once; else these steps.
    needs: Annotated[tuple[str, ...] | None, WithJsonSchema(_NEEDS_SCHEMA)] = None
    if_: str | None = Field(default=None, alias="if")
    retry: RetrySpec | None = None
    timeout: float | None = Field(default=None, gt=0)
    continue_on_error: bool = False
    # An expression giving a list, or the list itself; the step runs once per item.
    for_each: str | list[JsonValue] | None = None
    max_parallel: int | None = Field(default=None, ge=1)
    # None: the pipeline's, else `pipelines.executor` from settings.
    executor: Executor | None = None

    @field_validator("needs", mode="before")
    @classmethod
    def _one_need(cls, value: Any) -> Any:
        """``needs: build`` is ``needs: [build]``, as in GitHub Actions."""
        return [value] if isinstance(value, str) else value


class Pipeline(_Spec):
    """A whole file: one pipeline."""

    version: Literal[1]
    name: str = Field(pattern=PIPELINE_NAME)
    description: str = ""
    inputs: dict[Annotated[str, Field(pattern=INPUT_NAME)], InputSpec] = Field(default_factory=dict)
    defaults: Defaults = Defaults()
    # None: `pipelines.executor` from settings; a step's own overrides it.
    executor: Executor | None = None
    # Not min_length: pydantic would also report "0 items" whenever any step is invalid.
    steps: tuple[Step, ...] = Field(json_schema_extra={"minItems": 1})
    outputs: dict[str, JsonValue] = Field(default_factory=dict)

    @field_validator("steps")
    @classmethod
    def _some_steps(cls, value: tuple[Step, ...]) -> tuple[Step, ...]:
        if not value:
            raise ValueError("a pipeline needs at least one step; add one under steps")
        return value


# The keys each mapping of the file may have, by the (generalised) path where it sits:
# validation uses it to suggest the closest valid key for an unknown one.
KEYS_AT: dict[tuple[str, ...], tuple[str, ...]] = {}


def _keys(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(info.alias or name for name, info in model.model_fields.items())


KEYS_AT.update(
    {
        (): _keys(Pipeline),
        ("inputs", "*"): _keys(InputSpec),
        ("defaults",): _keys(Defaults),
        ("defaults", "retry"): _keys(RetrySpec),
        ("defaults", "retry", "backoff"): _keys(Backoff),
        ("steps", "*"): _keys(Step),
        ("steps", "*", "uses"): _keys(PipelineUse),
        ("steps", "*", "retry"): _keys(RetrySpec),
        ("steps", "*", "retry", "backoff"): _keys(Backoff),
    }
)


def schema() -> dict[str, Any]:
    """The published JSON Schema of a pipeline file (``logomesh pipeline schema``)."""
    document = Pipeline.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "LogoMesh pipeline"
    return document
