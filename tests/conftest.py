"""Fixtures shared by the test modules: a real Chromium (one per session) for the browser tests, and the
example quizzes served beside the demo shop that embeds them."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Tests import their helpers (factory, browsing, live...) as plain modules.
sys.path.insert(0, str(Path(__file__).parent))
EXAMPLES = Path(__file__).parent.parent / "quizzes"
pytest_plugins = ["postgres"]  # tests/postgres.py: the postgres_url and postgres_database fixtures


def _browsing() -> Any:
    import browsing  # imports Playwright: only when a browser test asks for a browser

    return browsing


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def cookieless(playwright, tmp_path_factory) -> Iterator[Any]:
    """A browser profile that refuses all cookies, first- and third-party."""
    profile = tmp_path_factory.mktemp("profile")
    (profile / "Default").mkdir()
    (profile / "Default" / "Preferences").write_text(json.dumps(_browsing().BLOCK_ALL_COOKIES))
    context = playwright.chromium.launch_persistent_context(str(profile), **_browsing().launch_options())
    context.route("**/*", _browsing().loopback_only)
    yield context
    context.close()


@pytest.fixture(scope="session")
def browser(playwright):
    browser = playwright.chromium.launch(**_browsing().launch_options())
    yield browser
    browser.close()


@pytest.fixture
def page(cookieless) -> Iterator[Any]:
    page = cookieless.new_page()
    yield page
    page.close()


@pytest.fixture
def scripted_off(browser) -> Iterator[Any]:
    context = browser.new_context(java_script_enabled=False)
    context.route("**/*", _browsing().loopback_only)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def servers(tmp_path_factory) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """The example quizzes on http://127.0.0.1:P1, the demo shop embedding them on http://localhost:P2."""
    from live import quiz_beside_shop

    from quiz.settings import Settings
    from quiz.web.services import services_of

    def settings_for(quiz_origin: str, shop_origin: str) -> Settings:
        data_dir = tmp_path_factory.mktemp("data")
        return Settings(
            quizzes_dir=EXAMPLES, data_dir=data_dir, secret_keys=("browser-tests",), embed_origins=(shop_origin,)
        )

    with quiz_beside_shop(settings_for) as (app, quiz_origin, shop_origin):
        yield quiz_origin, shop_origin, {quiz.id: quiz for quiz in services_of(app).library.all()}
