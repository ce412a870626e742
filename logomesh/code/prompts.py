"""The prompts of the code commands, and how their answers are read.

The default model (Gemma 3 270M, pre-trained, not instruction-tuned) continues text far
better than it follows instructions, so a model that can complete (``completion`` in its
capabilities) gets a document to continue, ending where the wanted text begins (an open
code fence, an open docstring) with a stop sequence where it should end; a chat-only model
(a team's own) gets the same request as an instruction. Either way the prompt stays small:
at most :data:`MAX_EXCERPT` characters of code, redacted before it leaves the engine.

Answers are read defensively: a tiny model rambles, repeats the prompt and writes code
where prose was asked for, so every reader keeps only what fits and says plainly when
nothing does (:class:`~logomesh.errors.UnusableAnswerError`) instead of passing garbage on.
"""

from __future__ import annotations

import ast
import difflib
import re
import textwrap
from dataclasses import dataclass
from pathlib import PurePosixPath

from logomesh.errors import UnusableAnswerError
from logomesh.security.redaction import REDACTED

# Characters of code one prompt carries: about 1,000 tokens, an eighth of Gemma's window.
MAX_EXCERPT = 4_000
MAX_EXPLANATION = 1_500
# How much of the original lines a fix must keep (difflib's ratio): "return a - c" to
# "return a - b" is 0.94; to three new lines that assign c and print, 0.43.
MIN_LIKENESS = 0.5

_SUFFIXES = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript",
    ".cjs": "javascript", ".jsx": "javascriptreact", ".ts": "typescript",
    ".tsx": "typescriptreact", ".go": "go", ".rs": "rust", ".java": "java", ".c": "c",
    ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".hpp": "cpp", ".cs": "csharp", ".rb": "ruby",
    ".sh": "shellscript", ".bash": "shellscript", ".lua": "lua", ".kt": "kotlin",
    ".swift": "swift", ".php": "php", ".scala": "scala", ".sql": "sql",
}  # fmt: skip


def language_of(path: str, given: str = "") -> str:
    """The editor's language id when it sent one, else the one the file's suffix implies."""
    if given:
        return given.lower()
    return _SUFFIXES.get(PurePosixPath(path).suffix.lower(), "text")


@dataclass(frozen=True, slots=True)
class Prompt:
    """One request, in both forms: a text to continue, and an instruction for a chat."""

    completion: str
    instruction: str
    stop: tuple[str, ...]
    max_tokens: int


def excerpt(code: str) -> str:
    """``code`` cut to :data:`MAX_EXCERPT` characters at a line end, with the cut said."""
    if len(code) <= MAX_EXCERPT:
        return code
    kept = code[:MAX_EXCERPT].rsplit("\n", 1)[0]
    return f"{kept}\n... ({len(code) - len(kept)} more characters not shown)"


def explain_prompt(code: str, language: str, path: str) -> Prompt:
    shown = excerpt(code)
    return Prompt(
        completion=(
            f"File: {path}\n```{language}\n{shown}\n```\n"
            "Question: What does this code do? Explain it in two or three sentences.\n"
            "Answer:"
        ),
        instruction=(
            f"Explain what this {language} code from {path} does, in two or three plain "
            f"sentences.\n\n```{language}\n{shown}\n```"
        ),
        stop=("\nQuestion:", "\n```", "\nFile:"),
        max_tokens=160,
    )


def read_explanation(answer: str, model: str) -> str:
    """The first paragraphs of prose in ``answer``: code blocks and echoes dropped."""
    text = answer.split("```", 1)[0]
    for marker in ("\nQuestion:", "\nAnswer:", "\nFile:", "\nCode:"):
        text = text.split(marker, 1)[0]
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    explanation = "\n\n".join(paragraphs[:2]).strip()
    if len(explanation) > MAX_EXPLANATION:
        explanation = explanation[:MAX_EXPLANATION].rsplit(" ", 1)[0] + " ..."
    if not explanation:
        raise UnusableAnswerError(
            f"{model} gave no explanation (its answer held no prose). Try again, select "
            "less code, or point models.code_actions at a larger model."
        )
    return explanation


