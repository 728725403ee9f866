"""Customer satisfaction (CSAT): after resolution, one message asking the buyer to rate the support,
signed one-click rating links, and the score recorded on the ticket and its agent. Plain Python.

**When** (``should_request``): the ticket *enters* resolved from another state (a merge closes, it does
not resolve; a ticket created resolved, like a proactive message's, was never a conversation), an agent
or an automatic answer replied (``first_responded_at``), it is not spam, it was never asked before
(``csat_requested_at``; reopened and resolved again still means one request per ticket), and the
channel lets us ask (``SURVEY_CHANNELS``).

**Where**: through the ticket's own channel, as an outbound message (``Automation.SURVEY``: not a
response, the SLA and the status stay as they are) queued for the dispatcher like any reply. Only the
channels we answer ourselves: e-mail, chat, and the seller's own shops (Shopify, WooCommerce,
BigCommerce, Magento, answered by e-mail). **Marketplaces are excluded** (Amazon, eBay, Walmart,
Mirakl, TikTok Shop, Etsy): their seller policies forbid soliciting feedback or ratings, or sending
links to outside sites, through their messaging; the buyer rates there in the marketplace's own
system.

**Links**: five links ``{base}/csat/{token}?score=N``. The token is ``base64url(JSON claim) "."
base64url(HMAC-SHA256)`` over the tenant, ticket, agent and expiry (30 days by default), so the public
endpoint needs no login and no lookup to trust it. A forged, altered or unreadable token is a 404 that
says nothing about why (nothing to learn by probing); a genuine but expired one is a 410
``link_expired``. The signature is compared in constant time, on its canonical encoding.

**Rating** (``SurveyService.rate``): the score (1..5), an optional comment (stripped, at most 1000
characters), the time and the agent named in the link are stored on the ticket with a timeline event,
in one conditional write. Rating again replaces the score (the buyer clicked the wrong star; the event
says so); the same click again changes nothing (a reloaded page, a mail scanner opening the link
twice); a click without a comment keeps the comment already given.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from pydantic import Field

from helpdesk.core.clock import utc_now
from helpdesk.core.errors import Conflict, HelpdeskError, NotFound
from helpdesk.core.models import (
    ID_PATTERN,
    Automation,
    Channel,
    DeliveryStatus,
    MessageDirection,
    Model,
    Store,
    Ticket,
    TicketStatus,
    TicketView,
)
from helpdesk.languages.tags import primary_language
from helpdesk.replies.agent_replies import outbound_reply
from helpdesk.replies.macros import brand_voice
from helpdesk.replies.ports import ReplyQueue
from helpdesk.reports.ports import SurveyRepository
from helpdesk.routing.intake import timeline_event

SURVEY_CHANNELS = frozenset(
    {Channel.EMAIL, Channel.CHAT, Channel.SHOPIFY, Channel.WOOCOMMERCE, Channel.BIGCOMMERCE, Channel.MAGENTO}
)
LINK_VALIDITY = timedelta(days=30)
MAX_COMMENT = 1000
MAX_TOKEN = 2048
MIN_SECRET = 16
SCORES = (1, 2, 3, 4, 5)
SPAM_TAG = "spam"
FALLBACK_LANGUAGE = "en"
_ATTEMPTS = 5
_MAC_CONTEXT = b"helpdesk.csat.v1:"  # the same secret used for another purpose can never sign a rating link
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_ID = re.compile(ID_PATTERN)
_ERROR_CODES = frozenset({"invalid_rating_link", "link_expired", "invalid_score"})


class InvalidRatingLink(HelpdeskError):
    """A rating link we did not sign (or that was altered, truncated, or names a ticket that is gone):
    404, and the same message whatever the cause."""

    code = "invalid_rating_link"
    status = 404


class RatingLinkExpired(InvalidRatingLink):
    code = "link_expired"
    status = 410


class InvalidScore(HelpdeskError, ValueError):
    """A score outside 1..5 (a ``ValueError`` too, for callers that map those to 422)."""

    code = "invalid_score"
    status = 422


class RatingClaim(Model):
    """What a verified rating link says."""

    tenant_id: str
    ticket_id: str
    agent_id: str | None = None
    expires_at: datetime


class RatingResult(Model):
    ticket_id: str
    score: int = Field(ge=1, le=5)
    previous_score: int | None = Field(default=None, description="The score this rating replaced")
    comment: str | None = None
    store_name: str | None = Field(default=None, description="The store's display name, for the page")
    language: str = Field(description="The ticket's language (the page's, if it has texts in it)")


# --- tokens -------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: str) -> str:
    if len(secret) < MIN_SECRET:
        raise ValueError(f"the rating-link secret must have at least {MIN_SECRET} bytes")
    return _b64(hmac.new(secret, _MAC_CONTEXT + payload.encode("ascii"), hashlib.sha256).digest())


def sign(secret: bytes, tenant_id: str, ticket_id: str, agent_id: str | None, expires_at: datetime) -> str:
    """A rating link's token: the claim as compact JSON and its HMAC-SHA256, both base64url."""
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    claim = {"t": tenant_id, "k": ticket_id, "a": agent_id, "e": int(expires_at.timestamp())}
    payload = _b64(json.dumps(claim, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
    return f"{payload}.{_mac(secret, payload)}"


def verify(secret: bytes, token: str, now: datetime) -> RatingClaim:
    """The claim of a token we signed, or ``InvalidRatingLink`` (404: not ours, altered, unreadable)
    or ``RatingLinkExpired`` (410: ours, but too old). The signature is checked before anything in
    the payload is read, so an expired-looking forgery is still a plain 404."""
    forged = InvalidRatingLink("this rating link is not valid")
    if not isinstance(token, str) or len(token) > MAX_TOKEN or token.count(".") != 1:
        raise forged
    payload, signature = token.split(".")
    if not _B64URL.match(payload) or not _B64URL.match(signature):
        raise forged
    if not hmac.compare_digest(_mac(secret, payload).encode("ascii"), signature.encode("ascii")):
        raise forged
    try:
        claim = json.loads(_unb64(payload))
    except ValueError:  # binascii.Error and JSONDecodeError are ValueErrors
        raise forged from None
    if not isinstance(claim, dict):
        raise forged
    tenant_id, ticket_id, agent_id, expires = claim.get("t"), claim.get("k"), claim.get("a"), claim.get("e")
    if (
        not isinstance(tenant_id, str)
        or not _ID.match(tenant_id)
        or not isinstance(ticket_id, str)
        or not _ID.match(ticket_id)
        or not (agent_id is None or isinstance(agent_id, str))
        or not isinstance(expires, int)
        or isinstance(expires, bool)
    ):
        raise forged
    try:
        expires_at = datetime.fromtimestamp(expires, UTC)
    except (OverflowError, OSError, ValueError):
        raise forged from None
    if now >= expires_at:
        raise RatingLinkExpired("this rating link has expired", expired_at=expires_at.isoformat())
    return RatingClaim(tenant_id=tenant_id, ticket_id=ticket_id, agent_id=agent_id, expires_at=expires_at)


def rating_links(base_url: str, token: str) -> dict[int, str]:
    """The five one-click links, by score."""
    base = base_url.rstrip("/")
    return {score: f"{base}/csat/{token}?score={score}" for score in SCORES}


# --- texts --------------------------------------------------------------------------------------

_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "confirm": "Your rating: {score}/5. Recording it…",
        "confirm_button": "Send my rating",
        "hello": "Hello,",
        "hello_name": "Hello {name},",
        "ask": "We hope we could help you with your request. How satisfied are you with our support? "
        "One click on a link below is all it takes:",
        "thanks": "Thank you for your feedback!",
        "1": "Very unhappy",
        "2": "Unhappy",
        "3": "Neutral",
        "4": "Happy",
        "5": "Very happy",
        "title": "Thank you",
        "rated": "Thank you! You rated our support {score}/5.",
        "change": "Clicked the wrong one? Choose another rating:",
        "comment": "Anything you would like to add?",
        "send": "Send",
        "error_title": "Rating",
        "from": "Support of {store}",
        "invalid_rating_link": "This rating link is not valid.",
        "link_expired": "This rating link has expired. Thank you all the same!",
        "invalid_score": "Please choose a rating from 1 to 5.",
        "error": "Your rating could not be recorded. Please try again later.",
    },
    "fr": {
        "confirm": "Votre note : {score}/5. Enregistrement…",
        "confirm_button": "Envoyer ma note",
        "hello": "Bonjour,",
        "hello_name": "Bonjour {name},",
        "ask": "Nous espérons avoir pu répondre à votre demande. Êtes-vous satisfait(e) de notre service client ? "
        "Un clic sur l'un des liens ci-dessous suffit :",
        "thanks": "Merci pour votre retour !",
        "1": "Très insatisfait(e)",
        "2": "Insatisfait(e)",
        "3": "Neutre",
        "4": "Satisfait(e)",
        "5": "Très satisfait(e)",
        "title": "Merci",
        "rated": "Merci ! Vous avez donné la note de {score}/5 à notre service client.",
        "change": "Vous vous êtes trompé(e) ? Choisissez une autre note :",
        "comment": "Souhaitez-vous ajouter quelque chose ?",
        "send": "Envoyer",
        "error_title": "Évaluation",
        "from": "Service client de {store}",
        "invalid_rating_link": "Ce lien d'évaluation n'est pas valide.",
        "link_expired": "Ce lien d'évaluation a expiré. Merci tout de même !",
        "invalid_score": "Veuillez choisir une note de 1 à 5.",
        "error": "Votre évaluation n'a pas pu être enregistrée. Veuillez réessayer plus tard.",
    },
    "de": {
        "confirm": "Ihre Bewertung: {score}/5. Wird gespeichert…",
        "confirm_button": "Bewertung senden",
        "hello": "Hallo,",
        "hello_name": "Hallo {name},",
        "ask": "Wir hoffen, wir konnten Ihnen mit Ihrem Anliegen weiterhelfen. Wie zufrieden sind Sie mit "
        "unserem Kundenservice? Ein Klick auf einen der Links genügt:",
        "thanks": "Vielen Dank für Ihr Feedback!",
        "1": "Sehr unzufrieden",
        "2": "Unzufrieden",
        "3": "Neutral",
        "4": "Zufrieden",
        "5": "Sehr zufrieden",
        "title": "Vielen Dank",
        "rated": "Vielen Dank! Sie haben unseren Kundenservice mit {score}/5 bewertet.",
        "change": "Verklickt? Wählen Sie eine andere Bewertung:",
        "comment": "Möchten Sie noch etwas ergänzen?",
        "send": "Senden",
        "error_title": "Bewertung",
        "from": "Kundenservice von {store}",
        "invalid_rating_link": "Dieser Bewertungslink ist ungültig.",
        "link_expired": "Dieser Bewertungslink ist abgelaufen. Trotzdem vielen Dank!",
        "invalid_score": "Bitte wählen Sie eine Bewertung von 1 bis 5.",
        "error": "Ihre Bewertung konnte nicht gespeichert werden. Bitte versuchen Sie es später erneut.",
    },
    "it": {
        "confirm": "La sua valutazione: {score}/5. Registrazione in corso…",
        "confirm_button": "Invia la valutazione",
        "hello": "Buongiorno,",
        "hello_name": "Buongiorno {name},",
        "ask": "Speriamo di averla aiutata con la sua richiesta. Quanto è soddisfatto/a del nostro servizio "
        "clienti? Basta un clic su uno dei link qui sotto:",
        "thanks": "Grazie per il suo feedback!",
        "1": "Molto insoddisfatto/a",
        "2": "Insoddisfatto/a",
        "3": "Neutrale",
        "4": "Soddisfatto/a",
        "5": "Molto soddisfatto/a",
        "title": "Grazie",
        "rated": "Grazie! Ha valutato il nostro servizio clienti {score}/5.",
        "change": "Ha sbagliato a cliccare? Scelga un'altra valutazione:",
        "comment": "Desidera aggiungere qualcosa?",
        "send": "Invia",
        "error_title": "Valutazione",
        "from": "Servizio clienti di {store}",
        "invalid_rating_link": "Questo link di valutazione non è valido.",
        "link_expired": "Questo link di valutazione è scaduto. Grazie comunque!",
        "invalid_score": "Scelga una valutazione da 1 a 5.",
        "error": "Non è stato possibile registrare la sua valutazione. Riprovi più tardi.",
    },
    "es": {
        "confirm": "Su valoración: {score}/5. Registrando…",
        "confirm_button": "Enviar mi valoración",
        "hello": "Hola,",
        "hello_name": "Hola {name}:",
        "ask": "Esperamos haberle ayudado con su solicitud. ¿Está satisfecho/a con nuestra atención al cliente? "
        "Basta con un clic en uno de los enlaces:",
        "thanks": "¡Gracias por su opinión!",
        "1": "Muy insatisfecho/a",
        "2": "Insatisfecho/a",
        "3": "Neutral",
        "4": "Satisfecho/a",
        "5": "Muy satisfecho/a",
        "title": "Gracias",
        "rated": "¡Gracias! Ha valorado nuestra atención al cliente con {score}/5.",
        "change": "¿Se ha equivocado? Elija otra valoración:",
        "comment": "¿Desea añadir algo?",
        "send": "Enviar",
        "error_title": "Valoración",
        "from": "Atención al cliente de {store}",
        "invalid_rating_link": "Este enlace de valoración no es válido.",
        "link_expired": "Este enlace de valoración ha caducado. ¡Gracias de todos modos!",
        "invalid_score": "Elija una valoración del 1 al 5.",
        "error": "No se ha podido registrar su valoración. Inténtelo de nuevo más tarde.",
    },
}


