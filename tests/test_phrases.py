"""Japanese titles break between phrases (BudouX), never inside a word, and end on no lone character."""

from quiz.web.phrases import phrased


def test_japanese_is_split_into_phrases_that_rejoin_to_the_text():
    html = phrased("あなたにぴったりの美容液診断", "ja")
    assert html == '<span class="quiz-phrases">あなたに<wbr>ぴったりの<wbr>美容液<wbr>診断</span>'
    assert phrased("ウォーターベースの美容液", "ja-JP").count("<wbr>") == 1  # never ウォ / ーター


def test_a_one_character_last_phrase_joins_the_one_before():
    assert not str(phrased("美容液を選ぶ。", "ja")).replace("</span>", "").endswith("<wbr>。")


def test_other_languages_and_markup_are_only_escaped():
    assert phrased("<b>Serum</b> & more", "en") == "&lt;b&gt;Serum&lt;/b&gt; &amp; more"
    assert "<script>" not in phrased("<script>alert(1)</script>の診断", "ja")