def fix_prompt(code: str, language: str, problem: str, line: int | None) -> Prompt:
    where = f" (line {line})" if line else ""
    return Prompt(
        completion=(
            f"```{language}\n{code}\n```\n"
            f"The code above has this problem{where}: {problem}\n"
            f"The same code, with that problem fixed and nothing else changed:\n```{language}\n"
        ),
        instruction=(
            f"Fix this problem in the {language} code below{where}: {problem}\n"
            f"Reply with the corrected code only, in one ```{language} block, changing "
            f"nothing else.\n\n```{language}\n{code}\n```"
        ),
        stop=("```",),
        # Room for the code again and a little more; a fix is rarely longer.
        max_tokens=min(1024, len(code) // 3 + 64),
    )


def read_fix(answer: str, original: str, language: str, model: str) -> str:
    """The replacement for ``original`` in ``answer`` (the first code block, or the text
    before a closing fence), at ``original``'s indentation; see :func:`_refuse_unusable`."""
    fenced = re.search(r"```[^\n]*\n(.*?)(?:```|\Z)", answer, re.DOTALL)
    code = fenced.group(1) if fenced else answer.split("```", 1)[0]
    lines = [line.rstrip() for line in code.split("\n")]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise UnusableAnswerError(f"{model} answered with no code, so there is no fix to apply.")
    replacement = _reindent("\n".join(lines), original)
    if original.endswith("\n"):
        replacement += "\n"
    _refuse_unusable(replacement, original, language, model)
    return replacement


def _refuse_unusable(replacement: str, original: str, language: str, model: str) -> None:
    """Refused: the same code; one that writes ``[REDACTED]`` (the model never saw the
    secret it would overwrite); for Python, code that does not parse where the original
    did; code that keeps little of the original (a fix is a small change, and a tiny
    model's rewrite tends to drop what the lines did); an answer far longer than the code
    (a rambling model)."""
    if _words(replacement) == _words(original):
        raise UnusableAnswerError(
            f"{model}'s fix changes nothing; fix it by hand, or point models.code_actions "
            "at a larger model."
        )
    if REDACTED in replacement:
        raise UnusableAnswerError(
            f"{model}'s fix would write {REDACTED} where the code holds a secret (secrets are "
            "hidden from the model), so it is not applied; fix it by hand."
        )
    if language == "python":
        _check_python(replacement, original, model)
    if difflib.SequenceMatcher(None, original, replacement).ratio() < MIN_LIKENESS:
        raise UnusableAnswerError(
            f"{model}'s answer rewrites these lines instead of fixing them (it keeps too "
            "little of them), so it is not applied; fix it by hand."
        )
    if len(replacement) > 3 * len(original) + 200:
        raise UnusableAnswerError(
            f"{model}'s answer is {len(replacement)} characters for {len(original)} of code: "
            "not a fix of these lines, so it is not applied."
        )


def _check_python(replacement: str, original: str, model: str) -> None:
    if not _parses(original):
        return  # lines that do not parse alone (an else: branch) cannot be judged alone
    try:
        ast.parse(textwrap.dedent(replacement))
    except SyntaxError as exc:
        raise UnusableAnswerError(
            f"{model}'s fix is not valid Python ({exc.msg}, line {exc.lineno} of the fix), "
            "so it is not applied."
        ) from None


def _parses(code: str) -> bool:
    try:
        ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return False
    return True


def _reindent(code: str, original: str) -> str:
    """``code`` at ``original``'s indentation: models often answer dedented."""
    want = _indent_of(original)
    have = _indent_of(code)
    if len(have) >= len(want):
        return code
    extra = want[len(have) :]
    return "\n".join(extra + line if line.strip() else line for line in code.split("\n"))


def _indent_of(code: str) -> str:
    indents = [line[: len(line) - len(line.lstrip())] for line in code.split("\n") if line.strip()]
    return min(indents, key=len) if indents else ""


def _words(code: str) -> list[str]:
    return code.split()
