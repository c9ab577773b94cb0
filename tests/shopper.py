"""A shopper clicking through a quiz in a real browser: whatever the step asks, answer it."""

from __future__ import annotations

from playwright.sync_api import Frame, Page

from quiz.format.schema import Quiz


def current_question(view: Page | Frame) -> str | None:
    fieldset = view.locator("fieldset[data-question]")
    return fieldset.get_attribute("data-question") if fieldset.count() else None


def answer(view: Page | Frame, quiz: Quiz, variant: int = 0) -> str:
    """Fill in the current question (``variant`` picks another option) and return its id."""
    question_id = current_question(view)
    assert question_id, "no question on screen"
    question = quiz.question(question_id)
    options = view.locator(".quiz-option")
    if question.type in ("single", "yes_no", "image", "scale"):
        options.nth(variant % options.count()).click()
    elif question.type == "multiple":
        for index in range(max(question.min, 1)):
            options.nth((variant + index) % options.count()).click()
    elif question.type == "number":
        value = question.min if question.min is not None else question.max if question.max is not None else 30
        view.locator("input[name=a]").fill(f"{value:g}")
    elif question.type == "text":
        view.locator("input[name=a]").fill("smooth and sweet")
    return question_id


def checked_options(view: Page | Frame) -> list[str]:
    return [box.get_attribute("value") or "" for box in view.locator("input[name=a]:checked").all()]


def next_button(view: Page | Frame):  # type: ignore[no-untyped-def]
    return view.locator("button[value=next]")
