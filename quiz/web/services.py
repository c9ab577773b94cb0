"""Everything a handler reaches, built once by ``create_app`` and read through one typed accessor.

``services(request).library.get(quiz_id)``; a channel's own parts (its book, queue and limits) through
``services(request).channel(EmailChannel)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from quiz.settings import Settings
from quiz.store.base import Store
from quiz.web.assets import Assets
from quiz.web.framing import FramingWatch
from quiz.web.library import QuizLibrary
from quiz.web.offers import Channel
from quiz.web.tally import Tally
from quiz.web.tokens import LinkTokens, ProgressTokens

C = TypeVar("C")


@dataclass(frozen=True)
class Services:
    settings: Settings
    library: QuizLibrary
    store: Store
    tokens: ProgressTokens  # the shopper's progress
    links: LinkTokens  # confirmation, unsubscribe and LINE state links
    templates: Jinja2Templates
    assets: Assets
    channels: tuple[Channel, ...]  # what offers itself on the results step, in the order it shows
    tally: Tally  # funnel events counted per quiz and day, for the dashboard
    framing: FramingWatch = field(default_factory=FramingWatch)  # logs pages the browser will not let frame a quiz

    def channel(self, kind: type[C]) -> C:
        """The channel of this class; every server has each channel, configured or not."""
        for channel in self.channels:
            if isinstance(channel, kind):
                return channel
        raise LookupError(f"this server has no {kind.__name__}")


def services(request: Request) -> Services:
    return services_of(request.app)


def services_of(app: Starlette) -> Services:
    found = app.state.services
    if not isinstance(found, Services):
        raise TypeError("the app was not built by quiz.app.create_app")
    return found
