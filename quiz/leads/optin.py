"""The shopper's email opt-in on the results step: checks, the durable lead, the results email.

Bots are dropped silently (a filled hidden field, or a form sent sooner than a person can type):
they see the same "sent" answer as a person, so they learn nothing. Real people who send too
often get 429 and a sentence saying to wait.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from email.message import EmailMessage

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from quiz.consent import consent_text, quiz_version
from quiz.format.questions import RESULTS
from quiz.format.schema import Quiz
from quiz.leads.book import OptIn, submission_key
from quiz.leads.channel import EmailChannel, OptInForm
from quiz.leads.letters import ResultsLetter, results_email
from quiz.leads.records import EmailError, normalize_email, person_id
from quiz.store.base import Record, Writes
from quiz.web.results import embedders_for, results_for, shop_origin, tracked
from quiz.web.runs import record_event, response_record
from quiz.web.services import services
from quiz.web.steps import Step, locale_for, posted, render, respond, step_for
from quiz.web.tokens import Progress
from quiz.web.wording import words

log = logging.getLogger(__name__)

MIN_SECONDS_ON_FORM = 2.0  # a person needs longer than this to read the step and type an address
FORM_FIELDS_MAX_CHARS = 1_000  # an address field holding more than this is not an address


async def submit_optin(request: Request) -> Response:
    sent = await posted(request)
    if isinstance(sent, Response):
        return sent
    quiz, form, token, progress = sent.quiz, sent.form, sent.token, sent.progress
    if progress.current != RESULTS or not progress.response:
        return respond(request, quiz, progress)
    if form.get("action") == "skip":  # the gate's "no thanks", whichever channels it offers
        return _skip(request, quiz, progress)
    if quiz.lead_capture is None or "email" not in quiz.lead_capture.channels:
        return respond(request, quiz, progress)
    if _looks_automated(form, progress):
        log.info("opt-in dropped as automated for quiz %s", quiz.id)
        if _gate_required(quiz):
            return respond(request, quiz, progress)  # "sent" would open a gate that wants a real address
        return respond(request, quiz, replace(progress, lead="sent"))
    client = request.client.host if request.client else ""
    if not await run_in_threadpool(services(request).channel(EmailChannel).limits.allow, client, quiz.id):
        return _form_again(request, quiz, progress, form, "error_rate_limited", status_code=429)
    try:
        email = normalize_email(str(form.get("email", ""))[:FORM_FIELDS_MAX_CHARS])
    except EmailError as error:
        return _form_again(request, quiz, progress, form, f"error_{error.code}", status_code=422)
    return await _take(request, quiz, progress, email, ticked=form.get("consent") == "yes", token=token)


async def _take(request: Request, quiz: Quiz, progress: Progress, email: str, *, ticked: bool, token: str) -> Response:
    email_channel = services(request).channel(EmailChannel)
    book = email_channel.book
    locale = locale_for(request, quiz, progress.context)
    suppressed = await run_in_threadpool(book.is_suppressed, email)
    if suppressed and not ticked:
        # Forgotten on request and no fresh consent: say "sent" as to anyone, store and send nothing.
        return respond(request, quiz, replace(progress, lead="sent"))
    capture = quiz.lead_capture
    assert capture is not None  # the form is only shown for quizzes that capture leads
    opt_in = OptIn(
        email=email,
        quiz_id=quiz.id,
        quiz_version=quiz_version(quiz),
        locale=locale,
        response=response_record(request, quiz, progress, locale),
        consent=consent_text(quiz, locale),
        ticked=ticked,
        double_opt_in=capture.double_opt_in or suppressed,  # fresh consent from a forgotten address: proven
        submission=submission_key(token),
    )

    allowed: list[bool] = []  # the address's limit, asked once: a second letter (the lead changed) asks no store

    def letter(lead: Record) -> EmailMessage | None:
        if not allowed:
            allowed.append(email_channel.limits.per_address.allow(email))
        if not allowed[0]:
            return None  # nobody gets mail-bombed: the lead is kept, the email is not sent
        return _results_message(request, quiz, progress, lead)

    def send(message: EmailMessage, writes: Writes) -> None:
        email_channel.mail.enqueue(message, writes=writes)  # the lead and its email: together, or neither

    outcome = await run_in_threadpool(book.opt_in, opt_in, letter, send)
    if not outcome.replayed:
        record_event(
            request, quiz, "opted_in", progress.context, run=progress.run, channel="email", consent=str(ticked).lower()
        )
    sent = "confirm" if outcome.lead["consent"]["status"] == "pending" else "sent"
    return respond(request, quiz, replace(progress, lead=sent))


def _results_message(request: Request, quiz: Quiz, progress: Progress, lead: Record) -> EmailMessage:
    found = services(request)
    settings = found.settings
    base = settings.public_url or str(request.base_url).rstrip("/")
    links = found.links
    status, nonce = lead["consent"]["status"], lead["consent"].get("nonce", "")
    path = request.app.url_path_for
    confirm = path("show_confirm", token=links.confirm_token(lead["id"], nonce)) if nonce else ""
    marketing = status in ("pending", "subscribed")
    unsubscribe = path("unsubscribe", token=links.unsubscribe_token(person_id(lead["email"]))) if marketing else ""
    results, _ = results_for(request, quiz, progress, lead["locale"])
    for product in results:
        product["url"] = tracked(product["url"], quiz.id, medium="email")
    letter = ResultsLetter(
        to=lead["email"],
        sender=settings.mail_from,
        quiz_title=Step(quiz=quiz, locale=lead["locale"]).t(quiz.title),
        site=shop_origin(progress.context, embedders_for(request, quiz)).rstrip("/") or base,
        locale=lead["locale"],
        words=words(lead["locale"]),
        products=results,
        # ?quiz= gives the page the quiz's look and names; the token alone decides what the link does.
        confirm_url=f"{base}{confirm}?quiz={quiz.id}" if confirm else "",
        unsubscribe_url=f"{base}{unsubscribe}?quiz={quiz.id}" if unsubscribe else "",
    )
    return results_email(found.templates.env, letter)


def _looks_automated(form: FormData, progress: Progress) -> bool:
    too_fast = time.time() - progress.issued < MIN_SECONDS_ON_FORM
    return bool(str(form.get("website", ""))) or too_fast


def _skip(request: Request, quiz: Quiz, progress: Progress) -> Response:
    if _gate_required(quiz):
        return respond(request, quiz, progress)  # the quiz gates its results: the form stays
    return respond(request, quiz, replace(progress, lead="skipped"))


def _gate_required(quiz: Quiz) -> bool:
    capture = quiz.lead_capture
    return capture is not None and capture.gates_results


def _form_again(
    request: Request, quiz: Quiz, progress: Progress, form: FormData, error: str, *, status_code: int
) -> Response:
    """The results step with the form as the shopper filled it, and one sentence saying what to do."""
    step = step_for(request, quiz, progress)
    shown = next((offer for offer in step.offers if isinstance(offer, OptInForm)), None)
    if shown is None:  # the shopper skipped the form in another tab
        return respond(request, quiz, progress)
    typed = str(form.get("email", ""))[:FORM_FIELDS_MAX_CHARS]
    again = replace(shown, email=typed, ticked=form.get("consent") == "yes", error=words(step.locale)[error], sent="")
    offers = tuple(again if offer is shown else offer for offer in step.offers)
    # The token it came with, not a new one: a person who fixes a typo fast is not taken for a bot.
    token = str(form.get("t", "")) or step.token
    return render(request, replace(step, offers=offers, token=token), status_code=status_code)
