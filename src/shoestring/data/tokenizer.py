"""A Unicode-aware word tokenizer that works for any language and script.

Words are runs of letters and combining marks (Unicode categories L and M), so accented Latin, Cyrillic,
Greek, Arabic, Hebrew, Devanagari (whose vowel signs are marks) and Korean come out whole. Apostrophes
inside a word are kept ("don't", "l'homme" -> "l'homme"). Digits and punctuation separate words and are
dropped unless ``keep_numbers``, as in VAMPIRE's reference vectorizer (which keeps "tokens of 3-30 letters
without digits").

Scripts written without spaces between words -- Chinese and Japanese (Han and Hiragana), Thai, Lao, Khmer
and Myanmar -- have no letter runs that are words. Each such run is cut, by default, into overlapping
character bigrams, as Lucene's ``CJKBigramFilter`` and Elasticsearch's ``cjk`` analyzer do ("中文分词" ->
"中文", "文分", "分词"): most Chinese words are two characters, and the bigrams that are not words are
rare and fall to the document-frequency filters. A "character" here is a base letter with the combining
marks that follow it (Thai vowel and tone marks, Khmer and Myanmar subscript consonants), so no token starts
with a dangling mark; a run of one character is one token. Bigrams beat trigrams on Thai news sentences
(words average 4.3 such characters): 79% of bigram tokens lie inside one word against 57% of trigrams, and
more of them recur across documents. ``unsegmented="char"`` gives one token per character instead (the
choice of BERT's basic tokenizer for Chinese), and ``"words"`` keeps each run whole, for text that a
dedicated segmenter has already split with spaces. Katakana runs, mostly loanwords and names
("コンピューター"), stay whole in every mode; the prolonged-sound mark "ー" belongs to the run it follows.
Korean (Hangul) is written with spaces and keeps its words whole.

The minimum length depends on the script. ``min_token_len`` (3 by default) is meant for alphabets whose
short words are mostly function words (Latin, Cyrillic, Greek, ...). Abjads, which write no short vowels
(Hebrew, Arabic, Syriac and the other scripts of U+0590-U+08FF), Hangul (a syllable per character) and
Katakana words use ``min(min_token_len, 2)``, so Arabic "يد" or Hebrew "ים" survive. Bigram and character
tokens of the unsegmented scripts are always kept, whatever the length bounds; whole runs (``"words"``)
are kept from one character up to ``max_token_len``.

Text is NFKC-normalized (full-width forms, ligatures, half-width Katakana; Thai and Lao SARA AM, which NFKC
splits in two, is put back together) and case-folded when ``lowercase`` (``str.casefold``, which also
handles German ß and Greek final sigma).

Corpora and models saved before ``unsegmented`` existed load with ``unsegmented="legacy"``, the earlier
tokenization (one token per Han character, other runs whole, ``min_token_len`` for every script), so they
keep matching their vocabularies.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from functools import cached_property

from shoestring.config import Config, param

# Letters (and marks) of the scripts written without spaces, cut into bigrams; Katakana (words); the rest.
# Script_Extensions (scx) brings in "ー" (after Hiragana), the iteration marks and the combining voicing marks.
# (Marks of the Inherited script other than the voicing marks stay with whatever letter they follow.)
_UNSEG = (r"[[\p{Han}[[\p{L}\p{M}]&&[\p{scx=Han}\p{scx=Hira}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]]"
          r"--[\p{sc=Kana}\p{sc=Zinh}]]\u3099\u309a]")
_KANA = r"[[[[\p{L}\p{M}]&&\p{scx=Kana}]--\p{sc=Zinh}]\u3099\u309a]"
_WORDS = "{U}+|{K}+|{O}+(?:['’]{O}+)*"
# A superset of those two classes in plain ranges (a test checks it), searched first with the fast ``re``:
# text without any of them (most text) is split with the plain pattern below, as fast as before.
_MAYBE_UNSEG = ("[\u0e01-\u0eff\u1000-\u109f\u1780-\u17ff\u2e80-\u2fdf\u3005-\u30ff\u31f0-\u31ff"
                "\u3400-\u4dbf\u4e00-\u9fff\ua9e0-\ua9ff\uaa60-\uaa7f\uf900-\ufaff\uff66-\uff9f"
                "\U00016fe0-\U00016fff\U0001aff0-\U0001b16f\U00020000-\U0003ffff]")
_PLAIN = r"[\p{L}\p{M}]+(?:['’][\p{L}\p{M}]+)*"
_PLAIN_NUM = r"[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}\p{N}]+)*"
_OTHER = r"[[\p{L}\p{M}]--[" + _UNSEG + _KANA + "]]"
_OTHER_NUM = r"[[\p{L}\p{M}\p{N}]--[" + _UNSEG + _KANA + "]]"
# a base character with its marks; Khmer coeng and Myanmar virama join the next consonant to it
_UNIT = r"\P{M}(?:[\u17D2\u1039]\P{M}|\p{M})*"

# Before ``unsegmented`` (kept for saved corpora and models): Han characters one per token, other runs whole.
_LEGACY = r"\p{Han}|[[\p{L}\p{M}]--\p{Han}]+(?:['’][[\p{L}\p{M}]--\p{Han}]+)*"
_LEGACY_NUM = r"\p{Han}|[[\p{L}\p{M}\p{N}]--\p{Han}]+(?:['’][[\p{L}\p{M}\p{N}]--\p{Han}]+)*"

UNSEGMENTED = ("bigram", "char", "words", "legacy")


@dataclasses.dataclass
class TokenizerConfig(Config):
    lowercase: bool = param(True, "case-fold tokens")
    min_token_len: int = param(3, "drop tokens shorter than this many characters; Arabic, Hebrew, Hangul and "
                                  "Katakana words use at most 2, and tokens of scripts written without spaces "
                                  "are always kept", min=1)
    max_token_len: int = param(30, "drop tokens longer than this many characters", min=1)
    keep_numbers: bool = param(False, "keep digits inside tokens (VAMPIRE's reference drops them)")
    unsegmented: str = param("bigram", "how runs of scripts written without spaces (Chinese, Japanese, Thai, Lao, "
                                       "Khmer, Myanmar) become tokens: overlapping character bigrams (Lucene's CJK "
                                       "analyzer), single characters, whole runs (words already split by spaces), "
                                       "or legacy (earlier versions: Han characters single, other runs whole; set "
                                       "for corpora and models saved before this option)", choices=UNSEGMENTED)

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "config") -> TokenizerConfig:
        if "unsegmented" not in d:  # saved by a version before the option: tokenize as it did
            d = {**d, "unsegmented": "legacy"}
        return super().from_dict(d, source=source)


class Tokenizer:
    """``Tokenizer(config)(text) -> list[str]``.

    >>> Tokenizer()("Ça coûte 10€: l'été à Zürich!")
    ['coûte', "l'été", 'zürich']
    >>> Tokenizer()("中文分词")
    ['中文', '文分', '分词']
    >>> Tokenizer(TokenizerConfig(unsegmented="char"))("中文分词")
    ['中', '文', '分', '词']
    >>> Tokenizer()("東京でコーヒーを飲む")
    ['東京', '京で', 'コーヒー', 'を飲', '飲む']
    """

    def __init__(self, config: TokenizerConfig | None = None):
        self.config = (config or TokenizerConfig()).validate()
        self._kinds: dict[str, int] = {}  # first character -> _kind(), filled as characters are met

    @cached_property
    def _patterns(self):
        """(findall of the plain pattern, search for a possibly unsegmented character, findall of the full one)."""
        import re

        import regex

        c = self.config
        if c.unsegmented == "legacy":
            legacy = regex.compile(_LEGACY_NUM if c.keep_numbers else _LEGACY, regex.V1).findall
            return legacy, None, legacy
        other = _OTHER_NUM if c.keep_numbers else _OTHER
        return (regex.compile(_PLAIN_NUM if c.keep_numbers else _PLAIN, regex.V1).findall,
                re.compile(_MAYBE_UNSEG).search,
                regex.compile(_WORDS.format(U=_UNSEG, K=_KANA, O=other), regex.V1).findall)

    @cached_property
    def _classes(self):
        import regex

        return (regex.compile(_UNSEG, regex.V1).match, regex.compile(_KANA, regex.V1).match,
                regex.compile(r"\p{Hangul}", regex.V1).match, regex.compile(r"\p{M}", regex.V1).search,
                regex.compile(_UNIT, regex.V1).findall)

    def _kind(self, ch: str) -> int:
        """0: an alphabet (``min_token_len``); 1: written without spaces; 2: Katakana, Hangul or an abjad."""
        kind = self._kinds.get(ch)
        if kind is None:
            unseg, kana, hangul = self._classes[:3]
            kind = 1 if unseg(ch) else 2 if (kana(ch) or hangul(ch) or "\u0590" <= ch <= "\u08ff") else 0
            self._kinds[ch] = kind
        return kind

    def __call__(self, text: str) -> list[str]:
        c = self.config
        text = unicodedata.normalize("NFKC", text)
        if c.lowercase:
            text = text.casefold()
        if c.unsegmented == "legacy":
            return self._legacy(text)
        lo, hi = c.min_token_len, c.max_token_len
        lo2 = min(lo, 2)
        plain, maybe, full = self._patterns
        if maybe(text):
            words = full(_recompose(text))
        else:
            words = plain(text)
        out = []
        for t in words:
            n = len(t)
            if t[0] < "\u0590":  # Latin, Greek, Cyrillic, Armenian: the common case, decided at once
                if lo <= n <= hi:
                    out.append(t.replace("’", "'"))
                continue
            kind = self._kind(t[0])
            if kind == 0:
                if lo <= n <= hi:
                    out.append(t.replace("’", "'"))
            elif kind == 2:
                if lo2 <= n <= hi:
                    out.append(t.replace("’", "'"))
            elif c.unsegmented == "words":
                if n <= hi:
                    out.append(t)
            else:
                units = self._classes[4](t) if self._classes[3](t) else t
                if c.unsegmented == "char" or len(units) == 1:
                    out.extend(units)
                else:
                    out.extend([a + b for a, b in zip(units, units[1:])])
        return out

    def _legacy(self, text: str) -> list[str]:
        lo, hi = self.config.min_token_len, self.config.max_token_len
        out = []
        for t in self._patterns[0](text):
            n = len(t)
            if (lo <= n <= hi) or (n == 1 and "\u2e80" <= t <= "\U0003134f" and _is_han(t)):
                out.append(t.replace("’", "'"))
        return out

    def __getstate__(self):  # picklable for multiprocessing workers (the compiled regexes are rebuilt)
        return {"config": self.config}

    def __setstate__(self, state):
        self.config = state["config"]
        self._kinds = {}


def _recompose(text: str) -> str:
    """Undo NFKC's split of Thai and Lao SARA AM (U+0E33, U+0EB3) into NIKHAHIT + SARA AA, as written."""
    if "\u0e4d\u0e32" in text:
        text = text.replace("\u0e4d\u0e32", "\u0e33")
    if "\u0ecd\u0eb2" in text:
        text = text.replace("\u0ecd\u0eb2", "\u0eb3")
    return text


def _is_han(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith("CJK")


# words as a classifier's embedding table and word vectors see them: every length, numbers kept
WORD_TOKENIZER = TokenizerConfig(min_token_len=1, max_token_len=40, keep_numbers=True)
