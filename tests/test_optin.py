"""The email opt-in over HTTP: leads, consent evidence, double opt-in, unsubscribe, bots and bad input."""

import email
import email.policy
import hashlib
import json
import os
import re

import pytest
from factory import quiz_document
from html_page import Page
from starlette.testclient import TestClient

from quiz.app import create_app
from quiz.leads import optin
from quiz.leads.channel import EmailChannel
from quiz.settings import from_environment
from quiz.store import files as durable
from quiz.web.services import services_of

HTMX = {"HX-Request": "true"}
CONSENT = "Email me new serums. Unsubscribe anytime."
CONSENT_VERSION = "v1+" + hashlib.sha256(CONSENT.encode()).hexdigest()[:12]  # the label, and the text's own hash
CONTROLLER = "Serum Shop K.K."


def capture(**overrides):
    return {"channels": ["email"], "consent": {"text": CONSENT, "version": "v1"}, **overrides}


@pytest.fixture(autouse=True)
def humans_type_instantly(monkeypatch):
    monkeypatch.setattr(optin, "MIN_SECONDS_ON_FORM", 0)


def make_client(tmp_path, **lead_capture):
    quizzes = tmp_path / "quizzes"
    quizzes.mkdir(exist_ok=True)
    document = quiz_document(embed={"allowed_origins": ["https://shop.example"]}, lead_capture=capture(**lead_capture))
    (quizzes / "serum.json").write_text(json.dumps(document), encoding="utf-8")
    environment = {"QUIZ_DATA_DIR": str(tmp_path / "data"), "QUIZ_CONTROLLER": CONTROLLER}
    settings = from_environment(environment, quizzes_dir=str(quizzes))
    return TestClient(create_app(settings), base_url="http://quiz.test")


@pytest.fixture
def client(tmp_path):
    with make_client(tmp_path) as opened:
        yield opened


def results_page(client, **context):
    response = client.post("/q/serum/start", data={"page": "https://shop.example/p/1", **context})
    page = Page(response.text)
    for value in ("dry", "no"):
        response = client.post("/q/serum/answer", data={"t": page.value("t"), "a": value, "action": "next"})
        page = Page(response.text)
    return page


def opt_in(client, page, address="shopper@example.com", *, consent=True, **extra):
    data = {"t": page.value("t"), "email": address, "action": "send", **extra}
    if consent:
        data["consent"] = "yes"
    return client.post("/q/serum/optin", data=data, headers=HTMX)


def stored(client, collection):
    return list(services_of(client.app).store.records(collection))


def mails(client):
    services_of(client.app).channel(EmailChannel).mail.deliver_due()
    outbox = services_of(client.app).settings.data_dir / "outbox"
    found = sorted(outbox.glob("*.eml")) if outbox.exists() else []
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default) for path in found]


def link(message, path):
    text = message.get_body(("plain",)).get_content()
    found = re.search(rf"http://quiz\.test(/{path}/[^\s]+)", text)
    return found[1] if found else None


def test_results_offer_an_unticked_consent_box_beside_the_email_field(client):
    page = results_page(client)
    assert page.text("quiz-optin-heading") == "Get your results by email"
    box = next(field for field in page.inputs if field.get("name") == "consent")
    assert "checked" not in box
    assert CONSENT in page.text("quiz-consent")
    assert page.text("quiz-product-title")  # the results are there already: nothing is held back


def test_an_opt_in_keeps_a_pending_lead_its_evidence_and_sends_the_results(client):
    response = opt_in(client, results_page(client), " Shopper@Example.COM ")
    assert response.status_code == 200
    assert "confirm your subscription" in Page(response.text).text("quiz-optin-sent")
    (lead,) = stored(client, "leads")
    assert lead["email"] == "shopper@example.com"
    assert lead["consent"]["status"] == "pending" and lead["consent"]["version"] == CONSENT_VERSION
    assert lead["answers"] == {"skin": "dry", "fragrance": "no"}
    assert lead["products"][0]["id"] and lead["context"]["page"] == "https://shop.example/p/1"
    (evidence,) = stored(client, "consent")
    assert evidence["action"] == "opt_in" and evidence["checkbox"] is True and evidence["method"] == "checkbox"
    funnel = [event["kind"] for event in stored(client, "events")]
    assert funnel[-2:] == ["completed", "opted_in"]
    assert "shopper" not in json.dumps(stored(client, "events"))  # the funnel never holds the address
    assert evidence["text"] == CONSENT and evidence["text_sha256"] == hashlib.sha256(CONSENT.encode()).hexdigest()
    assert evidence["origin"] == "https://shop.example" and evidence["quiz"] == "serum"
    assert evidence["controller"] == CONTROLLER and evidence["locale"] == "en"
    assert evidence["quiz_version"] == lead["quiz_version"] and len(evidence["quiz_version"]) == 12
    assert re.fullmatch(r"0\.1\.0\+[0-9a-f]{10}", evidence["widget_version"])
    (message,) = mails(client)
    assert message["To"] == "shopper@example.com" and message["Subject"] == "Your matches from Serum finder"
    html = message.get_body(("html",)).get_content()
    assert "Aqua serum" in html and "https://shop.example/aqua?utm_source=quiz&amp;utm_medium=email" in html
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link(message, "confirm") and link(message, "unsubscribe")


