"""Server settings: declared once as data, read once from ``QUIZ_*`` environment variables."""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from quiz.format.schema import ORIGIN_PATTERN

log = logging.getLogger(__name__)

PREFIX = "QUIZ_"


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str


# The README's configuration table is generated from this list (see tests/test_settings.py).
DECLARED = (
    Setting("QUIZZES_DIR", "quizzes", "Folder of quiz JSON files to serve."),
    Setting("DATA_DIR", "data", "Folder for the server's own files: the embedded store, the generated secret key."),
    Setting(
        "STORE_URL",
        "",
        "A `postgresql://user:password@host:port/database` URL: the store every process and machine shares."
        " Empty: the embedded store in `DATA_DIR/store` (one server process).",
    ),
    Setting(
        "SECRET_KEYS",
        "",
        "Comma-separated signing keys, oldest first; the newest signs. Empty: one is generated in DATA_DIR.",
    ),
    Setting(
        "SUPPRESSION_KEY",
        "",
        "Key of the suppression list (people who were erased, named by a keyed HMAC of the address)."
        " Empty: the oldest of SECRET_KEYS. The server refuses to start with a key other than the one"
        " the list was made with.",
    ),
    Setting(
        "CONTROLLER",
        "",
        "The shop's legal name, the data controller: recorded in every piece of consent evidence."
        " Empty: the evidence names none.",
    ),
    Setting(
        "TIME_ZONE",
        "UTC",
        "The shop's time zone, an IANA name such as `Asia/Tokyo`: where the dashboard's days begin and end.",
    ),
    Setting("HOST", "127.0.0.1", "Address `quiz serve` listens on."),
    Setting("PORT", "8000", "Port `quiz serve` listens on."),
    Setting("PROGRESS_MAX_AGE", "7200", "Seconds a shopper's progress token stays valid."),
    Setting("MAX_BODY_BYTES", "65536", "Largest request body accepted, in bytes."),
    Setting(
        "EMBED_ORIGINS",
        "",
        "Comma-separated origins allowed to embed every quiz, besides each quiz's `embed.allowed_origins`"
        " (a staging shop; `quiz serve --demo-port` adds its demo page).",
    ),
    Setting(
        "PUBLIC_URL",
        "",
        "The server's address as shoppers reach it (`https://quiz.example.com`), for links in emails."
        " Empty: the address of the request that sent the email.",
    ),
    Setting("SMTP_HOST", "", "Mail server. Empty: emails are written as `.eml` files to `DATA_DIR/outbox`."),
    Setting("SMTP_PORT", "587", "Mail server port."),
    Setting("SMTP_TLS", "starttls", "`starttls`, `tls` (implicit, usually port 465) or `none` (loopback only)."),
    Setting("SMTP_USER", "", "Mail server login; empty: no login."),
    Setting("SMTP_PASSWORD", "", "Mail server password."),
    Setting("MAIL_FROM", "Quiz <quiz@localhost>", "The From address of every email."),
    Setting(
        "API_KEY",
        "",
        "Key for the marketer's HTTP endpoints (export, forget, subject), sent as `Authorization: Bearer KEY`."
        " Empty: those endpoints are off.",
    ),
    Setting(
        "LINE_LOGIN_CHANNEL_ID", "", "LINE Login channel ID. Empty: no LINE Login; shoppers add the OA and send a code."
    ),
    Setting("LINE_LOGIN_CHANNEL_SECRET", "", "LINE Login channel secret."),
    Setting("LINE_CHANNEL_SECRET", "", "Messaging API channel secret (checks webhook signatures). Empty: LINE is off."),
    Setting("LINE_CHANNEL_ACCESS_TOKEN", "", "Messaging API channel access token (long-lived), for push and reply."),
    Setting(
        "LINE_ADD_FRIEND_URL", "", "The official account's add-friend link, e.g. `https://line.me/R/ti/p/@123abcde`."
    ),
    Setting(
        "LINE_ACCESS_URL", "https://access.line.me", "LINE Login's authorization server (tests point it elsewhere)."
    ),
    Setting("LINE_API_URL", "https://api.line.me", "LINE's API server (tests point it elsewhere)."),
)


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int = 587
    tls: str = "starttls"  # "starttls", "tls" or "none"
    user: str = ""
    password: str = field(default="", repr=False)


