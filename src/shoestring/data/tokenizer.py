"""A Unicode-aware word tokenizer that works for any language and script.

Words are runs of letters and combining marks (Unicode categories L and M), so accented Latin, Cyrillic,
Greek, Arabic, Hebrew, Devanagari (whose vowel signs are marks) and Korean come out whole. Chinese
characters (Han script), which are written without spaces, become one token each, as BERT's basic tokenizer
does; Japanese kana runs stay together. Apostrophes inside a word are kept ("don't", "l'homme" -> "l'homme").
Digits and punctuation separate words and are dropped unless ``keep_numbers``, as in VAMPIRE's reference
vectorizer (which keeps "tokens of 3-30 letters without digits").

Text is NFKC-normalized (full-width forms, ligatures) and case-folded when ``lowercase`` (``str.casefold``,
which also handles German ß and Greek final sigma).
"""

from __future__ import annotations

import dataclasses
import unicodedata
from functools import cached_property

from shoestring.config import Config, param

# Han characters one per token; other letter runs (with marks and inner apostrophes) whole.
_WORD = r"\p{Han}|[[\p{L}\p{M}]--\p{Han}]+(?:['’][[\p{L}\p{M}]--\p{Han}]+)*"
_WORD_NUM = r"\p{Han}|[[\p{L}\p{M}\p{N}]--\p{Han}]+(?:['’][[\p{L}\p{M}\p{N}]--\p{Han}]+)*"


@dataclasses.dataclass
class TokenizerConfig(Config):
    lowercase: bool = param(True, "case-fold tokens")
    min_token_len: int = param(3, "drop tokens shorter than this many characters (single Chinese characters "
                                  "are always kept)", min=1)
    max_token_len: int = param(30, "drop tokens longer than this many characters", min=1)
    keep_numbers: bool = param(False, "keep digits inside tokens (VAMPIRE's reference drops them)")


class Tokenizer:
    """``Tokenizer(config)(text) -> list[str]``.

    >>> Tokenizer()("Ça coûte 10€: l'été à Zürich!")
    ['coûte', "l'été", 'zürich']
    >>> Tokenizer(TokenizerConfig(min_token_len=1))("中文分词")
    ['中', '文', '分', '词']
    """

    def __init__(self, config: TokenizerConfig | None = None):
        self.config = (config or TokenizerConfig()).validate()

    @cached_property
    def _pattern(self):
        import regex

        return regex.compile(_WORD_NUM if self.config.keep_numbers else _WORD, regex.V1)

    def __call__(self, text: str) -> list[str]:
        c = self.config
        text = unicodedata.normalize("NFKC", text)
        if c.lowercase:
            text = text.casefold()
        lo, hi = c.min_token_len, c.max_token_len
        out = []
        for t in self._pattern.findall(text):
            n = len(t)
            if (lo <= n <= hi) or (n == 1 and "\u2e80" <= t <= "\U0003134f" and _is_han(t)):
                out.append(t.replace("’", "'"))
        return out

    def __getstate__(self):  # picklable for multiprocessing workers (the compiled regex is rebuilt)
        return {"config": self.config}

    def __setstate__(self, state):
        self.config = state["config"]


def _is_han(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith("CJK")