def test_the_confirmation_link_asks_for_a_press_then_subscribes_once(client):
    opt_in(client, results_page(client))
    confirm = link(mails(client)[0], "confirm")
    shown = client.get(confirm)
    assert shown.status_code == 200 and Page(shown.text).buttons == ["Confirm my subscription"]
    assert stored(client, "leads")[0]["consent"]["status"] == "pending"  # a mail scanner's GET changes nothing
    assert client.post(confirm).status_code == 200
    assert stored(client, "leads")[0]["consent"]["status"] == "subscribed"
    assert client.post(confirm).status_code == 200  # a second press: nothing new
    actions = [record["action"] for record in stored(client, "consent")]
    assert actions == ["opt_in", "confirmed"]
    assert stored(client, "consent")[1]["method"] == "double_opt_in"


def test_the_pages_an_email_links_to_wear_the_quizs_theme_and_name_the_shop(client):
    opt_in(client, results_page(client))
    message = mails(client)[0]
    unsubscribe = message["List-Unsubscribe"].strip("<>").removeprefix("http://quiz.test")
    for address in (link(message, "confirm"), unsubscribe):
        assert address.endswith("?quiz=serum")
        page = client.get(address).text
        assert '<link rel="stylesheet" href="/q/serum/theme.css">' in page
        assert f'<p class="quiz-brand">{CONTROLLER} · Serum finder</p>' in page  # no quiz.shop: the controller
    # The parameter only dresses the page: an unknown or hostile one leaves it plain, never broken.
    token_only = link(message, "confirm").split("?")[0]
    for hostile in ("", "nope", "../serum", "<script>", "serum%00", "x" * 5000):
        response = client.get(token_only, params={"quiz": hostile})
        assert response.status_code == 200 and "theme.css" not in response.text and "<script>" not in response.text


def test_one_click_unsubscribe_withdraws_and_is_recorded(client):
    opt_in(client, results_page(client))
    message = mails(client)[0]
    client.post(link(message, "confirm"))
    unsubscribe = message["List-Unsubscribe"].strip("<>").removeprefix("http://quiz.test")
    response = client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "unsubscribed" in response.text
    assert stored(client, "leads")[0]["consent"]["status"] == "unsubscribed"
    withdrawn = stored(client, "consent")[-1]
    assert withdrawn["action"] == "withdrawn" and withdrawn["method"] == "list_unsubscribe_post"
    client.post(link(message, "confirm"))  # an old confirmation link cannot subscribe again
    assert stored(client, "leads")[0]["consent"]["status"] == "unsubscribed"


def test_case_variants_are_one_lead_and_a_replayed_form_changes_nothing(client):
    page = results_page(client)
    opt_in(client, page, "Foo@Example.com")
    opt_in(client, page, "Foo@Example.com")  # the same form again
    opt_in(client, results_page(client), "foo@example.com")
    assert [lead["email"] for lead in stored(client, "leads")] == ["foo@example.com"]
    assert len(stored(client, "consent")) == 2  # the replay added no evidence
    assert len(mails(client)) == 2


def test_without_the_box_ticked_the_lead_gets_results_only(client):
    opt_in(client, results_page(client), consent=False)
    (lead,) = stored(client, "leads")
    assert lead["consent"]["status"] == "none"
    (evidence,) = stored(client, "consent")
    assert evidence["checkbox"] is False
    (message,) = mails(client)
    assert link(message, "confirm") is None and "List-Unsubscribe" not in message


def test_an_unticked_box_later_does_not_undo_a_subscription(client):
    opt_in(client, results_page(client))
    client.post(link(mails(client)[0], "confirm"))
    opt_in(client, results_page(client), consent=False)
    assert stored(client, "leads")[0]["consent"]["status"] == "subscribed"