@dataclass(frozen=True)
class LineLogin:
    channel_id: str
    channel_secret: str = field(repr=False)


@dataclass(frozen=True)
class Line:
    """A merchant's LINE channels: the Messaging API channel of the official account, and optionally LINE Login."""

    channel_secret: str = field(repr=False)
    access_token: str = field(repr=False)
    add_friend_url: str
    login: LineLogin | None = None
    access_url: str = "https://access.line.me"
    api_url: str = "https://api.line.me"


class SettingsError(ValueError):
    """A setting's value cannot be used; the message names the variable and the value."""


@dataclass(frozen=True)
class Settings:
    quizzes_dir: Path
    data_dir: Path
    secret_keys: tuple[str, ...]
    store_url: str = field(default="", repr=False)  # holds a password; empty: the embedded store
    suppression_key: str = field(default="", repr=False)
    controller: str = ""
    time_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    host: str = "127.0.0.1"
    port: int = 8000
    progress_max_age: int = 2 * 60 * 60  # seconds: two hours to finish a quiz
    max_body_bytes: int = 64 * 1024
    embed_origins: tuple[str, ...] = ()
    public_url: str = ""
    smtp: Smtp | None = None  # None: mail goes to the outbox folder
    mail_from: str = "Quiz <quiz@localhost>"
    api_key: str = ""
    line: Line | None = None  # None: no LINE channel configured
    generated_key: bool = field(default=False, compare=False)

    @property
    def suppression_secret(self) -> str:
        """The suppression list's key: its own setting, else the oldest signing key (it outlives rotations)."""
        return self.suppression_key or self.secret_keys[0]


def from_environment(environ: Mapping[str, str] | None = None, *, quizzes_dir: str | None = None) -> Settings:
    """Settings from ``QUIZ_*`` variables, with the declared defaults for the rest."""
    environ = os.environ if environ is None else environ
    values = {setting.name: environ.get(PREFIX + setting.name, setting.default) for setting in DECLARED}
    if quizzes_dir is not None:
        values["QUIZZES_DIR"] = quizzes_dir
    data_dir = Path(values["DATA_DIR"])
    keys = tuple(key.strip() for key in values["SECRET_KEYS"].split(",") if key.strip())
    store_url = _store_url(values["STORE_URL"])
    generated = not keys
    if generated and store_url:
        raise SettingsError(
            f"{PREFIX}SECRET_KEYS must be set with {PREFIX}STORE_URL: every process and machine sharing the"
            " store must sign progress, links and LINE logins with the same keys (a generated key is per machine)"
        )
    if generated:
        keys = (_stored_key(data_dir),)
    return Settings(
        quizzes_dir=Path(values["QUIZZES_DIR"]),
        data_dir=data_dir,
        secret_keys=keys,
        store_url=store_url,
        suppression_key=values["SUPPRESSION_KEY"].strip(),
        controller=_controller(values["CONTROLLER"]),
        time_zone=_time_zone(values["TIME_ZONE"]),
        host=values["HOST"],
        port=_integer(values, "PORT", low=1, high=65535),
        progress_max_age=_integer(values, "PROGRESS_MAX_AGE", low=60, high=30 * 24 * 60 * 60),
        max_body_bytes=_integer(values, "MAX_BODY_BYTES", low=1024, high=10 * 1024 * 1024),
        embed_origins=_origins(values, "EMBED_ORIGINS"),
        public_url=_public_url(values["PUBLIC_URL"]),
        smtp=_smtp(values),
        mail_from=values["MAIL_FROM"],
        api_key=values["API_KEY"],
        line=_line(values),
        generated_key=generated,
    )


