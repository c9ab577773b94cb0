"""Settings from the environment: defaults, a generated key kept across restarts, clear errors."""

import pytest

from quiz.settings import DECLARED, SettingsError, from_environment


def test_without_any_variable_a_key_is_generated_once_and_kept(tmp_path):
    first = from_environment({"QUIZ_DATA_DIR": str(tmp_path)})
    second = from_environment({"QUIZ_DATA_DIR": str(tmp_path)})
    assert first.generated_key and first.secret_keys == second.secret_keys
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_keys_rotate_oldest_first(tmp_path):
    settings = from_environment({"QUIZ_SECRET_KEYS": "old, new", "QUIZ_DATA_DIR": str(tmp_path)})
    assert settings.secret_keys == ("old", "new")
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(("name", "value"), [("PORT", "eighty"), ("PORT", "70000"), ("PROGRESS_MAX_AGE", "1")])
def test_bad_values_name_the_variable(tmp_path, name, value):
    with pytest.raises(SettingsError, match=f"QUIZ_{name}"):
        from_environment({f"QUIZ_{name}": value, "QUIZ_SECRET_KEYS": "k", "QUIZ_DATA_DIR": str(tmp_path)})


def test_every_setting_is_documented_in_the_readme():
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    for setting in DECLARED:
        assert f"`QUIZ_{setting.name}`" in readme


def test_embed_origins_are_checked_one_by_one(tmp_path):
    environ = {"QUIZ_SECRET_KEYS": "k", "QUIZ_DATA_DIR": str(tmp_path)}
    settings = from_environment({**environ, "QUIZ_EMBED_ORIGINS": "https://a.example, http://localhost:8001"})
    assert settings.embed_origins == ("https://a.example", "http://localhost:8001")
    with pytest.raises(SettingsError, match=r"QUIZ_EMBED_ORIGINS: 'https://a.example/shop' is not an origin"):
        from_environment({**environ, "QUIZ_EMBED_ORIGINS": "https://a.example/shop"})


LINE = {
    "QUIZ_LINE_CHANNEL_SECRET": "bot-secret",
    "QUIZ_LINE_CHANNEL_ACCESS_TOKEN": "bot-token",
    "QUIZ_LINE_ADD_FRIEND_URL": "https://line.me/R/ti/p/@123abcde",
}


def test_line_is_off_until_the_messaging_channel_is_set_and_login_is_optional(tmp_path):
    environ = {"QUIZ_SECRET_KEYS": "k", "QUIZ_DATA_DIR": str(tmp_path)}
    assert from_environment(environ).line is None
    line = from_environment({**environ, **LINE}).line
    assert line is not None and line.login is None and line.api_url == "https://api.line.me"
    both = from_environment(
        {
            **environ,
            **LINE,
            "QUIZ_LINE_LOGIN_CHANNEL_ID": "1234567890",
            "QUIZ_LINE_LOGIN_CHANNEL_SECRET": "login-secret",
            "QUIZ_LINE_API_URL": "http://127.0.0.1:9001/",
        }
    ).line
    assert both is not None and both.login is not None and both.login.channel_id == "1234567890"
    assert both.api_url == "http://127.0.0.1:9001"
    assert "bot-secret" not in repr(both) and "login-secret" not in repr(both) and "bot-token" not in repr(both)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"QUIZ_LINE_CHANNEL_ACCESS_TOKEN": ""}, "QUIZ_LINE_CHANNEL_SECRET and QUIZ_LINE_CHANNEL_ACCESS_TOKEN"),
        ({"QUIZ_LINE_ADD_FRIEND_URL": ""}, "QUIZ_LINE_ADD_FRIEND_URL"),
        ({"QUIZ_LINE_ADD_FRIEND_URL": "javascript:alert(1)"}, "QUIZ_LINE_ADD_FRIEND_URL"),
        ({"QUIZ_LINE_LOGIN_CHANNEL_ID": "abc", "QUIZ_LINE_LOGIN_CHANNEL_SECRET": "s"}, "QUIZ_LINE_LOGIN_CHANNEL_ID"),
        ({"QUIZ_LINE_LOGIN_CHANNEL_ID": "123"}, "QUIZ_LINE_LOGIN_CHANNEL_SECRET"),
        ({"QUIZ_LINE_API_URL": "ftp://api.line.me"}, "QUIZ_LINE_API_URL"),
    ],
)
def test_bad_line_settings_name_the_variable(tmp_path, changes, named):
    with pytest.raises(SettingsError, match=named):
        from_environment({"QUIZ_SECRET_KEYS": "k", "QUIZ_DATA_DIR": str(tmp_path), **LINE, **changes})


def test_a_shared_store_needs_the_same_keys_on_every_machine(tmp_path):
    with pytest.raises(SettingsError, match="QUIZ_SECRET_KEYS must be set with QUIZ_STORE_URL"):
        from_environment({"QUIZ_STORE_URL": "postgresql://quiz@db/quiz", "QUIZ_DATA_DIR": str(tmp_path)})
    assert not (tmp_path / "secret_key").exists()  # no per-machine key was generated
    with pytest.raises(SettingsError, match="QUIZ_STORE_URL must be a postgresql:// URL"):
        from_environment({"QUIZ_STORE_URL": "mysql://db/quiz", "QUIZ_SECRET_KEYS": "k", "QUIZ_DATA_DIR": str(tmp_path)})
    settings = from_environment(
        {"QUIZ_STORE_URL": "postgresql://quiz:pw@db/quiz", "QUIZ_SECRET_KEYS": "k", "QUIZ_DATA_DIR": str(tmp_path)}
    )
    assert settings.store_url == "postgresql://quiz:pw@db/quiz" and "pw" not in repr(settings)