def text_language(language: str | None) -> str:
    """The language of our texts for ``language``: its base (fr-CA → fr) if we have it, else English."""
    base = primary_language(language)
    return base if base in _TEXTS else FALLBACK_LANGUAGE


def score_labels(language: str | None) -> dict[int, str]:
    texts = _TEXTS[text_language(language)]
    return {score: texts[str(score)] for score in SCORES}


def survey_body(language: str | None, store: Store, links: Mapping[int, str], customer_first_name: str | None) -> str:
    """The satisfaction request as plain text: the store's greeting and the buyer's first name, one
    line per score with its label and link (1 = very unhappy … 5 = very happy), and the store's
    signature (else a thank-you and the store's name). Languages other than en/fr/de/it/es: English,
    greeting and signature included, so the whole message is in one language."""
    used = text_language(language)
    texts = _TEXTS[used]
    # The seller's voice in the buyer's language (fr-CA, else fr), or in English with English texts.
    voice = brand_voice(store, language if language and primary_language(language) == used else used)
    name = (customer_first_name or "").strip()
    greeting = voice.get("greeting")
    if name and greeting:
        opening = f"{greeting.strip().rstrip(',')} {name},"
    elif greeting:
        opening = greeting.strip() if greeting.strip().endswith(",") else f"{greeting.strip()},"
    else:
        opening = texts["hello_name"].format(name=name) if name else texts["hello"]
    lines = [f"{score} – {texts[str(score)]}: {links[score]}" for score in SCORES if score in links]
    signature = voice.get("signature")
    closing = f"{texts['thanks']}\n{signature.strip()}" if signature else f"{texts['thanks']}\n{store.display_name}"
    return "\n\n".join([opening, texts["ask"], "\n".join(lines), closing])


