"""Where a docstring goes and how answers are read: the pure parts of the code commands."""

from __future__ import annotations

import pytest

from logomesh.code.docstrings import place, read_docstring, render
from logomesh.code.prompts import MAX_EXCERPT, excerpt, language_of, read_explanation
from logomesh.errors import CommandError, UnusableAnswerError


def test_a_header_over_several_lines_ends_at_its_colon() -> None:
    code = (
        "    def put(\n"
        "        self, item: dict[str, int] = {'a': 1},\n"
        "    ) -> None:  # note\n"
        "        self.items.append(item)\n"
    )
    placement = place(code, "python", "box.py")
    assert placement.line == 3 and placement.indent == "        "
    assert placement.header.startswith("def put(") and placement.header.endswith("# note")
    assert placement.inner == "    "


def test_code_without_a_def_or_with_a_docstring_is_refused_by_name() -> None:
    with pytest.raises(CommandError) as none:
        place("x = 1\n", "python", "a.py")
    assert none.value.code == "code.no_function" and "a.py" in none.value.user_message
    with pytest.raises(CommandError) as documented:
        place("def f():\n    '''Hi.'''\n", "python", "a.py")
    assert documented.value.code == "code.documented"
    with pytest.raises(CommandError) as unsupported:
        place("(defun f ())", "elisp", "f.el")
    assert unsupported.value.code == "code.unsupported_language"
    assert "python" in unsupported.value.user_message


def test_a_docstring_cut_short_keeps_its_first_paragraph_only() -> None:
    answer = " Sum the values.\n\n    def other():\n        pass"
    assert read_docstring(answer, "m", cut_short=True) == ["Sum the values."]
    with pytest.raises(UnusableAnswerError):
        read_docstring("   \n", "m", cut_short=False)


def test_rendered_comments_follow_the_language() -> None:
    assert render(["Adds."], "rust", "    ") == "    /// Adds.\n"
    assert render(["Adds.", "Fast."], "go", "") == "// Adds.\n// Fast.\n"
    assert render(['Say "hi" \\o/.'], "python", "  ") == '  """Say "hi" \\\\o/."""\n'


def test_an_explanation_is_prose_only() -> None:
    answer = "It adds numbers.\n\nThen returns.\n\nA third.\n```python\nx\n```\nQuestion: again"
    assert read_explanation(answer, "m") == "It adds numbers.\n\nThen returns."
    with pytest.raises(UnusableAnswerError) as raised:
        read_explanation("```python\nx = 1\n```", "gemma")
    assert "gemma gave no explanation" in raised.value.user_message


def test_excerpts_are_cut_at_a_line_and_say_so() -> None:
    code = "x = 1\n" * 1000
    cut = excerpt(code)
    assert len(cut) < MAX_EXCERPT + 60 and cut.endswith("more characters not shown)")
    assert excerpt("y = 2\n") == "y = 2\n"


def test_the_language_comes_from_the_editor_or_the_suffix() -> None:
    assert language_of("a/b.tsx") == "typescriptreact"
    assert language_of("a/b.py", "Python") == "python"
    assert language_of("Makefile") == "text"
