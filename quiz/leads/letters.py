"""The emails the server sends, built as ``EmailMessage`` objects for ``quiz.delivery.mail`` to deliver.

Each has a plain-text part and an HTML part rendered from ``templates/mail``. Addresses were
normalized by email-validator, and ``EmailMessage`` refuses CR or LF in any header, so no form
field can add headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from jinja2 import Environment

from quiz.format.text import fill


@dataclass(frozen=True)
class ResultsLetter:
    to: str
    sender: str
    quiz_title: str
    site: str  # the shop's address, to say where the shopper asked for this
    locale: str
    words: dict[str, str]
    products: list[dict[str, Any]]  # title, image, price, reason, url (absolute)
    confirm_url: str = ""  # set while a marketing opt-in waits for double opt-in
    unsubscribe_url: str = ""  # set whenever the address may get marketing


def results_email(environment: Environment, letter: ResultsLetter) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = fill(letter.words["mail_subject"], {"quiz": letter.quiz_title})
    message["From"] = letter.sender
    message["To"] = letter.to
    message["Message-ID"] = make_msgid(domain=letter.sender.rpartition("@")[2].strip("> ") or None)
    if letter.unsubscribe_url:
        # RFC 8058: mail clients show their own unsubscribe button, which POSTs to this address.
        message["List-Unsubscribe"] = f"<{letter.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    values = {"l": letter, "ui": letter.words, "footer": fill(letter.words["mail_footer"], {"site": letter.site})}
    message.set_content(environment.get_template("mail/results.txt").render(values))
    message.add_alternative(environment.get_template("mail/results.html").render(values), subtype="html")
    return message
