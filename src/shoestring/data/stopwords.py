"""Stop-word lists per language, and automatic choice of the list that fits a corpus.

English uses scikit-learn's list (the one VAMPIRE's reference vectorizer uses); other languages come from
the ``stop-words`` package (about 30 languages). ``"auto"`` picks the language whose list covers most of the
corpus's 200 most frequent words, and none when no list covers at least a fifth of them (a corpus in a
language without a list, or a domain of codes and identifiers). A path to a text file (one word per line)
gives a custom list.
"""

from __future__ import annotations

from pathlib import Path

from shoestring.errors import ConfigError

_CODES = {"en": "english", "de": "german", "fr": "french", "es": "spanish", "it": "italian", "pt": "portuguese",
          "nl": "dutch", "ru": "russian", "sv": "swedish", "da": "danish", "no": "norwegian", "fi": "finnish",
          "pl": "polish", "cs": "czech", "sk": "slovak", "hu": "hungarian", "ro": "romanian", "tr": "turkish",
          "uk": "ukrainian", "bg": "bulgarian", "el": "greek", "ar": "arabic", "he": "hebrew", "hi": "hindi",
          "fa": "persian", "id": "indonesian", "ms": "malaysian", "ca": "catalan", "vi": "vietnamese",
          "zh": "chinese", "ja": "japanese", "ko": "korean", "gu": "gujarati"}


def languages() -> list[str]:
    return sorted(_CODES)


def get_stopwords(name: str, normalize=None) -> set[str]:
    """The stop words for a language code or name, a file path, or ``none``; normalized by ``normalize``."""
    name = name.strip()
    if name.lower() in ("none", ""):
        return set()
    if Path(name).is_file():
        words = Path(name).read_text(encoding="utf-8").split()
    elif name.lower() in ("en", "english"):
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        words = list(ENGLISH_STOP_WORDS)
    else:
        lang = _CODES.get(name.lower(), name.lower())
        if lang not in _CODES.values():
            raise ConfigError(f"no stop-word list for {name!r}",
                              hint=f"use one of {', '.join(languages())}, 'auto', 'none', or a file path")
        from stop_words import get_stop_words

        words = get_stop_words(lang)
    out = set()
    for w in words:
        out.update(normalize(w) if normalize else [w.lower()])
    return out


def detect(top_words: list[str], normalize=None) -> tuple[str, set[str]]:
    """Choose the list covering most of ``top_words`` (the corpus's most frequent words)."""
    best, best_set, best_cover = "none", set(), 0
    top = set(top_words)
    for code in languages():
        try:
            sw = get_stopwords(code, normalize)
        except Exception:  # a list the installed package lacks
            continue
        cover = len(top & sw)
        if cover > best_cover:
            best, best_set, best_cover = code, sw, cover
    if best_cover < max(1, len(top) // 5):
        return "none", set()
    return best, best_set