# --- when ---------------------------------------------------------------------------------------


def survey_blocker(ticket: Ticket, store: Store | None) -> str | None:
    """Why this (resolved) ticket must not get a satisfaction request, or None if it may."""
    if ticket.merged_into:
        return "merged into another ticket"
    if ticket.csat_requested_at is not None:
        return "already requested"
    if ticket.channel not in SURVEY_CHANNELS:
        return f"{ticket.channel.value} does not allow asking for a rating in our messages"
    if store is None or store.disconnected_at is not None:
        return "the store is disconnected"
    if SPAM_TAG in ticket.tags:
        return "spam"
    if ticket.first_responded_at is None:
        return "no reply was sent on the ticket"
    if ticket.channel != Channel.CHAT and not ticket.customer_email:
        return "no customer e-mail"
    return None


def should_request(before: Ticket | None, after: Ticket, store: Store) -> str | None:
    """None if the change ``before`` → ``after`` must send the satisfaction request now, else why
    not. Only a ticket that *enters* resolved from another state: not one created resolved (a
    proactive message's ticket), not one already resolved (any other change on it), not one closed."""
    if after.status != TicketStatus.RESOLVED:
        return "not resolved"
    if before is None:
        return "created resolved"
    if before.status == TicketStatus.RESOLVED:
        return "already resolved"
    return survey_blocker(after, store)


