"""The marketer's dashboard over HTTP, on the embedded store and on PostgreSQL: the door, the numbers, the leads.

Shoppers play the test quiz through the real handlers; the dashboard's numbers are checked against
what they did. Browser behaviour (htmx, axe) is in tests/test_browser_dashboard.py.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re

import pytest
from factory import quiz_document
from html_page import Page
from starlette.testclient import TestClient
from test_optin import capture

from quiz.app import create_app
from quiz.leads import optin
from quiz.marketer import sessions
from quiz.settings import from_environment
from quiz.web.services import services_of

PASSWORD = "correct horse battery staple"
USERS = {"owner@example.com": "owner", "marketer@example.com": "marketer", "viewer@example.com": "viewer"}
PAGES = ["/admin", "/admin/dropoff", "/admin/answers", "/admin/recommendations", "/admin/traffic"]
LEAD_PAGES = ["/admin/leads", "/admin/leads/download"]
SHOP = "https://shop.example/p/1"
HTMX = {"HX-Request": "true"}


@pytest.fixture(params=["tiny", "postgres"])
def client(request, tmp_path, monkeypatch):
    monkeypatch.setattr(optin, "MIN_SECONDS_ON_FORM", 0)
    quizzes = tmp_path / "quizzes"
    quizzes.mkdir()
    document = quiz_document(embed={"allowed_origins": ["https://shop.example"]}, lead_capture=capture())
    (quizzes / "serum.json").write_text(json.dumps(document), encoding="utf-8")
    environ = {"QUIZ_DATA_DIR": str(tmp_path / "data"), "QUIZ_TIME_ZONE": "Asia/Tokyo"}
    if request.param == "postgres":
        environ |= {"QUIZ_STORE_URL": request.getfixturevalue("postgres_database"), "QUIZ_SECRET_KEYS": "k" * 32}
    app = create_app(from_environment(environ, quizzes_dir=str(quizzes)))
    with TestClient(app, base_url="http://quiz.test") as opened:
        for email, role in USERS.items():
            app.state.dashboard.users.add(email, role, PASSWORD)
        yield opened


def sign_in(client, email="owner@example.com", password=PASSWORD, **headers):
    form = Page(client.get("/admin/login", headers=headers).text)
    data = {"email": email, "password": password, "csrf": form.value("csrf"), "next": "/admin"}
    return client.post("/admin/login", data=data, headers=headers, follow_redirects=False)


def play(client, skin="dry", fragrance="no", *, campaign="", email=""):
    page_url = SHOP + (f"?utm_source={campaign}" if campaign else "")
    client.get("/q/serum", params={"page": page_url})
    page = Page(client.post("/q/serum/start", data={"page": page_url}).text)
    for value in (skin, fragrance):
        page = Page(client.post("/q/serum/answer", data={"t": page.value("t"), "a": value, "action": "next"}).text)
    if email:
        data = {"t": page.value("t"), "email": email, "consent": "yes", "action": "send"}
        client.post("/q/serum/optin", data=data, headers=HTMX)
    return page


def counted(client):
    found = services_of(client.app)
    found.store.flush()
    found.tally.flush()


def csrf_of(client, path="/admin"):
    return Page(client.get(path).text).value("csrf")


def test_nothing_answers_without_a_session(client):
    for path in [*PAGES, *LEAD_PAGES, "/admin/leads/0123456789abcdef0123456789abcdef"]:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/admin/login?next=")
        fragment = client.get(path, headers=HTMX, follow_redirects=False)
        assert fragment.status_code == 401 and fragment.headers["HX-Redirect"] == "/admin/login"
    for path in ["/admin/logout", "/admin/leads/0123456789abcdef0123456789abcdef/erase"]:
        assert client.post(path, data={"csrf": "x"}, follow_redirects=False).status_code == 303


def test_sign_in_leads_to_the_page_asked_for_only_on_this_dashboard(client):
    form = Page(client.get("/admin/login?next=/admin/traffic%3Fby%3Dlocale").text)
    assert form.value("next") == "/admin/traffic?by=locale"
    data = {"email": "viewer@example.com", "password": PASSWORD, "csrf": form.value("csrf"), "next": form.value("next")}
    response = client.post("/admin/login", data=data, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/admin/traffic?by=locale"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/admin" in cookie
    for elsewhere in ["https://evil.example/admin", "//evil.example", "/q/serum"]:
        client.cookies.clear()
        form = Page(client.get("/admin/login", params={"next": elsewhere}).text)
        assert form.value("next") == "/admin"


def test_a_wrong_password_says_so_and_repeated_it_is_limited_per_account(client):
    response = sign_in(client, password="not the password at all")
    assert response.status_code == 401 and "do not match a user" in response.text
    for spelled in ("Owner@example.com", "OWNER@EXAMPLE.COM", " owner@Example.com", "owner@example.COM"):
        sign_in(client, spelled, password="not the password at all")  # one account however it is typed
    limited = sign_in(client)  # even the right password waits: the account is being guessed
    assert limited.status_code == 429 and "Too many sign-in attempts for this account" in limited.text
    assert sign_in(client, "marketer@example.com").status_code == 303  # another account is not held up


def test_one_client_trying_many_accounts_is_limited(client):
    for number in range(20):
        sign_in(client, f"nobody{number}@example.com")
    limited = sign_in(client, "viewer@example.com")
    assert limited.status_code == 429 and "from this address" in limited.text


def test_posts_without_the_right_csrf_token_are_refused_and_change_nothing(client):
    form = Page(client.get("/admin/login").text)
    data = {"email": "owner@example.com", "password": PASSWORD, "next": "/admin"}
    assert client.post("/admin/login", data=data).status_code == 403
    assert client.post("/admin/login", data={**data, "csrf": "forged"}).status_code == 403
    client.cookies.clear()
    assert client.post("/admin/login", data={**data, "csrf": form.value("csrf")}).status_code == 403  # no cookie
    play(client, email="shopper@example.com")
    assert sign_in(client).status_code == 303
    (lead,) = list(services_of(client.app).store.records("leads"))
    for forged in ({}, {"csrf": "forged"}):
        assert client.post(f"/admin/leads/{lead['id']}/erase", data=forged).status_code == 403
        assert client.post("/admin/logout", data=forged).status_code == 403
    assert services_of(client.app).store.get("leads", lead["id"]) is not None
    assert client.get("/admin").status_code == 200  # still signed in


def test_a_viewer_sees_aggregates_and_no_lead_page_exists_for_them(client):
    play(client, email="shopper@example.com")
    (lead,) = list(services_of(client.app).store.records("leads"))
    sign_in(client, "viewer@example.com")
    for path in PAGES:
        assert client.get(path).status_code == 200
    for path in [*LEAD_PAGES, f"/admin/leads/{lead['id']}", f"/admin/leads/{lead['id']}/erase"]:
        assert client.get(path).status_code == 404
    assert "/admin/leads" not in client.get("/admin").text  # not even in the navigation


def test_a_marketer_reads_leads_but_cannot_erase(client):
    play(client, email="shopper@example.com")
    (lead,) = list(services_of(client.app).store.records("leads"))
    sign_in(client, "marketer@example.com")
    assert "shopper@example.com" in client.get(f"/admin/leads/{lead['id']}").text
    assert client.get(f"/admin/leads/{lead['id']}/erase").status_code == 404
    assert client.post(f"/admin/leads/{lead['id']}/erase", data={"csrf": csrf_of(client)}).status_code == 404


def test_an_idle_or_old_session_ends(client, monkeypatch):
    sign_in(client)
    assert client.get("/admin").status_code == 200
    monkeypatch.setattr(sessions, "IDLE_SECONDS", -1)
    assert client.get("/admin", follow_redirects=False).status_code == 303
    monkeypatch.setattr(sessions, "IDLE_SECONDS", 3600)
    sign_in(client)
    monkeypatch.setattr(sessions, "MAX_SECONDS", -1)
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_signing_out_ends_the_session_on_the_server_and_removing_a_user_ends_theirs(client):
    sign_in(client)
    cookie = client.cookies.get("quiz_admin")
    assert client.post("/admin/logout", data={"csrf": csrf_of(client)}, follow_redirects=False).status_code == 303
    client.cookies.set("quiz_admin", cookie, path="/admin")  # the old cookie, kept by someone
    assert client.get("/admin", follow_redirects=False).status_code == 303
    sign_in(client, "viewer@example.com")
    users = client.app.state.dashboard.users
    users.remove("viewer@example.com")
    assert client.get("/admin", follow_redirects=False).status_code == 303
    users.add("viewer@example.com", "owner", PASSWORD)  # the address again, another person perhaps
    assert client.get("/admin", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("range=forever", "range: 'forever' is not a range"),
        ("range=custom&since=2026-13-01&until=2026-12-01", "since: '2026-13-01' is not a day"),
        ("range=custom&since=2026-12-01", "until: missing"),
        ("range=custom&since=2026-12-02&until=2026-12-01", "until: 2026-12-01 is before 2026-12-02"),
        ("range=custom&since=2024-01-01&until=2026-01-01", "a range is at most 366 days"),
        ("quiz=%3Cscript%3E", "quiz: no quiz '<script>'"),
        ("quiz=" + "x" * 400, "quiz: longer than 300 characters"),
        ("range=custom&since=2026-12-01T00:00&until=2026-12-01", "is not a day"),
        ("range=custom&since=0001-01-01&until=0001-01-01", "since: 0001-01-01 is out of range"),
        ("range=custom&since=9999-12-31&until=9999-12-31", "since: 9999-12-31 is out of range"),
        ("quiz=serum%00", "quiz: holds a control character"),
    ],
)
def test_a_hostile_range_or_filter_gets_a_400_that_says_what(client, query, said):
    sign_in(client)
    for path in PAGES:
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400 and said in html.unescape(response.text), path
        assert "'<script>'" not in response.text  # shown as text, never as markup


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/admin/traffic?by=password", "by: 'password' is not one of"),
        ("/admin/leads?consent=maybe", "consent: 'maybe' is not a consent filter"),
        ("/admin/leads?since=yesterday", "since: 'yesterday' is not a date"),
        ("/admin/leads?page=0", "page: '0' is not a page number"),
        ("/admin/leads?page=%F0%9F%92%A5", "is not a page number"),
        ("/admin/leads/download?format=xlsx", "format: 'xlsx' is not a format"),
        ("/admin/leads?quiz=nope", "no quiz 'nope' in the library"),
        ("/admin/answers?segment=source:ad%00mail", "segment: holds a control character"),
        ("/admin/leads?locale=ja%00", "locale: holds a control character"),
        ("/admin/leads/download?since=" + "9" * 400, "since: longer than 300 characters"),
    ],
)
def test_hostile_lead_and_traffic_filters_get_a_400_that_says_what(client, path, said):
    sign_in(client)
    response = client.get(path)
    assert response.status_code == 400 and said in html.unescape(response.text)


def test_a_400_links_to_the_page_without_filters_and_htmx_swaps_it_in(client):
    sign_in(client)
    response = client.get("/admin/traffic?by=password", headers=HTMX)
    assert response.status_code == 400 and response.text.startswith('<div id="admin-content">')
    assert 'href="/admin/traffic">This page without filters' in response.text
    assert '<p id="admin-status" hx-swap-oob="innerHTML">This filter cannot be used' in response.text


def test_a_shop_page_with_control_characters_in_its_address_is_counted_cleaned(client):
    hostile = SHOP + "?utm_source=ad%00mail&utm_campaign=%ED%A0%80sale"
    client.get("/q/serum", params={"page": hostile + "\x00"})
    page = Page(client.post("/q/serum/start", data={"page": hostile, "utm_medium": "e\x00mail"}).text)
    for value in ("dry", "no"):
        page = Page(client.post("/q/serum/answer", data={"t": page.value("t"), "a": value, "action": "next"}).text)
    counted(client)
    assert services_of(client.app).tally._pending == {}  # all written, PostgreSQL too
    sign_in(client)
    by_source = client.get("/admin/traffic?range=today&by=source").text
    assert 'data-value="ad mail"' in by_source
    by_medium = client.get("/admin/traffic?range=today&by=medium").text
    assert 'data-value="e mail"' in by_medium
    assert funnel_row(client.get("/admin?range=today").text, "completed") == 1


def test_events_name_the_quiz_s_locale_the_shopper_reads(client):
    client.post("/q/serum/start", data={"page": SHOP, "locale": "EN-gb"}, headers={"Accept-Language": "de"})
    services_of(client.app).store.flush()
    (started,) = services_of(client.app).store.find("events", kind="started")
    assert started["locale"] == "en"


def test_the_download_links_keep_every_quiz_asked_for(client):
    sign_in(client)
    table = client.get("/admin/leads?quiz=serum&quiz=serum&consent=any").text
    assert "/admin/leads/download?quiz=serum&amp;quiz=serum&amp;consent=any&amp;format=csv" in table


@pytest.mark.parametrize("client", ["tiny"], indirect=True)  # with PostgreSQL the trail is in the store itself
def test_an_erasure_the_audit_trail_cannot_record_does_not_happen(client):
    play(client, email="first@example.com")
    sign_in(client)
    store, data_dir = services_of(client.app).store, services_of(client.app).settings.data_dir
    (lead,) = list(store.records("leads"))
    (data_dir / "audit.log").unlink()
    (data_dir / "audit.log").mkdir()  # cannot be appended to, as on a full or read-only disk
    response = client.post(f"/admin/leads/{lead['id']}/erase", data={"csrf": csrf_of(client)})
    assert response.status_code == 503 and "Traceback" not in response.text
    assert store.get("leads", lead["id"]) is not None


def test_unknown_or_malformed_person_ids_are_404(client):
    sign_in(client)
    for key in ["0" * 32, "U" + "0" * 32, "..%2F..%2Fetc", "x" * 200]:
        assert client.get(f"/admin/leads/{key}").status_code == 404


def funnel_row(page_text, stage):
    match = re.search(rf'data-stage="{re.escape(stage)}"><th scope="row">[^<]*</th><td[^>]*>([\d,]+)<', page_text)
    assert match, stage
    return int(match.group(1).replace(",", ""))


def test_the_numbers_are_what_the_shoppers_did(client):
    play(client, "dry", "no", campaign="instagram", email="first@example.com")
    play(client, "dry", "yes", campaign="instagram")
    play(client, "oily", "no")
    client.get("/q/serum")  # a view that never starts
    counted(client)
    sign_in(client)
    funnel = client.get("/admin?range=today").text
    assert [funnel_row(funnel, stage) for stage in ("viewed", "started", "completed", "opted_in:email", "clicked")] == [
        4,
        3,
        3,
        1,
        0,
    ]
    assert "100.0%" in funnel and "75.0%" in funnel  # completions per start, starts per view
    answers = client.get("/admin/answers?range=today").text
    assert re.search(r"Dry</th><td[^>]*>2</td><td[^>]*>66.7%", answers)
    segment = client.get("/admin/answers", params={"range": "today", "segment": "source:instagram"}).text
    assert re.search(r"Dry</th><td[^>]*>2</td><td[^>]*>100.0%", segment)
    traffic = client.get("/admin/traffic?range=today&by=source").text
    assert re.search(r'data-value="instagram">.*?<td[^>]*>2</td><td[^>]*>2</td><td[^>]*>2</td><td[^>]*>1</td>', traffic)
    drop = client.get("/admin/dropoff?range=today").text
    assert re.search(r'data-question="skin"><th scope="row">Your skin\?</th><td[^>]*>3</td><td[^>]*>3</td>', drop)
    shown = client.get("/admin/recommendations?range=today").text
    assert 'data-product="rose"' in shown and "Matte gel" in shown


def test_the_leads_table_its_download_and_erasure(client):
    play(client, email="first@example.com")
    play(client, "oily", "no", email="second@example.com")
    sign_in(client)
    table = client.get("/admin/leads?consent=any").text
    assert "first@example.com" in table and "second@example.com" in table
    download = client.get("/admin/leads/download?consent=any&format=csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert sorted(row["email"] for row in rows) == ["first@example.com", "second@example.com"]
    assert "attachment" in download.headers["content-disposition"]
    store = services_of(client.app).store
    (lead,) = [lead for lead in store.records("leads") if lead["email"] == "first@example.com"]
    person = client.get(f"/admin/leads/{lead['id']}").text
    assert "opt_in" in person and "Dry" in person  # the consent evidence and the answers, labelled
    confirm = client.get(f"/admin/leads/{lead['id']}/erase")
    assert "cannot be undone" in confirm.text and store.get("leads", lead["id"]) is not None
    erased = client.post(f"/admin/leads/{lead['id']}/erase", data={"csrf": Page(confirm.text).value("csrf")})
    assert erased.status_code == 200 and "The person was erased" in erased.text
    assert (
        store.get("leads", lead["id"]) is None
        and "first@example.com" not in client.get("/admin/leads?consent=any").text
    )


def test_sign_ins_downloads_and_erasures_are_in_the_audit_trail(client):
    play(client, email="first@example.com")
    sign_in(client, password="wrong password here")
    sign_in(client)
    client.get("/admin/leads/download?consent=any")
    (lead,) = list(services_of(client.app).store.records("leads"))
    client.post(f"/admin/leads/{lead['id']}/erase", data={"csrf": csrf_of(client)})
    client.post("/admin/logout", data={"csrf": csrf_of(client)})
    store, data_dir = services_of(client.app).store, services_of(client.app).settings.data_dir
    if store.shared:
        entries = list(store.records("audit"))
    else:
        entries = [json.loads(line) for line in (data_dir / "audit.log").read_text(encoding="utf-8").splitlines()]
    assert [entry["action"] for entry in entries] == ["sign_in_failed", "sign_in", "export", "erasure", "sign_out"]
    assert {entry["who"] for entry in entries} == {"dashboard:owner@example.com"}
    assert "first@example.com" not in json.dumps(entries)  # the erasure's record names no one it erased


def test_the_dashboard_speaks_japanese_to_a_japanese_browser(client):
    japanese = {"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.5"}
    assert "ログイン" in client.get("/admin/login", headers=japanese).text
    sign_in(client, **japanese)
    page = client.get("/admin", headers=japanese).text
    assert 'lang="ja"' in page and "ファネル" in page and "完了" in page


def test_htmx_gets_the_content_alone_and_every_page_is_never_framed_cached_or_indexed(client):
    sign_in(client)
    fragment = client.get("/admin/traffic?by=locale", headers=HTMX).text
    assert fragment.startswith('<div id="admin-content">') and "<html" not in fragment
    restored = client.get("/admin/traffic", headers={**HTMX, "HX-History-Restore-Request": "true"}).text
    assert "<html" in restored  # the back button after a swap gets the whole page
    for path in [*PAGES, "/admin/leads", "/admin/login"]:
        headers = client.get(path).headers
        assert headers["cache-control"] == "no-store" and headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["content-security-policy"] and "noindex" in headers["x-robots-tag"]


def test_a_table_shows_the_biggest_500_rows_and_adds_the_rest_up_as_other():
    from quiz.marketer import reports
    from quiz.web.tally import OTHER

    pages = {f"https://shop.example/{n}": {"viewed": n, "completed": 1} for n in range(1, 601)}
    pages[OTHER] = {"viewed": 1000, "completed": 5}  # what the days themselves could not keep
    rows = reports.traffic({"traffic": {"page": pages}}, "page")
    assert len(rows) == reports.MAX_ROWS and rows[-1].value == OTHER
    assert rows[0].value == "https://shop.example/600"
    assert rows[-1].counts["viewed"] == 1000 + sum(range(1, 102)) and rows[-1].counts["completed"] == 5 + 101
    assert sum(row.counts["completed"] for row in rows) == 605
