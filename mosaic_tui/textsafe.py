"""One escaping rule for untrusted text shown to a person (the CLI's human output and the board).

Titles, ids, owners and bodies come from agents and other programs; shown raw
they could drive the terminal (ESC sequences, BEL) or read differently from
what they hold (bidi overrides, zero-width characters). :func:`escape` shows
every such character as a visible escape: ``\\n``, ``\\r``, ``\\t``, ``\\e``
(ESC), else ``\\xNN`` (below U+0100) or ``\\uNNNN``. Escaped are C0 controls,
DEL, C1 controls, lone surrogates, the zero-width and direction marks
U+200B-U+200F, the line and paragraph separators and bidi embeddings/overrides
U+2028-U+202E, the bidi isolates U+2066-U+2069 and the BOM U+FEFF. Combining
marks and ordinary text pass unchanged; markup such as ``[bold]`` is text.

Imports only the standard library: the CLI's claim path and the board both use it.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\x1b": "\\e"}


def _escaped(m: re.Match) -> str:
    ch = m.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(s: str | None) -> str:
    """``s`` on one line, every control (and invisible direction) character shown as a visible escape."""
    if not s:
        return ""
    return _CONTROL.sub(_escaped, s)


def escape_block(s: str | None) -> str:
    """Like :func:`escape` but keeps line breaks (CRLF as one) and shows a tab as four spaces: for bodies."""
    if not s:
        return ""
    return "\n".join(escape(line.replace("\t", "    ")) for line in s.replace("\r\n", "\n").split("\n"))
