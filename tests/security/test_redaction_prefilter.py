"""The fast path of redact_text must never skip a secret the full set of patterns finds."""

from __future__ import annotations

import re
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from logomesh.security.redaction import _redact_all_patterns, redact_text

TOKENISH = st.text(
    alphabet=st.sampled_from("abcxoXOMNsSkKgGhHpPtTuU_-0123456789 .:=@/'\"AIzaKISbearerBasictoken"),
    max_size=80,
)


@settings(max_examples=1500)
@given(st.one_of(st.text(max_size=120), TOKENISH))
def test_prefilter_agrees_with_every_pattern(text: str) -> None:
    """For any text, skipping the patterns gives what running them all gives."""
    assert redact_text(text) == _redact_all_patterns(text)


def test_prefilter_knows_every_case_variant_of_the_scheme_words() -> None:
    """re's IGNORECASE equates odd letters (long s, Kelvin sign, dotless i) with ASCII."""
    for text in (
        "ba\u017fic abcdefgh12",
        "to\u212aen abcdefgh12",
        "bas\u0131c abcdefgh12",
        "BEARER abcdefgh12",
    ):
        assert redact_text(text) == _redact_all_patterns(text)
    for letter in set("bearerbasictoken"):
        pattern = re.compile("(?i)" + letter)
        equal = [chr(cp) for cp in range(sys.maxunicode + 1) if pattern.fullmatch(chr(cp))]
        assert all(letter in c.casefold().replace("\u0131", "i") for c in equal), letter
