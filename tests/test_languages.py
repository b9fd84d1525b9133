"""Languages written without spaces (Thai, Chinese, Japanese) and the minimum token length per script (Arabic).

Samples are short news-like sentences written for these tests.
"""

import re
from collections import Counter

import pytest

from conftest import write_jsonl
from shoestring.data import stopwords as sw
from shoestring.data.config import PrepareConfig
from shoestring.data.prepare import prepare
from shoestring.data.tokenizer import Tokenizer, TokenizerConfig
from shoestring.errors import InputError

THAI = [
    "รัฐบาลประกาศมาตรการใหม่เพื่อกระตุ้นเศรษฐกิจของประเทศ",
    "นายกรัฐมนตรีเดินทางไปเยือนประเทศญี่ปุ่นเมื่อวันจันทร์",
    "ธนาคารแห่งประเทศไทยคงอัตราดอกเบี้ยนโยบายไว้ที่ร้อยละสอง",
    "ฝนตกหนักทำให้เกิดน้ำท่วมในหลายจังหวัดทางภาคเหนือ",
    "ทีมฟุตบอลทีมชาติไทยชนะคู่แข่งสามต่อหนึ่ง",
    "ราคาน้ำมันในตลาดโลกปรับตัวสูงขึ้นอย่างต่อเนื่อง",
    "นักวิทยาศาสตร์ค้นพบยาชนิดใหม่ที่ช่วยรักษาโรคมะเร็ง",
    "กระทรวงศึกษาธิการเปิดโรงเรียนใหม่ในกรุงเทพมหานคร",
    "นักท่องเที่ยวต่างชาติเดินทางมาประเทศไทยมากขึ้นในปีนี้",
    "ตำรวจเตือนประชาชนให้ระวังการหลอกลวงทางโทรศัพท์",
]
CHINESE = [
    "国务院宣布新的经济刺激政策。",
    "中国经济今年继续保持增长。",
    "中国人民银行维持贷款利率不变。",
    "国际油价持续上涨，市场担心经济放缓。",
    "科技公司发布新款智能手机。",
    "这家公司今年的利润大幅增长。",
    "暴雨导致南方多个省份发生洪水。",
    "政府派出救援队前往洪水灾区。",
    "科学家发现一种治疗癌症的新药。",
    "医院开始使用这种新药治疗病人。",
    "今年来中国旅游的外国游客增加。",
    "财政部表示明年中国经济将继续增长。",
]
JAPANESE = [
    "政府は新しい経済対策を発表した。",
    "日本の経済は来年も成長が続く見通しだ。",
    "日本銀行は政策金利を据え置いた。",
    "首相は月曜日に中国を訪問した。",
    "大雨の影響で各地で洪水の被害が出ている。",
    "政府は洪水の被害を受けた地域を支援する。",
    "サッカー日本代表が三対一で勝利した。",
    "原油価格が上昇を続けている。",
    "研究チームががんの新しい治療薬を発見した。",
    "外国人観光客が今年は大幅に増えている。",
    "大手メーカーが新しいスマートフォンを発売した。",
    "東京の株価は今日も上昇した。",
]
ARABIC = [
    "أعلنت الحكومة عن خطة جديدة لدعم الاقتصاد في البلاد.",
    "زار رئيس الوزراء اليابان يوم الاثنين والتقى مع نظيره.",
    "قال وزير الصحة إن عدد المرضى في المستشفيات قد انخفض.",
    "ارتفعت أسعار النفط في الأسواق العالمية من جديد.",
]


def _recurring(docs, tok):
    """Tokens found in two or more of ``docs``."""
    df = Counter(t for d in docs for t in set(tok(d)))
    return {t for t, n in df.items() if n >= 2}


@pytest.mark.parametrize("docs,min_recurring", [(THAI, 15), (CHINESE, 8), (JAPANESE, 15)])
def test_unsegmented_scripts_give_recurring_bigrams(docs, min_recurring):
    tok = Tokenizer()
    for d in docs:
        toks = tok(d)
        assert len(toks) >= 5  # a sentence is many tokens, not one run nor nothing
        assert all(len(t) <= 30 for t in toks)
    recurring = _recurring(docs, tok)
    assert len(recurring) >= min_recurring, recurring
    # the earlier tokenization: a Thai sentence was one over-long run, dropped
    assert all(Tokenizer(TokenizerConfig(unsegmented="legacy"))(d) == [] for d in THAI)


