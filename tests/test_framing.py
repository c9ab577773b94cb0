"""A shop page on an origin the quiz does not allow: the server's log and the shop's console say what to change."""

from __future__ import annotations

import json
import logging
import time

import pytest
from factory import quiz_document
from starlette.testclient import TestClient

from quiz.app import create_app
from quiz.settings import from_environment
from quiz.web.framing import FramingWatch

FRAME = {"Sec-Fetch-Dest": "iframe", "Sec-Fetch-Site": "cross-site"}


@pytest.fixture
def client(tmp_path):
    quizzes = tmp_path / "quizzes"
    quizzes.mkdir()
    (quizzes / "serum.json").write_text(json.dumps(quiz_document(embed={"allowed_origins": ["https://shop.example"]})))
    settings = from_environment({"QUIZ_DATA_DIR": str(tmp_path / "data")}, quizzes_dir=str(quizzes))
    return TestClient(create_app(settings))


def warnings(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "quiz.web.framing"]


def test_a_frame_on_another_site_is_logged_once_with_the_file_and_the_setting(client, caplog, tmp_path):
    caplog.set_level(logging.WARNING, logger="quiz.web.framing")
    for _ in range(3):
        response = client.get("/q/serum", headers={**FRAME, "Referer": "https://other-shop.example/"})
        assert response.status_code == 200  # the browser, not the server, refuses it (frame-ancestors)
    (told,) = warnings(caplog)
    assert "quiz 'serum' was framed by a page on https://other-shop.example" in told
    setting = 'Add "https://other-shop.example" to "embed": {"allowed_origins": [...]}'
    assert f"{setting} in {tmp_path}/quizzes/serum.json" in told
    assert "QUIZ_EMBED_ORIGINS" in told
    client.get("/q/serum", headers={**FRAME, "Referer": "http://localhost:5173/preview"})
    assert len(warnings(caplog)) == 2  # another origin is news


@pytest.mark.parametrize(
    "headers",
    [
        {**FRAME, "Referer": "https://shop.example/products/x"},  # allowed
        {"Referer": "https://other-shop.example/"},  # a link followed, not a frame
        {"Sec-Fetch-Dest": "iframe", "Sec-Fetch-Site": "same-origin", "Referer": "http://testserver/"},
        FRAME,  # nobody to name
    ],
)
def test_frames_the_browser_allows_or_cannot_name_are_not_logged(client, caplog, headers):
    caplog.set_level(logging.WARNING, logger="quiz.web.framing")
    assert client.get("/q/serum", headers=headers).status_code == 200
    assert warnings(caplog) == []


def test_without_a_referer_the_loaders_page_names_the_site(client, caplog):
    caplog.set_level(logging.WARNING, logger="quiz.web.framing")
    client.get("/q/serum", params={"page": "https://widget-user.example/p/1"}, headers=FRAME)
    assert "https://widget-user.example" in warnings(caplog)[0]


@pytest.mark.parametrize(
    "referer",
    ["https://evil.example\r\nFAKE LOG LINE", "http://[::1", "javascript:alert(1)", "https://a_b.example/",
     "x" * 10_000, "https://ex ample.com/", "http://%0a.example/", "https://shop.example:99999/"],
)  # fmt: skip
def test_hostile_referers_never_reach_the_log_as_written(client, caplog, referer):
    caplog.set_level(logging.WARNING, logger="quiz.web.framing")
    try:
        response = client.get("/q/serum", headers={**FRAME, "Referer": referer})
    except Exception as error:  # httpx itself refuses a header with a line break: nothing reaches us
        assert "\n" in referer, error
        return
    assert response.status_code == 200
    assert all("\n" not in line and "FAKE" not in line and "%" not in line for line in warnings(caplog))


def test_an_hour_later_the_same_origin_is_told_again(caplog):
    caplog.set_level(logging.WARNING, logger="quiz.web.framing")
    now = [0.0]
    watch = FramingWatch(clock=lambda: now[0])
    request = _framed_request("https://elsewhere.example/")
    watch.note(request, "serum", None, ["https://shop.example"])
    now[0] = 3599.0
    watch.note(request, "serum", None, ["https://shop.example"])
    now[0] = 3600.0
    watch.note(request, "serum", None, ["https://shop.example"])
    assert len(warnings(caplog)) == 2


def test_made_up_origins_cannot_grow_the_memory_without_bound():
    watch = FramingWatch()
    for index in range(5000):
        watch.note(_framed_request(f"https://s{index}.example/"), "serum", None, [])
    assert len(watch._told) <= 1000


def _framed_request(referer: str):
    from starlette.requests import Request

    headers = [(b"sec-fetch-dest", b"iframe"), (b"referer", referer.encode())]
    return Request({"type": "http", "method": "GET", "path": "/q/serum", "query_string": b"", "headers": headers})


def test_the_shops_console_says_which_setting_to_change(servers, page, caplog):
    pytest.importorskip("playwright.sync_api")
    caplog.set_level(logging.WARNING, logger="quiz.web.framing")
    _, shop_origin, _ = servers
    # The demo shop again, on 127.0.0.1 instead of localhost: an origin the test's quiz server does not allow.
    elsewhere = shop_origin.replace("localhost", "127.0.0.1")
    said = []
    page.on("console", lambda message: said.append(message.text))
    page.goto(f"{elsewhere}/quizzes/coffee-finder")
    deadline = time.monotonic() + 10
    while not any("quiz widget" in line for line in said) and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    (advice,) = [line for line in said if line.startswith("quiz widget")]
    assert f"add {elsewhere} to embed.allowed_origins in its file" in advice
    assert any(f"framed by a page on {elsewhere}" in line for line in warnings(caplog))  # and the server's log


def test_allowed_origins_match_however_they_are_written():
    watch = FramingWatch()
    for referer in ("https://SHOP.example/p", "https://shop.example:443/p"):
        watch.note(_framed_request(referer), "serum", None, ["https://Shop.Example"])
    assert watch._told == {}


def test_made_up_origins_cannot_flood_the_log(caplog):
    caplog.set_level(logging.WARNING, logger="quiz.web.framing")
    watch = FramingWatch()
    for index in range(100):
        watch.note(_framed_request(f"https://s{index}.example/"), "serum", None, [])
    assert len(warnings(caplog)) == 10