def _integer(values: Mapping[str, str], name: str, *, low: int, high: int) -> int:
    raw = values[name]
    try:
        number = int(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be a whole number, got {raw!r}") from None
    if not low <= number <= high:
        raise SettingsError(f"{PREFIX}{name} must be between {low} and {high}, got {number}")
    return number


def _origins(values: Mapping[str, str], name: str) -> tuple[str, ...]:
    origins = tuple(origin.strip() for origin in values[name].split(",") if origin.strip())
    for origin in origins:
        if not re.fullmatch(ORIGIN_PATTERN, origin):
            raise SettingsError(
                f"{PREFIX}{name}: {origin!r} is not an origin; use one like 'https://shop.example.com'"
                " (no path, no trailing slash)"
            )
    return origins


def _controller(raw: str) -> str:
    name = " ".join(raw.split())
    if len(name) > 200 or not name.isprintable():
        raise SettingsError(f"{PREFIX}CONTROLLER must be the shop's legal name on one line, at most 200 characters")
    return name


def _time_zone(raw: str) -> ZoneInfo:
    try:
        return ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"{PREFIX}TIME_ZONE must be an IANA time zone name such as 'Asia/Tokyo' or 'UTC', got {raw!r}"
        ) from None


def _store_url(raw: str) -> str:
    url = raw.strip()
    if url and not re.match(r"^postgres(ql)?://", url):
        raise SettingsError(f"{PREFIX}STORE_URL must be a postgresql:// URL, or empty for the embedded store")
    return url


def _public_url(raw: str) -> str:
    url = raw.strip().rstrip("/")
    if url and not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?", url):
        raise SettingsError(
            f"{PREFIX}PUBLIC_URL must be an http(s) address like 'https://quiz.example.com', got {raw!r}"
        )
    return url


def _smtp(values: Mapping[str, str]) -> Smtp | None:
    host = values["SMTP_HOST"].strip()
    if not host:
        return None
    tls = values["SMTP_TLS"].strip().lower()
    if tls not in ("starttls", "tls", "none"):
        raise SettingsError(f"{PREFIX}SMTP_TLS must be starttls, tls or none, got {values['SMTP_TLS']!r}")
    port = _integer(values, "SMTP_PORT", low=1, high=65535)
    return Smtp(host=host, port=port, tls=tls, user=values["SMTP_USER"], password=values["SMTP_PASSWORD"])


def _line(values: Mapping[str, str]) -> Line | None:
    secret, token = values["LINE_CHANNEL_SECRET"].strip(), values["LINE_CHANNEL_ACCESS_TOKEN"].strip()
    if not secret and not token:
        return None
    if not secret or not token:
        raise SettingsError(f"{PREFIX}LINE_CHANNEL_SECRET and {PREFIX}LINE_CHANNEL_ACCESS_TOKEN go together; set both")
    friend_url = values["LINE_ADD_FRIEND_URL"].strip()
    if not re.fullmatch(r"https://[A-Za-z0-9.-]+/[!-~]*", friend_url):
        raise SettingsError(
            f"{PREFIX}LINE_ADD_FRIEND_URL must be the official account's https link (like"
            f" 'https://line.me/R/ti/p/@123abcde'), got {values['LINE_ADD_FRIEND_URL']!r}"
        )
    return Line(
        channel_secret=secret,
        access_token=token,
        add_friend_url=friend_url,
        login=_line_login(values),
        access_url=_base_url(values, "LINE_ACCESS_URL"),
        api_url=_base_url(values, "LINE_API_URL"),
    )


def _line_login(values: Mapping[str, str]) -> LineLogin | None:
    channel, secret = values["LINE_LOGIN_CHANNEL_ID"].strip(), values["LINE_LOGIN_CHANNEL_SECRET"].strip()
    if not channel and not secret:
        return None
    if not re.fullmatch(r"[0-9]{1,20}", channel) or not secret:
        raise SettingsError(
            f"{PREFIX}LINE_LOGIN_CHANNEL_ID (digits, from the LINE Developers Console) and"
            f" {PREFIX}LINE_LOGIN_CHANNEL_SECRET go together; got channel {values['LINE_LOGIN_CHANNEL_ID']!r}"
        )
    return LineLogin(channel_id=channel, channel_secret=secret)


def _base_url(values: Mapping[str, str], name: str) -> str:
    url = values[name].strip().rstrip("/")
    if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", url):
        raise SettingsError(
            f"{PREFIX}{name} must be a scheme and host like 'https://api.line.me', got {values[name]!r}"
        )
    return url


def _stored_key(data_dir: Path) -> str:
    """A key generated once and kept in the data folder, so restarts keep shoppers' progress valid."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(key + "\n")
    log.warning("Generated a secret key in %s; production must set QUIZ_SECRET_KEYS.", path)
    return key
