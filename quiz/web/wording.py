"""The widget's own words (buttons, progress, errors) in each language it speaks."""

from __future__ import annotations

import functools

from quiz.format.text import best_locale, fill, format_number

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
        "best_match": "Best match",
        "fits_all": "Fits all {answers} of your answers",
        "fits_some": "Fits {fits} of your {answers} answers",
        "add_to_cart": "Add to cart",
        "add_all_to_cart": "Add all {count} to cart",
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
        "optin_heading": "Get your results by email",
        "optin_gate_heading": "Where should we send your results?",
        "optin_email": "Email address",
        "optin_send": "Email me my results",
        "optin_gate_send": "Show my results",
        "optin_skip": "No thanks, show my results",
        "optin_privacy": "We use your address to send your results, and for marketing only if you tick the box.",
        "optin_honeypot": "Leave this field empty",
        "optin_sent": "Sent! Your results are on their way to your inbox.",
        "optin_confirm": "Sent! Please confirm your subscription with the link in the email we sent you.",
        "error_email_missing": "Please enter your email address.",
        "error_email_invalid": "Please check your email address; it should look like name@example.com.",
        "error_rate_limited": "Too many tries. Please wait a few minutes and try again.",
        "confirm_title": "Confirm your subscription",
        "confirm_text": "Press the button to start receiving our emails.",
        "confirm_button": "Confirm my subscription",
        "confirmed_title": "You are subscribed",
        "confirmed_text": "Thank you. Every email we send has a link to unsubscribe.",
        "form_refused_title": "This form cannot be read",
        "form_refused_text": "It holds more fields than any step of a quiz sends, or a file. Nothing was changed.",
        "link_invalid_title": "This link does not work",
        "link_invalid_text": "It has expired, was already used, or was changed on the way. Nothing was changed.",
        "unavailable_title": "Please try again shortly",
        "unavailable_text": "We could not save this just now. Nothing was sent; please try again shortly.",
        "unsubscribed_title": "You are unsubscribed",
        "unsubscribed_text": "You will get no more marketing email from us. Your consent was withdrawn on our records.",
        "mail_subject": "Your matches from {quiz}",
        "mail_intro": "Here are the products that fit your answers.",
        "mail_confirm_text": "You asked to hear from us. Please confirm it's you:",
        "mail_confirm_button": "Confirm my subscription",
        "mail_view": "View product",
        "mail_reason": "Why",
        "mail_footer": "You received this email because you asked for your quiz results on {site}.",
        "mail_unsubscribe": "Unsubscribe",
        "line_heading": "Get your results on LINE",
        "line_button": "Get my results on LINE",
        "line_sent": "Sent! Your results are in your LINE chat with us.",
        "line_not_friend": "You did not add us as a friend, so we could not send your results."
        " Add us, and they will follow.",
        "line_add_friend": "Add us on LINE",
        "line_code_intro": "Add us as a friend on LINE and send us this code; we will reply with your results:",
        "line_cancelled": "LINE login was cancelled. Your results are still here.",
        "line_failed": "We could not reach LINE just now. Your results are still here; please try again shortly.",
        "line_done_title": "Done",
        "line_done_close": "You can close this window and go back to the quiz.",
        "line_heading_results": "Your matches from {quiz}",
        "line_view": "View product",
        "line_unknown_code": "We do not know this code. Please check it, or take the quiz again.",
        "line_no_results": "We have no results for you yet. Take the quiz, then send us the code it shows.",
        "line_withdrawn": "You will get no more news from us here. Your consent was withdrawn on our records.",
        "line_code_sent": "I sent the code: show my results",
        "line_login_done": "I finished on LINE: show my results",
        "line_login_waiting": "LINE has not told us yet. Finish in the LINE window, then press the button again.",
        "line_waiting": "Your code has not reached us yet. Send it to us on LINE, then press the button again.",
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
        "best_match": "いちばんのおすすめ",
        "fits_all": "{answers}つの回答すべてに合致",
        "fits_some": "{answers}つの回答のうち{fits}つに合致",
        "add_to_cart": "カートに入れる",
        "add_all_to_cart": "{count}点まとめてカートに入れる",
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
        "optin_heading": "診断結果をメールで受け取る",
        "optin_gate_heading": "診断結果はどちらにお送りしますか？",
        "optin_email": "メールアドレス",
        "optin_send": "結果をメールで受け取る",
        "optin_gate_send": "結果を見る",
        "optin_skip": "受け取らずに結果を見る",
        "optin_privacy": "メールアドレスは診断結果の送信に使います。チェックを入れた場合のみ、お知らせを配信します。",
        "optin_honeypot": "この欄は空のままにしてください",
        "optin_sent": "送信しました。診断結果をメールでお送りします。",
        "optin_confirm": "送信しました。お送りしたメールのリンクから、配信の登録を確定してください。",
        "error_email_missing": "メールアドレスを入力してください。",
        "error_email_invalid": "メールアドレスをご確認ください（例: name@example.com）。",
        "error_rate_limited": "送信が多すぎます。数分おいてから、もう一度お試しください。",
        "confirm_title": "配信登録の確認",
        "confirm_text": "ボタンを押すと、メールの配信が始まります。",
        "confirm_button": "配信登録を確定する",
        "confirmed_title": "配信登録が完了しました",
        "confirmed_text": "ありがとうございます。配信停止はすべてのメールのリンクからいつでもできます。",
        "form_refused_title": "このフォームは読み取れません",
        "form_refused_text": "項目が多すぎるか、ファイルが含まれています。何も変更されていません。",
        "link_invalid_title": "このリンクは使えません",
        "link_invalid_text": "有効期限切れ、使用済み、または途中で変更されたリンクです。何も変更されていません。",
        "unavailable_title": "しばらくしてからお試しください",
        "unavailable_text": "ただいま保存できませんでした。何も送信されていません。少し時間をおいてお試しください。",
        "unsubscribed_title": "配信を停止しました",
        "unsubscribed_text": "今後、お知らせメールはお送りしません。同意の撤回を記録しました。",
        "mail_subject": "{quiz}の診断結果",
        "mail_intro": "あなたの回答にぴったりの商品はこちらです。",
        "mail_confirm_text": "配信のご希望をいただきました。ご本人確認のため、こちらを押してください。",
        "mail_confirm_button": "配信登録を確定する",
        "mail_view": "商品を見る",
        "mail_reason": "おすすめの理由",
        "mail_footer": "このメールは、{site}で診断結果の送信をご希望いただいたためお送りしています。",
        "mail_unsubscribe": "配信停止",
        "line_heading": "LINEで結果を受け取る",
        "line_button": "LINEで結果を受け取る",
        "line_sent": "送信しました。診断結果をLINEのトークにお送りしました。",
        "line_not_friend": "友だち追加されていないため、結果をお送りできませんでした。"
        "友だち追加すると、結果が届きます。",
        "line_add_friend": "LINEで友だち追加",
        "line_code_intro": "LINEで友だち追加して、このコードをトークで送ってください。診断結果をお返しします：",
        "line_cancelled": "LINEログインがキャンセルされました。診断結果はこのままご覧いただけます。",
        "line_failed": "ただいまLINEにつながりません。診断結果はこのままご覧いただけます。"
        "少し時間をおいてお試しください。",
        "line_done_title": "完了しました",
        "line_done_close": "このウィンドウを閉じて、診断に戻ってください。",
        "line_heading_results": "{quiz}の診断結果",
        "line_view": "商品を見る",
        "line_unknown_code": "このコードは見つかりませんでした。コードをご確認いただくか、もう一度診断してください。",
        "line_no_results": "まだ診断結果がありません。診断の最後に表示されるコードを送ってください。",
        "line_withdrawn": "配信を停止しました。同意の撤回を記録しました。",
        "line_code_sent": "コードを送ったので結果を見る",
        "line_login_done": "LINEでの操作が終わったので結果を見る",
        "line_login_waiting": "LINEからの連絡がまだありません。LINEの画面で操作を終えてから、もう一度押してください。",
        "line_waiting": "コードはまだ届いていません。LINEのトークでコードを送ってから、もう一度押してください。",
    },
}


def ui_locale(locale: str) -> str:
    """The widget language for a shopper locale: Japanese for ``ja-*``, English otherwise."""
    return best_locale(locale, UI_LOCALES, "en")


@functools.lru_cache(maxsize=1024)  # a few headers, sent with every step by every browser
def preferred_locales(accept_language: str) -> tuple[str, ...]:
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
    return tuple(tag for _, _, tag in sorted(ranked))


def words(locale: str) -> dict[str, str]:
    return WORDS[ui_locale(locale)]


def answer_error(locale: str, code: str, params: dict[str, object]) -> str:
    """The shopper-facing sentence for an ``AnswerError`` code."""
    template = words(locale).get(f"error_{code}", words(locale)["error_required"])
    values = {name: format_number(value) if isinstance(value, float) else str(value) for name, value in params.items()}
    return fill(template, values)