def test_single_opt_in_quizzes_subscribe_at_once(tmp_path):
    with make_client(tmp_path, double_opt_in=False) as client:
        response = opt_in(client, results_page(client))
        assert "on their way" in response.text
        assert stored(client, "leads")[0]["consent"]["status"] == "subscribed"
        (message,) = mails(client)
        assert link(message, "confirm") is None and link(message, "unsubscribe")


def test_results_can_wait_for_the_form_and_skipping_shows_them(tmp_path):
    with make_client(tmp_path, placement="before_results") as client:
        page = results_page(client)
        assert page.text("quiz-title") == "Where should we send your results?"
        assert not page.text("quiz-product-title")
        skipped = client.post("/q/serum/optin", data={"t": page.value("t"), "action": "skip"}, headers=HTMX)
        assert Page(skipped.text).text("quiz-product-title")
        assert not stored(client, "leads")


def test_a_required_form_cannot_be_skipped(tmp_path):
    with make_client(tmp_path, placement="before_results", required=True) as client:
        page = results_page(client)
        assert "No thanks, show my results" not in page.buttons
        skipped = Page(client.post("/q/serum/optin", data={"t": page.value("t"), "action": "skip"}).text)
        assert not skipped.text("quiz-product-title")
        sent = Page(opt_in(client, page, consent=False).text)
        assert sent.text("quiz-product-title") and sent.text("quiz-optin-sent")


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("", "Please enter your email address."),
        ("not-an-address", "should look like name@example.com"),
        ("a@b", "should look like name@example.com"),
        ("x" * 10_000 + "@example.com", "should look like name@example.com"),
        ("a@example.com\r\nBcc: victim@example.org", "should look like name@example.com"),
        ("a@example.com\nSubject: hi", "should look like name@example.com"),
        ("<script>@example.com", "should look like name@example.com"),
    ],
)
def test_bad_addresses_get_a_sentence_and_nothing_is_kept(client, address, message):
    response = opt_in(client, results_page(client), address)
    assert response.status_code == 422
    page = Page(response.text)
    assert message in page.text("quiz-error")
    assert page.value("email") == address[: optin.FORM_FIELDS_MAX_CHARS]
    assert next(field for field in page.inputs if field.get("name") == "consent").get("checked") is not None
    assert not stored(client, "leads") and not stored(client, "consent") and not mails(client)


def test_bots_are_dropped_without_a_sign(client, monkeypatch):
    honeypot = opt_in(client, results_page(client), website="https://spam.example")
    assert honeypot.status_code == 200 and Page(honeypot.text).text("quiz-optin-sent")
    monkeypatch.setattr(optin, "MIN_SECONDS_ON_FORM", 60)
    too_fast = opt_in(client, results_page(client))
    assert too_fast.status_code == 200 and Page(too_fast.text).text("quiz-optin-sent")
    assert not stored(client, "leads") and not mails(client)


def test_what_looks_like_a_bot_does_not_open_a_required_gate(tmp_path):
    with make_client(tmp_path, placement="before_results", required=True) as client:
        page = results_page(client)
        dropped = Page(opt_in(client, page, "", website="https://spam.example").text)
        assert not dropped.text("quiz-product-title") and page.text("quiz-title") == dropped.text("quiz-title")
        assert not stored(client, "leads")


def test_too_many_opt_ins_from_one_client_get_429(client):
    page = results_page(client)
    statuses = [opt_in(client, page, f"shopper{index}@example.com").status_code for index in range(12)]
    assert statuses[:10] == [200] * 10 and statuses[10:] == [429, 429]
    assert "Too many tries" in Page(opt_in(client, page).text).text("quiz-error")
    assert len(stored(client, "leads")) == 10


def test_one_address_gets_at_most_three_emails_a_day(client):
    for _ in range(5):
        opt_in(client, results_page(client), "target@example.com")
    assert len(mails(client)) == 3


def test_the_address_limit_is_a_day_long():
    from quiz.leads.channel import OptInLimits
    from quiz.web.limits import RateLimiter

    moment = [0.0]
    limits = OptInLimits(lambda name, limit: RateLimiter(limit, clock=lambda: moment[0]))
    assert [limits.per_address.allow("a@example.com") for _ in range(4)] == [True, True, True, False]
    moment[0] = 23 * 3600.0
    assert not limits.per_address.allow("a@example.com")
    moment[0] = 24 * 3600.0 + 1
    assert limits.per_address.allow("a@example.com")