def test_bigrams_hold_words():
    tok = Tokenizer()
    zh = tok("中国人民银行维持贷款利率不变。")
    assert zh[:3] == ["中国", "国人", "人民"] and {"银行", "贷款", "利率"} <= set(zh)
    th = set(tok(" ".join(THAI)))
    # "ประเทศ" (country) and "ใหม่" (new); vowel and tone marks stay on their letters
    assert {"ปร", "ระ", "เท", "ทศ", "ให", "หม่"} <= th
    assert not any(re.match(r"[\u0e31\u0e34-\u0e3a\u0e47-\u0e4e]", t) for t in th)  # no token starts with a mark
    ja = tok("大手メーカーが新しいスマートフォンを発売した。")
    assert ja == ["大手", "メーカー", "が新", "新し", "しい", "スマートフォン", "を発", "発売", "売し", "した"]


def test_unsegmented_modes():
    assert Tokenizer(TokenizerConfig(unsegmented="char"))("国际油价") == ["国", "际", "油", "价"]
    assert Tokenizer(TokenizerConfig(unsegmented="char"))("ที่ภาษาไทย") == ["ที่", "ภ", "า", "ษ", "า", "ไ", "ท", "ย"]
    # text already segmented by spaces: runs whole, from one character up to max_token_len
    words = Tokenizer(TokenizerConfig(unsegmented="words"))
    assert words("国际 油价 持续 上涨 了") == ["国际", "油价", "持续", "上涨", "了"]
    assert words("ราคา น้ำมัน ใน ตลาดโลก") == ["ราคา", "น้ำมัน", "ใน", "ตลาดโลก"]
    assert Tokenizer()("国") == ["国"] and Tokenizer()("ก") == ["ก"]  # a one-character run is one token
    # bigrams ignore the length bounds; Latin words in between still follow them
    assert Tokenizer(TokenizerConfig(min_token_len=3, max_token_len=1))("中文 ok") == ["中文"]


def _corpus(sentences, n=40):
    """``n`` documents of two or three sentences each, in varying combinations."""
    k = len(sentences)
    return [{"text": " ".join(sentences[(i * j + j) % k] for j in range(1, 2 + i % 2 + 1))} for i in range(n)]


@pytest.mark.parametrize("name,sentences", [("thai", THAI), ("chinese", CHINESE), ("japanese", JAPANESE)])
def test_prepare_builds_a_vocabulary(tmp_path, name, sentences):
    src = write_jsonl(tmp_path / f"{name}.jsonl", _corpus(sentences))
    c = prepare(src, tmp_path / "out", PrepareConfig(min_df=2, stopwords="none"), progress=False)
    assert len(c.vocab) >= 30
    assert c.manifest["counts"]["empty_after_vocabulary"] == 0
    assert c.manifest["settings"]["tokenizer"]["unsegmented"] == "bigram"
    # "auto" stop words: no list fits, or one does; either way no crash and a vocabulary
    c2 = prepare(src, tmp_path / "auto", progress=False)
    assert len(c2.vocab) >= 30 and c2.manifest["stopwords_used"] in sw.languages() + ["none"]


def test_thai_failed_before(tmp_path):
    src = write_jsonl(tmp_path / "thai.jsonl", _corpus(THAI))
    with pytest.raises(InputError, match="vocabulary is empty"):
        prepare(src, tmp_path / "out", PrepareConfig(min_df=2, stopwords="none"),
                TokenizerConfig(unsegmented="legacy"), progress=False)


def test_stopword_detection_on_unsegmented_text():
    tok = Tokenizer()
    norm = Tokenizer(TokenizerConfig(min_token_len=1, max_token_len=10_000))
    for docs in (THAI, CHINESE, JAPANESE):
        top = [t for t, _ in Counter(t for d in docs for t in tok(d)).most_common(200)]
        lang, stop = sw.detect(top, norm)
        assert lang in sw.languages() + ["none"] and isinstance(stop, set)


def test_minimum_length_per_script():
    tok = Tokenizer()
    ar = tok(" ".join(ARABIC))
    assert {"في", "عن", "مع", "إن", "قد", "من"} <= set(ar)  # two-letter Arabic words are kept
    assert "الحكومة" in ar
    assert tok("و في") == ["في"]  # one letter is still too short
    assert tok("שם הים של העם") == ["שם", "הים", "של", "העם"]  # Hebrew too
    assert tok("정부가 경제 정책을 발표했다 집") == ["정부가", "경제", "정책을", "발표했다"]  # two Hangul syllables
    assert tok("it is an old house in the town") == ["old", "house", "the", "town"]  # English: still 3
    assert Tokenizer(TokenizerConfig(min_token_len=1))("و a") == ["و", "a"]
    assert Tokenizer(TokenizerConfig(min_token_len=4))("في الحكومة the house") == ["في", "الحكومة", "house"]
