"""The results as LINE messages: the same products, reasons and tracked links as the widget shows."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from quiz.format.schema import Quiz
from quiz.line.flex import ResultsCard, results_message
from quiz.web.results import results_for, tracked
from quiz.web.steps import Step
from quiz.web.tokens import Progress
from quiz.web.wording import words


def results_messages(request: Request, quiz: Quiz, progress: Progress, locale: str) -> list[dict[str, Any]]:
    results, _ = results_for(request, quiz, progress, locale)
    for product in results:
        product["url"] = tracked(product["url"], quiz.id, medium="line")
    ui = words(locale)
    title = Step(quiz=quiz, locale=locale).t(quiz.title)
    card = ResultsCard(
        quiz_title=title,
        heading=ui["line_heading_results"].replace("{quiz}", title),
        button_label=ui["line_view"],
        products=results,
    )
    return [results_message(card)]
