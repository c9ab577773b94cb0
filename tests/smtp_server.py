"""A real SMTP server for tests (aiosmtpd on loopback) that keeps what it accepts."""

from __future__ import annotations

import email
import email.policy
import socket
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from quiz.delivery.mail import SMTPTransport
from quiz.settings import Smtp


class Inbox:
    """An aiosmtpd handler that keeps what it accepts, or answers every recipient or message with ``refusal``."""

    def __init__(self, *, refuse_rcpt: str = "", refuse_data: str = "") -> None:
        self.envelopes: list[Any] = []
        self.refuse_rcpt = refuse_rcpt
        self.refuse_data = refuse_data

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_data:
            return self.refuse_data
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [parse(envelope.content) for envelope in self.envelopes]


def parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, _class=EmailMessage, policy=email.policy.default)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """A real SMTP server on a loopback port that can be started late, as after an outage."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.port = free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def transport(self) -> SMTPTransport:
        return SMTPTransport(Smtp(host="127.0.0.1", port=self.port, tls="none"), timeout=2)
