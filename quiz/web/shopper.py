"""The shopper's flow over HTTP: intro, one question at a time, results, and the product links.

Every step is a real form. With htmx (``HX-Request``) a POST answers with the next step's
fragment; without JavaScript it answers 303 to a GET of the full page (post/redirect/get).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import replace
from urllib.parse import urljoin

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from quiz.engine.flow import AnswerError, first_question, next_after, parse_answer, trail
from quiz.errors import ProductNotFound
from quiz.format.conditions import Answer
from quiz.format.questions import RESULTS
from quiz.format.schema import Quiz
from quiz.web.results import cart_permalink, embedders_for, shop_origin, tracked
from quiz.web.runs import answered, keep_response, record_event, told
from quiz.web.steps import (
    Step,
    form_of,
    is_htmx,
    locale_for,
    page_context,
    posted,
    progress_for,
    quiz_for,
    render,
    respond,
    restart,
    step_for,
    trailed,
)
from quiz.web.tokens import Progress
from quiz.web.wording import answer_error, ui_locale


async def show_intro(request: Request) -> Response:
    quiz = quiz_for(request)
    context = page_context(request.query_params)
    locale = locale_for(request, quiz, context)
    record_event(request, quiz, "viewed", context)
    return render(request, Step(quiz=quiz, locale=locale, context=context), status_code=200)


async def start_quiz(request: Request) -> Response:
    quiz = quiz_for(request)
    form = await form_of(request)
    context = page_context(form)
    first = first_question(quiz).id
    run = secrets.token_hex(8)  # this run's events, tied together; nothing about who runs it
    progress = Progress(quiz_id=quiz.id, current=first, context=context, started=time.time(), run=run)
    record_event(request, quiz, "started", context, run=run, question=first)
    return respond(request, quiz, progress)


async def show_step(request: Request) -> Response:
    quiz = quiz_for(request)
    progress = progress_for(request, quiz, request.query_params.get("t", ""))
    if progress is None:
        return restart(request, quiz)
    return render(request, step_for(request, quiz, progress), status_code=200)


async def submit_answer(request: Request) -> Response:
    sent = await posted(request)
    if isinstance(sent, Response):
        return sent
    quiz, form, progress = sent.quiz, sent.form, sent.progress
    if form.get("action") == "back":
        return respond(request, quiz, _back(quiz, progress))
    if progress.current == RESULTS:
        return respond(request, quiz, progress)
    question = quiz.question(progress.current)
    try:
        answer = parse_answer(question, [str(value) for value in form.getlist("a")])
    except AnswerError as error:
        step = step_for(request, quiz, progress)
        message = answer_error(ui_locale(step.locale), error.code, error.params)
        step = replace(step, error=message, answer=_raw_answer(form))
        return render(request, step, status_code=200 if is_htmx(request) else 422)
    answers = {**progress.answers, question.id: answer}
    on_path = {**(trailed(request, quiz, answers, question.id) or {}), question.id: answer}
    target = next_after(quiz, question, on_path)
    shown = answered(question, answer)
    record_event(
        request, quiz, "answered", progress.context, run=progress.run, question=question.id, answer=shown, next=target
    )
    progress = replace(progress, current=target, answers=answers)
    if target == RESULTS:
        locale = locale_for(request, quiz, progress.context)
        response = await keep_response(request, quiz, progress, locale)
        ranked = [product["id"] for product in response["products"]]  # best first: the rank is the position
        kept = told(quiz, response["answers"])
        record_event(request, quiz, "completed", progress.context, run=progress.run, products=ranked, answers=kept)
        progress = replace(progress, response=str(response["id"]))
    return respond(request, quiz, progress)


async def follow_product(request: Request) -> Response:
    """A product link from the results: count the click, then send the shopper to the shop's page.

    The address is the quiz's own product URL, never one from the request, so this is no open redirect.
    """
    quiz = quiz_for(request)
    product = quiz.product_index.get(request.path_params["product_id"])
    if product is None:
        raise ProductNotFound(request.path_params["product_id"])
    progress = progress_for(request, quiz, request.query_params.get("t", ""))
    context = progress.context if progress else {}  # an expired token still reaches the product
    record_event(request, quiz, "clicked", context, run=progress.run if progress else "", product=product.id)
    shop = shop_origin(context, embedders_for(request, quiz))
    return RedirectResponse(tracked(urljoin(shop, product.url), quiz.id), status_code=303)


def _back(quiz: Quiz, progress: Progress) -> Progress:
    path = list(trail(quiz, progress.answers, progress.current) or {})
    previous = path[-1] if path else first_question(quiz).id
    return replace(progress, current=previous)


def _raw_answer(form: FormData) -> Answer | None:
    values = [str(value) for value in form.getlist("a")]
    if not values:
        return None
    return values if len(values) > 1 else values[0]


MAX_CART_PRODUCTS = 50  # as many as results can show (scoring.count)


async def add_to_cart(request: Request) -> Response:
    """Add to cart from the results (``?p=ID`` once per product): count it, then fill the shop's cart.

    GET is the plain link, which works without JavaScript: a Shopify cart permalink of the products'
    variants. POST is the widget telling the server that it has sent the shop page a
    ``quiz:add-to-cart`` event (``results.add_to_cart: "event"``), for the theme to call its own
    cart: it answers 204. Either way the funnel counts one ``added_to_cart``.
    """
    quiz = quiz_for(request)
    wanted = list(dict.fromkeys(request.query_params.getlist("p")))[:MAX_CART_PRODUCTS]
    products = [quiz.product_index.get(product_id) for product_id in wanted]
    missing = next((product_id for product_id, product in zip(wanted, products, strict=True) if product is None), None)
    if not wanted or missing is not None:
        raise ProductNotFound(missing or "")
    found = [product for product in products if product is not None]
    if request.method == "GET" and not all(product.variant_id for product in found):
        raise ProductNotFound(next(product.id for product in found if not product.variant_id))  # no cart to fill
    progress = progress_for(request, quiz, request.query_params.get("t", ""))
    context = progress.context if progress else {}
    via = "link" if request.method == "GET" else "event"
    run = progress.run if progress else ""
    record_event(request, quiz, "added_to_cart", context, run=run, products=wanted, via=via)
    if request.method == "POST":
        return Response(status_code=204)
    shop = shop_origin(context, embedders_for(request, quiz))
    return RedirectResponse(cart_permalink(shop, [str(product.variant_id) for product in found]), status_code=303)