@pytest.mark.parametrize("tamper", ["forged", "other-salt", "truncated"])
def test_forged_confirmation_links_change_nothing(client, tamper):
    opt_in(client, results_page(client))
    confirm = link(mails(client)[0], "confirm")
    assert client.get(confirm.replace("/confirm/", "/unsubscribe/")).status_code == 400  # salts keep kinds apart
    token = confirm.split("?")[0].rsplit("/", 1)[1]  # the ?quiz= after it names the look only
    if tamper == "forged":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    elif tamper == "other-salt":
        token = services_of(client.app).links.unsubscribe_token(stored(client, "leads")[0]["id"])
    else:
        token = token[:20]
    assert client.post(f"/confirm/{token}").status_code == 400
    assert client.get(f"/confirm/{token}").status_code == 400
    assert stored(client, "leads")[0]["consent"]["status"] == "pending"
    assert [record["action"] for record in stored(client, "consent")] == ["opt_in"]


def test_an_expired_confirmation_link_changes_nothing(client, monkeypatch):
    opt_in(client, results_page(client))
    confirm = link(mails(client)[0], "confirm")
    real_time = __import__("time").time
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: real_time() + 8 * 24 * 3600)
    response = client.post(confirm)
    assert response.status_code == 400 and "does not work" in response.text
    assert stored(client, "leads")[0]["consent"]["status"] == "pending"


def test_opt_in_needs_a_completed_quiz(client):
    response = client.post("/q/serum/start", data={})
    page = Page(response.text)
    sent = client.post("/q/serum/optin", data={"t": page.value("t"), "email": "a@example.com"}, headers=HTMX)
    assert sent.status_code == 200 and not stored(client, "leads")
    forged = client.post("/q/serum/optin", data={"t": "forged", "email": "a@example.com"}, headers=HTMX)
    assert forged.status_code == 400 and "started again" in forged.text