def rated_agent(view: TicketView) -> str | None:
    """The agent a rating is about: the assignee, else the author of the last reply an agent sent."""
    if view.ticket.assignee_id:
        return view.ticket.assignee_id
    sent = [
        m
        for m in view.messages
        if m.direction == MessageDirection.OUTBOUND
        and m.automation is None
        and m.author_id
        and m.delivery_status == DeliveryStatus.SENT
    ]
    return max(sent, key=lambda m: (m.created_at, m.message_id)).author_id if sent else None


def clean_comment(comment: str | None) -> str | None:
    if comment is None:
        return None
    cleaned = comment.strip()[:MAX_COMMENT].strip()
    return cleaned or None


# --- service ------------------------------------------------------------------------------------


class SurveyService:
    def __init__(
        self,
        repository: SurveyRepository,
        queue: ReplyQueue | None,
        secret_provider: Callable[[], bytes],
        public_base_url: str,
        clock: Callable[[], datetime] = utc_now,
        link_validity: timedelta = LINK_VALIDITY,
    ) -> None:
        self._repo = repository
        self._queue = queue
        self._secret = secret_provider
        self._base_url = public_base_url
        self._clock = clock
        self._validity = link_validity

    def request(self, tenant_id: str, ticket_id: str) -> str:
        """Send the satisfaction request on a ticket just resolved; what happened, one line. The
        conditions are checked again on the ticket as stored now (it may have been reopened, or the
        request sent by a redelivered stream record); the message and ``csat_requested_at`` are
        written together, so it is sent at most once."""
        if self._queue is None:  # the rating pages' service sends nothing
            return "not sent: no outbound queue"
        store: Store | None = None
        for _ in range(_ATTEMPTS):
            view = self._repo.get_ticket_view(tenant_id, ticket_id)
            if view is None:
                return "not sent: the ticket is gone"
            ticket = view.ticket
            if ticket.status != TicketStatus.RESOLVED:
                return f"not sent: the ticket is {ticket.status.value}, no longer resolved"
            if store is None:
                store = self._repo.get_store(tenant_id, ticket.store_id)
            reason = survey_blocker(ticket, store)
            if reason or store is None:
                return f"not sent: {reason}"
            now = self._clock()
            token = sign(self._secret(), tenant_id, ticket_id, rated_agent(view), now + self._validity)
            language = ticket.language or store.default_language
            names = (ticket.customer_name or "").split()
            body = survey_body(language, store, rating_links(self._base_url, token), names[0] if names else None)
            message = outbound_reply(
                view,
                now,
                body=body,
                language=text_language(language),
                author="automation",
                author_id=None,
                macro_id=None,
                status_after=None,
            )
            message.automation = Automation.SURVEY
            updated = ticket.model_copy(deep=True)
            updated.csat_requested_at = now
            updated.updated_at = now
            try:
                self._repo.update_ticket(ticket, updated, [message])
            except Conflict:
                continue
            self._queue.publish(tenant_id, ticket_id, message.message_id)
            return f"queued on ticket {ticket_id}"
        return "not sent: the ticket kept changing"

    def preview(self, token: str, score: int) -> RatingResult:
        """What a rating link's GET shows before anything is recorded: the link and score checked (same
        errors as ``rate``), the ticket's language and store read, nothing written. Mail security
        scanners open every link in a message; only the buyer's browser sends the POST that rates."""
        ticket = self._rated_ticket(self._claim(token, score, self._clock()))
        store = self._repo.get_store(ticket.tenant_id, ticket.store_id)
        return RatingResult(
            ticket_id=ticket.ticket_id,
            score=score,
            previous_score=ticket.csat_score,
            comment=ticket.csat_comment,
            store_name=store.display_name if store else None,
            language=ticket.language or (store.default_language if store else FALLBACK_LANGUAGE),
        )

    def rate(self, token: str, score: int, comment: str | None = None) -> RatingResult:
        """Record the buyer's rating from a link (``InvalidRatingLink`` 404 / ``RatingLinkExpired`` 410,
        ``InvalidScore`` 422). Rating again replaces the score; the same rating again writes nothing;
        no comment keeps the one given before."""
        now = self._clock()
        claim = self._claim(token, score, now)
        comment = clean_comment(comment)
        store: Store | None = None
        for _ in range(_ATTEMPTS):
            ticket = self._rated_ticket(claim)
            if store is None:
                store = self._repo.get_store(ticket.tenant_id, ticket.store_id)
            previous = ticket.csat_score
            kept_comment = comment if comment is not None else ticket.csat_comment
            result = RatingResult(
                ticket_id=ticket.ticket_id,
                score=score,
                previous_score=previous,
                comment=kept_comment,
                store_name=store.display_name if store else None,
                language=ticket.language or (store.default_language if store else FALLBACK_LANGUAGE),
            )
            if previous == score and kept_comment == ticket.csat_comment:
                return result.model_copy(update={"previous_score": None})
            updated = ticket.model_copy(deep=True)
            updated.csat_score = score
            updated.csat_comment = kept_comment
            updated.csat_at = now
            updated.csat_agent_id = claim.agent_id
            updated.updated_at = now
            event = timeline_event(ticket, now, rating_event_text(previous, score, comment, claim.agent_id))
            try:
                self._repo.update_ticket(ticket, updated, [event])
            except Conflict:
                continue
            return result
        raise Conflict("the ticket kept changing: try again")

    def _claim(self, token: str, score: int, now: datetime) -> RatingClaim:
        """The link's claim (404 / 410 when it is not valid / expired) and a score of 1 to 5 (422)."""
        claim = verify(self._secret(), token, now)
        if isinstance(score, bool) or not isinstance(score, int) or score not in SCORES:
            raise InvalidScore("the score must be 1, 2, 3, 4 or 5")
        return claim

    def _rated_ticket(self, claim: RatingClaim) -> Ticket:
        try:
            ticket = self._repo.get_ticket(claim.tenant_id, claim.ticket_id)
        except NotFound:
            ticket = None
        if ticket is None:
            raise InvalidRatingLink("this rating link is not valid")
        return ticket


