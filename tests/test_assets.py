"""Static files: versioned names cached for a year, plain names briefly, compressed when asked."""

import brotli
import pytest
from starlette.testclient import TestClient

from quiz.app import create_app
from quiz.settings import Settings
from quiz.web.services import services_of


@pytest.fixture
def client(tmp_path):
    settings = Settings(quizzes_dir=tmp_path, data_dir=tmp_path, secret_keys=("k",))
    return TestClient(create_app(settings))


@pytest.fixture
def css_url(client):
    return services_of(client.app).assets.url("quiz.css")


def test_versioned_name_carries_the_content_hash_and_a_year_of_cache(client, css_url):
    assert css_url.startswith("/static/quiz.") and css_url.endswith(".css") and len(css_url) > len("/static/quiz.css")
    response = client.get(css_url)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert "--accent" in response.text


def test_plain_name_is_cached_briefly(client):
    response = client.get("/static/quiz.css")
    assert response.headers["cache-control"] == "public, max-age=300"


def test_widget_script_has_a_stable_address(client):
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert "data-quiz" in response.text


def test_brotli_preferred_then_gzip_then_none(client, css_url):
    plain = client.get(css_url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    raw = client.get(css_url, headers={"Accept-Encoding": "gzip, br"})
    assert raw.headers["content-encoding"] == "br" and raw.headers["vary"] == "Accept-Encoding"
    assert int(raw.headers["content-length"]) < len(plain.content)
    gzipped = client.get(css_url, headers={"Accept-Encoding": "gzip, br;q=0"})
    assert gzipped.headers["content-encoding"] == "gzip"
    assert gzipped.content == plain.content  # the client decodes gzip itself


def test_gzip_body_is_the_one_made_at_start_up(client, css_url):
    with client.stream("GET", css_url, headers={"Accept-Encoding": "gzip"}) as response:
        body = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert body == services_of(client.app).assets._by_name["quiz.css"].bodies["gzip"]


def test_refused_encodings_are_not_used(client, css_url):
    response = client.get(css_url, headers={"Accept-Encoding": "gzip;q=0, br;q=0"})
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"


def test_brotli_body_decodes_to_the_file(client, css_url):
    with client.stream("GET", css_url, headers={"Accept-Encoding": "br"}) as response:
        body = b"".join(response.iter_raw())
    assert brotli.decompress(body) == client.get(css_url, headers={"Accept-Encoding": "identity"}).content


def test_matching_etag_answers_304(client, css_url):
    etag = client.get(css_url, headers={"Accept-Encoding": "br"}).headers["etag"]
    response = client.get(css_url, headers={"If-None-Match": f'"other", {etag}', "Accept-Encoding": "br"})
    assert response.status_code == 304 and response.content == b""


def test_each_encoding_has_its_own_etag(client, css_url):
    tags = {client.get(css_url, headers={"Accept-Encoding": coding}).headers["etag"] for coding in ("br", "gzip", "")}
    assert len(tags) == 3
    brotli_tag = client.get(css_url, headers={"Accept-Encoding": "br"}).headers["etag"]
    assert client.get(css_url, headers={"If-None-Match": brotli_tag, "Accept-Encoding": "gzip"}).status_code == 200


@pytest.mark.parametrize(
    "path", ["/static/nothing.css", "/static/../quiz/app.py", "/static/%2e%2e/pyproject.toml", "/static/"]
)
def test_unknown_and_traversing_names_are_404(client, path):
    response = client.get(path)
    assert response.status_code == 404


def test_vendored_htmx_keeps_its_licence(client):
    assert "Zero-Clause BSD" in client.get("/static/vendor/htmx-2.0.11/LICENSE").text
