"""The one rule for text drawn into figures: characters no format can show are written as visible escapes.

Prompts and answers may hold control characters (an ESC from a terminal, a NUL, a form feed). XML 1.0 forbids
most of them, so an SVG holding one is not an SVG; no font draws them, so a PNG or a PDF shows nothing or a box.
Figure text therefore shows each as its Python escape ("\\x1b", "\\x00", "\\ufffe"), which every font draws and
every format holds, and which says exactly which character the text had. Tabs, line breaks and carriage returns
are left alone: they are whitespace that every format holds, and token labels give them their own symbols.
"""

from __future__ import annotations

import re

# C0 controls but tab, line feed and carriage return; DEL and the C1 controls; the two noncharacters XML forbids.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """`text` with every control character (but tab, line feed and carriage return) and U+FFFE / U+FFFF written
    as its escape: "a\\x1bb" for "a", ESC, "b"."""
    return _INVISIBLE.sub(_escape, text)