def rating_event_text(previous: int | None, score: int, comment: str | None, agent_id: str | None) -> str:
    """The timeline entry: "Customer rated 4/5 (agent a1): “…”", or the change of a rating."""
    if previous is None:
        text = f"Customer rated {score}/5"
    elif previous != score:
        text = f"Customer changed their rating from {previous}/5 to {score}/5"
    else:
        text = f"Customer commented on their {score}/5 rating"
    if agent_id:
        text += f" (agent {agent_id})"
    return f"{text}: “{comment}”" if comment else text


# --- pages --------------------------------------------------------------------------------------

_STYLE = (
    "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:32rem;margin:3rem auto;"
    "padding:0 1rem;color:#222;line-height:1.5}h1{font-size:1.4rem}label{display:block;margin:.25rem 0}"
    "textarea{width:100%;min-height:6rem;box-sizing:border-box}button{margin-top:.75rem;padding:.5rem 1.25rem}"
    "small{color:#666}"
)


def _page(language: str, title: str, content: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{html.escape(language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex,nofollow"><meta name="referrer" content="no-referrer">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{content}</body></html>\n"
    )


def thank_you_page(result: RatingResult) -> str:
    """The page a rating link opens: thanks, the score, and a form (posted to the same address) to
    correct the score or add a comment. Self-contained, every value escaped."""
    language = text_language(result.language)
    texts = _TEXTS[language]
    options = "".join(
        f'<label><input type="radio" name="score" value="{score}"{" checked" if score == result.score else ""}> '
        f"{score} – {html.escape(label)}</label>"
        for score, label in score_labels(language).items()
    )
    comment = html.escape(result.comment or "")
    sender = (
        f"<p><small>{html.escape(texts['from'].format(store=result.store_name))}</small></p>"
        if result.store_name
        else ""
    )
    content = (
        f"<h1>{html.escape(texts['rated'].format(score=result.score))}</h1>{sender}"
        f'<form method="post"><p>{html.escape(texts["change"])}</p>{options}'
        f'<p><label for="comment">{html.escape(texts["comment"])}</label>'
        f'<textarea id="comment" name="comment" maxlength="{MAX_COMMENT}">{comment}</textarea></p>'
        f'<button type="submit">{html.escape(texts["send"])}</button></form>'
    )
    return _page(language, texts["title"], content)


def confirm_page(result: RatingResult) -> str:
    """The page a rating link opens (GET): the chosen score in a form posted to the same address, sent
    by the browser as soon as the page loads, so one click still rates; without JavaScript the buyer
    presses the button. A scanner fetching the link records nothing."""
    language = text_language(result.language)
    texts = _TEXTS[language]
    sender = (
        f"<p><small>{html.escape(texts['from'].format(store=result.store_name))}</small></p>"
        if result.store_name
        else ""
    )
    content = (
        f"<h1>{html.escape(texts['confirm'].format(score=result.score))}</h1>{sender}"
        f'<form method="post" id="rate"><input type="hidden" name="score" value="{result.score}">'
        f'<button type="submit">{html.escape(texts["confirm_button"])}</button></form>'
        '<script>document.getElementById("rate").submit();</script>'
    )
    return _page(language, texts["title"], content)


def error_page(message: str, language: str | None) -> str:
    """A page for a link that cannot be used; ``message`` is shown escaped (see ``error_message``)."""
    used = text_language(language)
    return _page(used, _TEXTS[used]["error_title"], f"<h1>{html.escape(message)}</h1>")


def error_message(error: HelpdeskError, language: str | None) -> str:
    """The buyer-facing text for a rating error, in ``language`` (the API's English message is for logs)."""
    texts = _TEXTS[text_language(language)]
    return texts[error.code] if error.code in _ERROR_CODES else texts["error"]
