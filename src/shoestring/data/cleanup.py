"""Optional text clean-up applied before tokenization, for corpora that carry markup or headers.

- ``html``: drop tags (IMDB's ``<br />``) and unescape entities (AG News's ``&quot;``, ``#39;``);
- ``email``: drop a message's header block, i.e. keep the text after the first blank line (20 Newsgroups).
"""

from __future__ import annotations

import html as _html
import re

_TAG = re.compile(r"<[^>]{0,200}>")
_BROKEN_ENTITY = re.compile(r"(?<![&\w])(#\d{2,4};|quot;|amp;|lt;|gt;)")
CLEANUPS = ("html", "email")


def clean(text: str, steps) -> str:
    for s in steps:
        if not s:
            continue
        if s == "html":
            text = _BROKEN_ENTITY.sub(lambda m: "&" + m.group(1), text)
            text = _html.unescape(_TAG.sub(" ", text))
        elif s == "email":
            head, sep, body = text.partition("\n\n")
            text = body if sep and body.strip() else text
        else:
            raise ValueError(f"unknown clean-up {s!r}; choose from {', '.join(CLEANUPS)}")
    return text
