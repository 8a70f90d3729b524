"""Whitespace as JSON Schema patterns (ECMA-262) define it, for trimming and for patterns.

Python's `str.strip()` and `re`'s `\\s` also count U+001C-U+001F and U+0085 as whitespace;
ECMA-262's `\\s` does not. A published pattern is read by clients and fuzzers with ECMA's rule,
so the server trims and matches with that same set, spelled out.
"""

from __future__ import annotations

# ECMA-262 WhiteSpace and LineTerminator code points.
SPACES = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
# The same set inside a regular-expression character class, as escapes both engines read.
SPACE_CLASS = r"\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"


def trim(value: str) -> str:
    return value.strip(SPACES)