def test_a_full_disk_shows_an_error_keeps_nothing_half_written_and_recovers(client, monkeypatch):
    page = results_page(client)
    real_replace = os.replace

    def disk_full(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(durable.os, "replace", disk_full)
    response = opt_in(client, page)
    assert response.status_code == 503
    assert "Nothing was sent" in Page(response.text).text("quiz-error")
    monkeypatch.setattr(durable.os, "replace", real_replace)
    assert not stored(client, "leads") and not mails(client)
    for folder in (services_of(client.app).settings.data_dir / "store").iterdir():
        for path in folder.glob("*.json") if folder.is_dir() else []:
            json.loads(path.read_text())  # every file still loads
    assert opt_in(client, page).status_code == 200  # the disk came back: the same form goes through
    assert len(stored(client, "leads")) == 1 and len(mails(client)) == 1


def test_an_opt_in_whose_email_cannot_be_queued_keeps_nothing_and_is_taken_when_sent_again(client, monkeypatch):
    page = results_page(client)
    queue = services_of(client.app).channel(EmailChannel).mail

    def disk_full(message, **_):
        raise OSError(28, "No space left on device")

    enqueue = queue.enqueue
    monkeypatch.setattr(queue, "enqueue", disk_full)
    response = opt_in(client, page)
    assert response.status_code == 503 and "Nothing was sent" in Page(response.text).text("quiz-error")
    monkeypatch.setattr(queue, "enqueue", enqueue)
    # One transaction: no lead, no consent row, no person without the email that goes with them.
    assert stored(client, "leads") == [] and stored(client, "consent") == [] and stored(client, "people") == []

    assert opt_in(client, page).status_code == 200  # the same form, taken now
    assert len(mails(client)) == 1
    assert len(stored(client, "leads")) == 1 and len(stored(client, "consent")) == 1
    assert opt_in(client, page).status_code == 200 and len(mails(client)) == 1  # now it is a replay


def test_forget_erases_a_person_and_only_fresh_proven_consent_brings_them_back(tmp_path):
    with make_client(tmp_path, double_opt_in=False) as client:
        opt_in(client, results_page(client), "gone@example.com")
        opt_in(client, results_page(client), "stays@example.com")
        book = services_of(client.app).channel(EmailChannel).book
        subject = book.subject("gone@example.com")
        assert len(subject["leads"]) == 1 and len(subject["consent"]) == 1 and len(subject["responses"]) == 1
        assert subject["responses"][0]["answers"] == {"skin": "dry", "fragrance": "no"}
        erased = book.forget("gone@example.com")
        assert erased == {"leads": 1, "responses": 1, "consent": 1, "people": 1}
        on_disk = "".join(path.read_text() for path in (tmp_path / "data" / "store").rglob("*.json"))
        assert "gone@example.com" not in on_disk and "stays@example.com" in on_disk
        assert book.subject("gone@example.com")["suppressed"] is True

        opt_in(client, results_page(client), "gone@example.com", consent=False)  # results only: no fresh consent
        assert not book.subject("gone@example.com")["leads"]
        opt_in(client, results_page(client), "gone@example.com")  # ticked: fresh, but must be proven
        (lead,) = book.subject("gone@example.com")["leads"]
        assert lead["consent"]["status"] == "pending"  # even though this quiz is single opt-in
        (confirm,) = [link(message, "confirm") for message in mails(client) if link(message, "confirm")]
        client.post(confirm)
        assert book.subject("gone@example.com")["suppressed"] is False


def test_a_quiz_without_lead_capture_ignores_an_opt_in(tmp_path):
    with make_client(tmp_path) as client:
        document = quiz_document(lead_capture=None)
        (tmp_path / "quizzes" / "plain.json").write_text(json.dumps({**document, "id": "plain"}), encoding="utf-8")
        services_of(client.app).library.recheck_seconds = 0
        page = Page(client.post("/q/plain/start", data={}).text)
        for value in ("dry", "no"):
            page = Page(client.post("/q/plain/answer", data={"t": page.value("t"), "a": value}).text)
        response = client.post("/q/plain/optin", data={"t": page.value("t"), "email": "a@example.com"}, headers=HTMX)
        assert response.status_code == 200 and not stored(client, "leads")


def test_a_person_who_fixes_a_typo_quickly_is_not_taken_for_a_bot(client):
    page = results_page(client)
    fixed = Page(opt_in(client, page, "typo@").text)
    assert fixed.value("t") == page.value("t")  # the time the results were first shown still counts


def test_the_email_names_an_allowed_shop_not_the_page_the_request_claims(client):
    opt_in(client, results_page(client, page="https://evil.example/x"))
    text = mails(client)[0].get_body(("plain",)).get_content()
    assert "evil.example" not in text and "https://shop.example" in text


def test_addresses_mail_servers_cannot_take_are_refused(client):
    assert opt_in(client, results_page(client), "ü@example.com").status_code == 422


def test_a_full_disk_on_the_email_links_is_a_page_not_a_500(client, monkeypatch):
    opt_in(client, results_page(client))
    message = mails(client)[0]

    def disk_full(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(durable.os, "replace", disk_full)
    assert client.post(link(message, "confirm")).status_code == 503
    assert client.get(link(message, "unsubscribe")).status_code == 503
    monkeypatch.undo()
    assert client.post(link(message, "confirm")).status_code == 200


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("Foo@Example.com", "foo@example.com"),
        ("a@shop.example", "a@shop.example"),  # the documentation names are accepted
        ("Foo@Example.TEST", None),  # special-use names no mail can reach are refused
        ("a@x.local", None),
        ("a@localhost", None),
        ("a@x.invalid", None),
        ("a@x.onion", None),
        ("a@1.in-addr.arpa", None),
    ],
)
def test_which_addresses_are_kept_and_which_refused(typed, kept):
    from quiz.leads.records import EmailError, normalize_email

    if kept is None:
        with pytest.raises(EmailError):
            normalize_email(typed)
    else:
        assert normalize_email(typed) == kept


def test_an_edited_consent_text_is_a_new_version_even_under_the_old_label():
    from factory import make_quiz

    from quiz.consent import consent_text

    def shown(text, locale="en"):
        capture = {"channels": ["email"], "consent": {"text": text, "version": "v1"}}
        quiz = make_quiz(locale="en", locales=["en", "ja"], lead_capture=capture)
        return consent_text(quiz, locale)

    first, edited = shown("Email me offers."), shown("Email me offers and share my address with partners.")
    assert first.version.startswith("v1+") and edited.version.startswith("v1+") and first.version != edited.version
    per_locale = {"en": "Email me offers.", "ja": "お得な情報をメールで受け取る"}
    japanese, fallback = shown(per_locale, "ja-JP"), shown(per_locale, "fr")
    assert (japanese.locale, japanese.text) == ("ja", per_locale["ja"])
    assert (fallback.locale, fallback.version) == ("en", first.version)  # the text shown, in the language shown
    unlabelled = make_quiz(lead_capture={"channels": ["email"], "consent": {"text": "Email me offers."}})
    assert consent_text(unlabelled, "en").version == first.version.removeprefix("v1+")
