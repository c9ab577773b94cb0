"""The widget's own words (buttons, progress, errors) in each language it speaks."""

from __future__ import annotations

from quiz.text import best_locale, fill, format_number

UI_LOCALES = ("en", "ja")

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "start": "Start",
        "next": "Next",
        "back": "Back",
        "skip": "Skip",
        "see_results": "See my results",
        "restart": "Start again",
        "progress": "Question {step} of {total}",
        "results_heading": "Your results",
        "price": "Price",
        "out_of_stock": "Out of stock",
        "restarted": "Your session expired or could not be read, so the quiz started again.",
        "not_found_title": "Quiz not found",
        "not_found_text": "There is no quiz here. Check the link or start from the shop.",
        "error_required": "Please answer this question.",
        "error_unknown_option": "Please pick one of the options shown.",
        "error_too_few": "Please pick at least {min}.",
        "error_too_many": "Please pick at most {max}.",
        "error_not_a_number": "Please enter a number.",
        "error_too_small": "Please enter {min} or more.",
        "error_too_large": "Please enter {max} or less.",
        "error_off_scale": "Please pick a point on the scale.",
        "error_not_whole": "Please enter a whole number.",
        "error_too_long": "Please keep it under {max} characters.",
        "error_connection": "We could not reach the quiz. Check your connection and try again.",
    },
    "ja": {
        "start": "はじめる",
        "next": "次へ",
        "back": "戻る",
        "skip": "スキップ",
        "see_results": "結果を見る",
        "restart": "もう一度診断する",
        "progress": "質問 {step} / {total}",
        "results_heading": "診断結果",
        "price": "価格",
        "out_of_stock": "在庫切れ",
        "restarted": "セッションの有効期限が切れたか読み取れなかったため、最初からやり直します。",
        "not_found_title": "診断が見つかりません",
        "not_found_text": "この診断は存在しません。リンクをご確認いただくか、ショップからお試しください。",
        "error_required": "この質問にお答えください。",
        "error_unknown_option": "表示されている選択肢からお選びください。",
        "error_too_few": "{min}つ以上お選びください。",
        "error_too_many": "{max}つまでお選びください。",
        "error_not_a_number": "数字を入力してください。",
        "error_too_small": "{min}以上を入力してください。",
        "error_too_large": "{max}以下を入力してください。",
        "error_off_scale": "目盛りの値をお選びください。",
        "error_not_whole": "整数を入力してください。",
        "error_too_long": "{max}文字以内で入力してください。",
        "error_connection": "通信できませんでした。接続を確認して、もう一度お試しください。",
    },
}


def ui_locale(locale: str) -> str:
    """The widget language for a shopper locale: Japanese for ``ja-*``, English otherwise."""
    return best_locale(locale, UI_LOCALES, "en")


def preferred_locales(accept_language: str) -> list[str]:
    """The locales of an ``Accept-Language`` header, most wanted first."""
    ranked = []
    for index, part in enumerate(accept_language.split(",")[:20]):
        tag, _, weight = part.strip().partition(";q=")
        try:
            quality = float(weight) if weight else 1.0
        except ValueError:
            continue
        if tag and tag != "*":
            ranked.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(ranked)]


def words(locale: str) -> dict[str, str]:
    return WORDS[ui_locale(locale)]


def answer_error(locale: str, code: str, params: dict[str, object]) -> str:
    """The shopper-facing sentence for an ``AnswerError`` code."""
    template = words(locale).get(f"error_{code}", words(locale)["error_required"])
    values = {name: format_number(value) if isinstance(value, float) else str(value) for name, value in params.items()}
    return fill(template, values)
