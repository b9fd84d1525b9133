from shoestring.data.tokenizer import Tokenizer, TokenizerConfig


def test_latin_accents_apostrophes_and_case():
    t = Tokenizer()
    assert t("Ça coûte 10€: l'été à Zürich! DON’T Straße") == ["coûte", "l'été", "zürich", "don't", "strasse"]


def test_scripts_without_spaces_and_with_marks():
    t = Tokenizer(TokenizerConfig(min_token_len=1))
    # Han characters one per token; Devanagari vowel signs (marks) stay inside words; Cyrillic, Greek, Hangul whole
    assert t("中文分词") == ["中", "文", "分", "词"]
    assert t("हिन्दी भाषा") == ["हिन्दी", "भाषा"]
    assert t("Русский язык ελληνικά 한국어") == ["русский", "язык", "ελληνικά", "한국어"]


def test_single_han_characters_survive_min_length():
    assert Tokenizer()("东京 tokyo") == ["东", "京", "tokyo"]


def test_numbers_dropped_unless_kept():
    assert Tokenizer()("covid19 in 2020 was bad") == ["covid", "was", "bad"]  # digits separate words
    assert Tokenizer(TokenizerConfig(keep_numbers=True))("covid19 in 2020") == ["covid19", "2020"]


def test_length_bounds_and_no_lowercase():
    t = Tokenizer(TokenizerConfig(lowercase=False, min_token_len=2, max_token_len=5))
    assert t("Hi a Python toolkit OK") == ["Hi", "OK"]
