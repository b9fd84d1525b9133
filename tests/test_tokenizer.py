from shoestring.data.tokenizer import Tokenizer, TokenizerConfig


def test_latin_accents_apostrophes_and_case():
    t = Tokenizer()
    assert t("Ça coûte 10€: l'été à Zürich! DON’T Straße") == ["coûte", "l'été", "zürich", "don't", "strasse"]


def test_scripts_without_spaces_and_with_marks():
    t = Tokenizer(TokenizerConfig(min_token_len=1))
    # Han runs as overlapping bigrams (or one character per token); Devanagari vowel signs (marks) stay inside
    # words; Cyrillic, Greek, Hangul whole
    assert t("中文分词") == ["中文", "文分", "分词"]
    assert Tokenizer(TokenizerConfig(min_token_len=1, unsegmented="char"))("中文分词") == ["中", "文", "分", "词"]
    assert t("हिन्दी भाषा") == ["हिन्दी", "भाषा"]
    assert t("Русский язык ελληνικά 한국어") == ["русский", "язык", "ελληνικά", "한국어"]


def test_han_tokens_survive_min_length():
    assert Tokenizer()("东京 tokyo") == ["东京", "tokyo"]
    assert Tokenizer(TokenizerConfig(unsegmented="char"))("东京 tokyo") == ["东", "京", "tokyo"]
    assert Tokenizer()("东 tokyo") == ["东", "tokyo"]


def test_numbers_dropped_unless_kept():
    assert Tokenizer()("covid19 in 2020 was bad") == ["covid", "was", "bad"]  # digits separate words
    assert Tokenizer(TokenizerConfig(keep_numbers=True))("covid19 in 2020") == ["covid19", "2020"]


def test_length_bounds_and_no_lowercase():
    t = Tokenizer(TokenizerConfig(lowercase=False, min_token_len=2, max_token_len=5))
    assert t("Hi a Python toolkit OK") == ["Hi", "OK"]


MIXED = ("東京タワーとひらがな 中文分词 ภาษาไทย في من الحكومة 경제 정책을 Ça l'été don’t x\u0323y covid19 2020年 ок")


def test_legacy_mode_is_the_earlier_tokenizer():
    # outputs of the tokenizer before ``unsegmented`` existed, on the same text
    legacy = ["東", "京", "タワーとひらがな", "中", "文", "分", "词", "ภาษาไทย", "الحكومة", "정책을", "l'été", "don't",
              "x\u0323y", "covid", "年"]
    assert Tokenizer(TokenizerConfig(unsegmented="legacy"))(MIXED) == legacy
    assert Tokenizer(TokenizerConfig(unsegmented="legacy", keep_numbers=True, min_token_len=1, max_token_len=40))(
        MIXED) == ["東", "京", "タワーとひらがな", "中", "文", "分", "词", "ภาษาไทย", "في", "من", "الحكومة", "경제",
                   "정책을", "ça", "l'été", "don't", "x\u0323y", "covid19", "2020", "年", "ок"]
    # the new default on the same text: alphabets unchanged, the rest by script
    assert Tokenizer()(MIXED) == ["東京", "タワー", "とひ", "ひら", "らが", "がな", "中文", "文分", "分词", "ภา", "าษ",
                                  "ษา", "าไ", "ไท", "ทย", "في", "من", "الحكومة", "경제", "정책을", "l'été", "don't",
                                  "x\u0323y", "covid", "年"]


def test_saved_configs_without_the_option_load_as_legacy():
    old = {"lowercase": True, "min_token_len": 3, "max_token_len": 30, "keep_numbers": False}
    assert TokenizerConfig.from_dict(old).unsegmented == "legacy"
    assert TokenizerConfig.from_dict(TokenizerConfig().to_dict()) == TokenizerConfig()
    assert TokenizerConfig().unsegmented == "bigram"


def test_pickled_tokenizer_works():
    import pickle

    t = Tokenizer()
    assert t("中文 ok") == ["中文"]
    t2 = pickle.loads(pickle.dumps(t))
    assert t2.config == t.config and t2("中文分词 Zürich") == ["中文", "文分", "分词", "zürich"]


def test_fast_prefilter_covers_every_unsegmented_character():
    """Text is split by the full pattern only when ``_MAYBE_UNSEG`` finds a character; it must find all."""
    import re

    import regex

    from shoestring.data import tokenizer as tk

    full = regex.compile(f"[{tk._UNSEG}{tk._KANA}]", regex.V1)
    maybe = re.compile(tk._MAYBE_UNSEG)
    missed = [hex(i) for i in range(0x110000)
              if not 0xD800 <= i < 0xE000 and full.match(chr(i)) and not maybe.match(chr(i))]
    assert missed == []
