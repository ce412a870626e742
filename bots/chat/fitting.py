"""Making a reply fit a platform's limits without losing any of it.

Every platform caps a message: Slack a section's text at 3,000 characters, a message at 50
blocks, a section at 10 fields; Discord an embed's description at 4,096. A command's output
does not care. :func:`fit` cuts each block that is too long, says so where it cut
("… (cut: full output attached as output.txt)"), and attaches the whole text as a file, so
the person sees the start at once and loses nothing. Each platform passes its own
:class:`Limits`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bots.chat.render import (
    Attachment,
    Block,
    Button,
    Buttons,
    Code,
    Context,
    Fields,
    Reply,
    Table,
    Text,
)

_ELLIPSIS = "…"
_SMALLEST = 120  # room for the cut note and a few characters of content


@dataclass(frozen=True, slots=True)
class Limits:
    """The most one message may hold on a platform (characters count code points)."""

    text_chars: int = 3000
    code_chars: int = 2900  # room for the platform's fences around the text
    fields: int = 10
    field_chars: int = 2000
    table_rows: int = 20
    cell_chars: int = 60
    blocks: int = 50
    buttons: int = 5
    label_chars: int = 75
    fallback_chars: int = 4000

    def __post_init__(self) -> None:
        for name in ("text_chars", "code_chars", "field_chars", "fallback_chars"):
            if getattr(self, name) < _SMALLEST:
                raise ValueError(f"Limits.{name} must be at least {_SMALLEST} characters.")
        for name in ("fields", "table_rows", "buttons"):
            if getattr(self, name) < 1:
                raise ValueError(f"Limits.{name} must be at least 1.")
        if self.blocks < 2:
            raise ValueError("Limits.blocks must be at least 2 (one for the note of a cut).")
        if self.cell_chars < 2 or self.label_chars < 2:
            raise ValueError("Limits.cell_chars and Limits.label_chars must be at least 2.")


def fit(reply: Reply, limits: Limits) -> Reply:
    """``reply`` within ``limits``: what exceeds them is cut visibly and attached whole."""
    files = _Files(reply.attachments)
    blocks = [_fit_block(block, limits, files) for block in reply.blocks]
    if len(blocks) > limits.blocks:
        kept, rest = blocks[: limits.blocks - 1], blocks[limits.blocks - 1 :]
        # The blocks already fitted; what they cut is attached already, the rest whole here.
        name = files.add("more.txt", "\n\n".join(block_text(block) for block in rest), "more")
        kept.append(Text(f"{_ELLIPSIS} (cut: {len(rest)} more part(s) attached as {name})"))
        blocks = kept
    return replace(
        reply,
        blocks=tuple(blocks),
        fallback=_shorten(reply.fallback, limits.fallback_chars),
        attachments=files.all,
    )


def block_text(block: Block) -> str:
    """A block as plain text: what an attachment of it holds."""
    if isinstance(block, Text | Context):
        return block.text
    if isinstance(block, Code):
        return block.text
    if isinstance(block, Table):
        return table_text(block)
    if isinstance(block, Fields):
        return "\n".join(f"{label}: {value}" for label, value in block.pairs)
    return "\n".join(f"[{button.label}]" for button in block.buttons)


def table_text(table: Table) -> str:
    """A table as tab-separated lines, header first: opens as a spreadsheet, reads as text."""
    lines = ["\t".join(table.columns)]
    lines += ["\t".join(cell.replace("\t", " ") for cell in row) for row in table.rows]
    return "\n".join(lines)


def monospaced(table: Table) -> str:
    """A table as aligned columns under a rule, the way a terminal would show it: what
    every platform puts in a monospaced block (Slack's preformatted text, Discord's fence)."""
    rows = [[_one_line(cell) for cell in row] for row in table.rows]
    header = [_one_line(name) for name in table.columns]
    widths = [len(name) for name in header]
    for row in rows:
        for index, cell in enumerate(row[: len(widths)]):
            widths[index] = max(widths[index], len(cell))

    def line(cells: list[str]) -> str:
        padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=False)]
        return "  ".join(padded).rstrip()

    lines = [line(header), "  ".join("-" * width for width in widths)]
    lines += [line(row) for row in rows] or ["(none)"]
    return "\n".join(lines)


def _one_line(cell: str) -> str:
    return " ".join(cell.split())


def unused_name(filename: str, attachments: tuple[Attachment, ...]) -> str:
    """``filename``, numbered (``more-2.txt``) if one of ``attachments`` has it already."""
    taken = {attachment.filename for attachment in attachments}
    stem, dot, extension = filename.rpartition(".")
    name, number = filename, 1
    while name in taken:
        number += 1
        name = f"{stem}-{number}{dot}{extension}"
    return name


class _Files:
    """The reply's attachments so far, with unique names."""

    def __init__(self, existing: tuple[Attachment, ...]) -> None:
        self.all = existing
        self._names = {attachment.filename for attachment in existing}

    def add(self, filename: str, content: str, title: str) -> str:
        stem, dot, extension = filename.rpartition(".")
        name, number = filename, 1
        while name in self._names:
            number += 1
            name = f"{stem}-{number}{dot}{extension}"
        self._names.add(name)
        self.all = (*self.all, Attachment(name, content, title))
        return name


