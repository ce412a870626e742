"""Where a docstring goes in a piece of code, how to ask for it, and how it is written.

Python's docstring is the first statement of the body, so it goes after the ``def``/``class``
header (which may span lines), at the body's indentation; a completion model is given the
header and an open ``\"\"\"`` and stops at the closing one. Languages without docstrings get
their documentation comment above the declaration (``/** */``, ``///``, ``//``, ``#``).
Other languages are refused by name, so a person learns why rather than getting a guess.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from logomesh.code.prompts import Prompt, excerpt
from logomesh.errors import CommandError, UnusableAnswerError

MAX_LINES = 12


@dataclass(frozen=True, slots=True)
class CommentStyle:
    first: str
    middle: str
    last: str | None  # None: line comments, ``middle`` on every line


_BLOCK = CommentStyle("/**", " * ", " */")
STYLES: dict[str, CommentStyle] = {
    **{lang: _BLOCK for lang in ("javascript", "javascriptreact", "typescript",
                                  "typescriptreact", "java", "kotlin", "php", "scala",
                                  "c", "cpp", "swift", "csharp")},
    "rust": CommentStyle("///", "/// ", None),
    "go": CommentStyle("//", "// ", None),
    "ruby": CommentStyle("#", "# ", None),
    "shellscript": CommentStyle("#", "# ", None),
    "lua": CommentStyle("---", "--- ", None),
}  # fmt: skip
LANGUAGES = ("python", *STYLES)
_HEADER = re.compile(r"^\s*(async\s+def|def|class)\s")
_DOCSTRING_START = re.compile(r"""^\s*[rRuUbB]{0,2}("{3}|'{3}|"|')""")


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the docstring goes: before line ``line`` (0-based, of the given code), at
    ``indent``; ``header`` is the code a completion model continues, dedented, and
    ``inner`` the body's indentation relative to it."""

    line: int
    indent: str
    header: str
    inner: str = ""


def supports(language: str) -> bool:
    return language in LANGUAGES


def place(code: str, language: str, path: str) -> Placement:
    if language == "python":
        return _place_python(code, path)
    if language not in STYLES:
        raise CommandError(
            f"Adding a docstring to {language} code ({path}) is not supported; LogoMesh "
            f"writes them for {', '.join(LANGUAGES)}.",
            code="code.unsupported_language",
        )
    first = code.split("\n", 1)[0]
    return Placement(0, first[: len(first) - len(first.lstrip())], code)


def _place_python(code: str, path: str) -> Placement:
    lines = code.split("\n")
    start = next((n for n, line in enumerate(lines) if _HEADER.match(line)), None)
    if start is None:
        raise CommandError(
            f"No def or class starts the code sent from {path}; select a function or class "
            "(its first line included), or put the cursor inside one.",
            code="code.no_function",
        )
    end, depth = start, 0
    for end in range(start, len(lines)):
        depth += _bracket_depth(lines[end])
        if depth <= 0 and lines[end].split("#", 1)[0].rstrip().endswith(":"):
            break
    else:
        raise CommandError(
            f"The def at line {start + 1} of the code sent from {path} has no end of its "
            "header (the ':'); select the whole function.",
            code="code.no_function",
        )
    outer = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    body = next((line for line in lines[end + 1 :] if line.strip()), "")
    body_indent = body[: len(body) - len(body.lstrip())]
    if len(body_indent) <= len(outer):
        body_indent = outer + "    "
    elif _DOCSTRING_START.match(body):
        raise CommandError(
            f"The function at line {start + 1} of the code sent from {path} has a docstring "
            "already.",
            code="code.documented",
        )
    header = "\n".join(line[len(outer) :] for line in lines[start : end + 1])
    return Placement(end + 1, body_indent, header, body_indent[len(outer) :])


def _bracket_depth(line: str) -> int:
    code = re.sub(r"""(["'])(?:\\.|(?!\1).)*\1""", "", line.split("#", 1)[0])
    return sum(code.count(c) for c in "([{") - sum(code.count(c) for c in ")]}")


def docstring_prompt(code: str, language: str, placement: Placement) -> Prompt:
    if language == "python":
        return Prompt(
            completion=f'{placement.header}\n{placement.inner}"""',
            instruction=_instruction(placement.header, language),
            stop=('"""', "'''"),
            max_tokens=120,
        )
    shown = excerpt(code)
    return Prompt(
        completion=(
            f"```{language}\n{shown}\n```\nA short description of what the {language} code "
            "above does, in one or two sentences:\n"
        ),
        instruction=_instruction(shown, language),
        stop=("\n\n", "```"),
        max_tokens=100,
    )


def _instruction(code: str, language: str) -> str:
    return (
        f"Write a short docstring (one to three sentences) for this {language} code. Reply "
        "with the docstring's text only: no quotes, no comment markers, no code.\n\n"
        f"```{language}\n{excerpt(code)}\n```"
    )


def read_docstring(answer: str, model: str, *, cut_short: bool) -> list[str]:
    """The docstring's lines in ``answer``; the first paragraph only when the model was
    cut short (its ``max_tokens`` ran out), since what follows may be anything."""
    text = answer.split("```", 1)[0].replace('"""', "").replace("'''", "")
    if cut_short:
        text = re.split(r"\n\s*\n", text.strip(), maxsplit=1)[0]
    lines = [re.sub(r"^\s*(/\*\*|\*/|\*|///|//|#|--)\s?", "", line).rstrip()
             for line in text.strip().split("\n")]  # fmt: skip
    lines = [line.strip() if n == 0 else line for n, line in enumerate(lines)]
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines or not lines[0]:
        raise UnusableAnswerError(
            f"{model} wrote no docstring (its answer was empty). Try again, or point "
            "models.code_actions at a larger model."
        )
    return lines[:MAX_LINES]


def _dedented(lines: list[str]) -> list[str]:
    return textwrap.dedent("\n".join(lines)).split("\n")


def render(lines: list[str], language: str, indent: str) -> str:
    """The text to insert: the docstring or comment, each line indented, ending in a newline."""
    if language == "python":
        body = [line.replace("\\", "\\\\") for line in lines]
        if len(body) == 1:
            return f'{indent}"""{body[0]}"""\n'
        # The model indents the rest as the body's code: kept relative to the first line.
        rest = [f"{indent}{line}" if line.strip() else "" for line in _dedented(body[1:])]
        return "\n".join([f'{indent}"""{body[0]}', *rest, f'{indent}"""']) + "\n"
    style = STYLES[language]
    if style.last is None:
        return "".join(f"{indent}{style.middle}{line.strip()}".rstrip() + "\n" for line in lines)
    middle = [f"{indent}{style.middle}{line.strip()}".rstrip() for line in lines]
    return "\n".join([f"{indent}{style.first}", *middle, f"{indent}{style.last}"]) + "\n"