def _fit_block(block: Block, limits: Limits, files: _Files) -> Block:
    if isinstance(block, Text):
        return Text(_cut(block.text, limits.text_chars, files, "text.txt", "full text"))
    if isinstance(block, Context):
        return Context(_cut(block.text, limits.text_chars, files, "context.txt", "context"))
    if isinstance(block, Code):
        filename = f"output.{_EXTENSIONS.get(block.language or '', 'txt')}"
        return replace(block, text=_cut(block.text, limits.code_chars, files, filename, "output"))
    if isinstance(block, Table):
        return _fit_table(block, limits, files)
    if isinstance(block, Fields):
        return _fit_fields(block, limits, files)
    return _fit_buttons(block, limits)


def _cut(text: str, limit: int, files: _Files, filename: str, title: str) -> str:
    if len(text) <= limit:
        return text
    name = files.add(filename, text, title)
    note = f"\n{_ELLIPSIS} (cut: full {title} attached as {name})"
    return text[: max(0, limit - len(note))] + note


def _fit_table(table: Table, limits: Limits, files: _Files) -> Table:
    too_many = len(table.rows) > limits.table_rows
    too_wide = any(len(cell) > limits.cell_chars for row in table.rows for cell in row)
    if not too_many and not too_wide:
        return table
    name = files.add("table.tsv", table_text(table), "full table")
    rows = [
        tuple(_shorten(cell, limits.cell_chars) for cell in row)
        for row in table.rows[: limits.table_rows - 1 if too_many else limits.table_rows]
    ]
    if too_many:
        note = f"{_ELLIPSIS} {len(table.rows) - len(rows)} more row(s): see {name}"
        rows.append((_shorten(note, max(limits.cell_chars, 2)),) + ("",) * (len(table.columns) - 1))
    return Table(table.columns, tuple(rows))


def _fit_fields(fields: Fields, limits: Limits, files: _Files) -> Fields:
    too_many = len(fields.pairs) > limits.fields
    too_long = any(len(label) + len(value) > limits.field_chars for label, value in fields.pairs)
    if not too_many and not too_long:
        return fields
    name = files.add("fields.txt", block_text(fields), "all fields")
    keep = fields.pairs[: limits.fields - 1] if too_many else fields.pairs
    pairs = [
        (
            _shorten(label, limits.field_chars // 2),
            _shorten(value, limits.field_chars - min(len(label), limits.field_chars // 2)),
        )
        for label, value in keep
    ]
    if too_many:
        pairs.append(("More", f"{len(fields.pairs) - len(keep)} more field(s) in {name}"))
    return Fields(tuple(pairs))


def _fit_buttons(buttons: Buttons, limits: Limits) -> Buttons:
    # Buttons are actions, not content: too many cannot be attached, so a reply that offers
    # more than the platform shows is the caller's mistake; keep the first ones.
    shown = buttons.buttons[: limits.buttons]
    return Buttons(
        tuple(
            Button(_shorten(b.label, limits.label_chars), b.action, b.value, b.style) for b in shown
        )
    )


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS


_EXTENSIONS = {"diff": "diff", "patch": "diff", "json": "json", "python": "py", "toml": "toml"}
