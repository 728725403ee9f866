"""CSAT: signed rating links, the survey text, when it is sent (once), and recording the rating."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from helpdesk.core.errors import Conflict
from helpdesk.core.models import (
    Automation,
    Channel,
    DeliveryStatus,
    Message,
    MessageDirection,
    Ticket,
    TicketStatus,
)
from helpdesk.reports.csat import (
    SURVEY_CHANNELS,
    InvalidRatingLink,
    InvalidScore,
    RatingLinkExpired,
    RatingResult,
    SurveyService,
    confirm_page,
    error_message,
    error_page,
    rating_links,
    should_request,
    sign,
    survey_body,
    thank_you_page,
    verify,
)
from tests.fakes.repository import InMemoryRepository
from tests.unit.builders import TENANT, make_store, make_ticket

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
SECRET = b"0123456789abcdef-csat-secret"
BASE = "https://help.example.com/public"
LINKS = rating_links(BASE, "tok")


class Queue:
    def __init__(self) -> None:
        self.published: list[tuple[str, str, str]] = []

    def publish(self, tenant_id: str, ticket_id: str, message_id: str) -> None:
        self.published.append((tenant_id, ticket_id, message_id))


def resolved(**changes: Any) -> Ticket:
    fields: dict[str, Any] = dict(
        status=TicketStatus.RESOLVED,
        customer_email="jane@example.com",
        customer_name="Jane Buyer",
        first_responded_at=NOW - timedelta(hours=2),
        assignee_id="a1",
        language="en",
    )
    fields.update(changes)
    return make_ticket(**fields)


def service(repo: InMemoryRepository, queue: Queue, clock: datetime = NOW) -> SurveyService:
    return SurveyService(repo, queue, lambda: SECRET, BASE + "/", clock=lambda: clock)


def setup(ticket: Ticket | None = None, **store: Any) -> tuple[InMemoryRepository, Queue, Ticket]:
    repo, queue = InMemoryRepository(), Queue()
    repo.put_store(make_store(**store))
    ticket = ticket or resolved()
    repo.set_ticket(ticket)
    return repo, queue, ticket


def token_for(ticket: Ticket, agent: str | None = "a1", expires: datetime = NOW + timedelta(days=30)) -> str:
    return sign(SECRET, ticket.tenant_id, ticket.ticket_id, agent, expires)


# --- tokens -------------------------------------------------------------------------------------


# A link mailed by an earlier release: links stay valid for 30 days, so a deploy must keep verifying them.
MAILED_TOKEN = (
    "eyJ0IjoidDEiLCJrIjoiMDFIUTAwMDAwMDAwMDAwMDAwMDAwMDAwMDAiLCJhIjoiYTEiLCJlIjoxNzk4MDIwMDAwfQ"
    ".MP1HktFAeqPUr4ZcMDu49b6tQtzVGYaBnpZN3dTVNVE"
)


def test_a_link_mailed_before_a_deploy_still_verifies() -> None:
    expires = datetime(2026, 12, 23, 10, tzinfo=UTC)
    assert sign(SECRET, "t1", "01HQ0000000000000000000000", "a1", expires) == MAILED_TOKEN
    claim = verify(SECRET, MAILED_TOKEN, NOW)
    assert (claim.tenant_id, claim.ticket_id, claim.agent_id, claim.expires_at) == (
        "t1",
        "01HQ0000000000000000000000",
        "a1",
        expires,
    )


def test_a_signed_link_verifies_to_its_claim() -> None:
    expires = NOW + timedelta(days=30)
    token = sign(SECRET, "t1", "01HQ0000000000000000000000", "a1", expires)
    claim = verify(SECRET, token, NOW)
    assert (claim.tenant_id, claim.ticket_id, claim.agent_id, claim.expires_at) == (
        "t1",
        "01HQ0000000000000000000000",
        "a1",
        expires,
    )
    assert verify(SECRET, sign(SECRET, "t1", "k1", None, expires), NOW).agent_id is None
    assert all(c.isalnum() or c in "-_." for c in token), "safe in a URL path as it is"


def _tamper_payload(token: str, **changes: Any) -> str:
    payload, signature = token.split(".")
    claim = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claim.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claim, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{forged}.{signature}"


def test_altered_or_foreign_links_are_a_plain_404() -> None:
    token = sign(SECRET, "t1", "k1", "a1", NOW + timedelta(days=30))
    payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    attempts = {
        "another ticket": _tamper_payload(token, k="k2"),
        "another tenant": _tamper_payload(token, t="t2"),
        "tampered signature": f"{payload}.{flipped}",
        "other secret": sign(b"another-secret-of-32-bytes......", "t1", "k1", "a1", NOW + timedelta(days=30)),
        "no signature": payload,
        "empty": "",
        "three parts": token + ".x",
        "not base64": f"{payload}.{signature[:-1]}!",
        "too long": "a" * 5000 + "." + signature,
    }
    for what, attempt in attempts.items():
        with pytest.raises(InvalidRatingLink) as caught:
            verify(SECRET, attempt, NOW)
        assert caught.value.status == 404 and caught.value.code == "invalid_rating_link", what
        assert caught.value.message == "this rating link is not valid", f"{what}: the same answer whatever the cause"


def test_a_genuine_expired_link_is_410_but_a_forged_expired_one_is_404() -> None:
    token = sign(SECRET, "t1", "k1", "a1", NOW)
    with pytest.raises(RatingLinkExpired) as caught:
        verify(SECRET, token, NOW)
    assert caught.value.status == 410 and caught.value.code == "link_expired"
    assert isinstance(caught.value, InvalidRatingLink)
    assert verify(SECRET, token, NOW - timedelta(seconds=1)).ticket_id == "k1"
    with pytest.raises(InvalidRatingLink) as forged:
        verify(b"another-secret-of-32-bytes......", token, NOW)
    assert forged.value.status == 404


def test_signed_but_unreadable_payloads_and_weak_secrets_are_refused() -> None:
    from helpdesk.reports.csat import _mac

    for claim in (
        b"[1,2]",
        b"not json",
        json.dumps({"t": "t 1", "k": "k1", "a": None, "e": 1}).encode(),
        json.dumps({"t": "t1", "k": "k1", "a": None, "e": "soon"}).encode(),
    ):
        payload = base64.urlsafe_b64encode(claim).rstrip(b"=").decode()
        with pytest.raises(InvalidRatingLink) as caught:
            verify(SECRET, f"{payload}.{_mac(SECRET, payload)}", NOW)
        assert caught.value.status == 404
    with pytest.raises(ValueError, match="at least 16 bytes"):
        sign(b"short", "t1", "k1", None, NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        sign(SECRET, "t1", "k1", None, datetime(2026, 12, 1))


def test_five_links_one_per_score() -> None:
    links = rating_links("https://help.example.com/public/", "abc.def")
    assert links == {n: f"https://help.example.com/public/csat/abc.def?score={n}" for n in range(1, 6)}


# --- survey text --------------------------------------------------------------------------------

SURVEY_TEXTS = {
    "en": ("Hello Jane,", "How satisfied are you", "1 – Very unhappy", "5 – Very happy"),
    "fr": ("Bonjour Jane,", "Êtes-vous satisfait(e)", "1 – Très insatisfait(e)", "5 – Très satisfait(e)"),
    "de": ("Hallo Jane,", "Wie zufrieden sind Sie", "1 – Sehr unzufrieden", "5 – Sehr zufrieden"),
    "it": ("Buongiorno Jane,", "Quanto è soddisfatto/a", "1 – Molto insoddisfatto/a", "5 – Molto soddisfatto/a"),
    "es": ("Hola Jane:", "¿Está satisfecho/a", "1 – Muy insatisfecho/a", "5 – Muy satisfecho/a"),
}


@pytest.mark.parametrize("language", sorted(SURVEY_TEXTS))
def test_the_survey_in_each_language_lists_the_five_links(language: str) -> None:
    body = survey_body(language, make_store(display_name="Lampade"), LINKS, "Jane")
    hello, ask, worst, best = SURVEY_TEXTS[language]
    assert body.startswith(hello + "\n\n") and ask in body
    assert f"{worst}: {LINKS[1]}" in body and f"{best}: {LINKS[5]}" in body
    assert all(LINKS[n] in body for n in range(1, 6))
    assert body.index(LINKS[1]) < body.index(LINKS[5])
    assert body.endswith("\nLampade"), "without a signature: the store's name"
    assert "<" not in body, "plain text"


def test_the_survey_uses_the_stores_greeting_and_signature_in_the_buyers_language() -> None:
    store = make_store(
        greetings={"it": "Gentile", "en": "Hi"},
        signatures={"it": "Il team di Lampade"},
        brand_signature="The Lampade team",
    )
    italian = survey_body("it-CH", store, LINKS, "Giulia")
    assert italian.startswith("Gentile Giulia,\n\n") and italian.endswith(
        "Grazie per il suo feedback!\nIl team di Lampade"
    )
    english = survey_body("en", store, LINKS, None)
    assert english.startswith("Hi,\n\n") and english.endswith("\nThe Lampade team")
    anonymous = survey_body("de", make_store(), LINKS, None)
    assert anonymous.startswith("Hallo,\n\n")


def test_other_languages_get_the_whole_survey_in_english() -> None:
    store = make_store(greetings={"pt": "Olá", "en": "Hi"}, signatures={"pt": "Equipe", "en": "The team"})
    body = survey_body("pt-BR", store, LINKS, "Ana")
    assert body.startswith("Hi Ana,") and "1 – Very unhappy" in body and body.endswith("\nThe team")
    assert survey_body(None, make_store(), LINKS, "Ana").startswith("Hello Ana,")


# --- when ---------------------------------------------------------------------------------------


def test_should_request_only_when_a_handled_ticket_enters_resolved() -> None:
    store = make_store()
    open_ticket = resolved(status=TicketStatus.WAITING_ON_CUSTOMER)
    assert should_request(open_ticket, resolved(), store) is None
    assert (
        should_request(resolved(status=TicketStatus.OPEN), resolved(channel=Channel.CHAT, customer_email=None), store)
        is None
    ), "chat answers in the chat: no e-mail needed"
    cases: dict[str, tuple[Ticket | None, Ticket]] = {
        "not resolved": (open_ticket, resolved(status=TicketStatus.OPEN)),
        "created resolved": (None, resolved()),
        "already resolved": (resolved(), resolved(tags=["vip"])),
        "merged into another ticket": (open_ticket, resolved(merged_into="01HQ0000000000000000000009")),
        "already requested": (open_ticket, resolved(csat_requested_at=NOW - timedelta(days=3))),
        "amazon does not allow asking for a rating in our messages": (open_ticket, resolved(channel=Channel.AMAZON)),
        "spam": (open_ticket, resolved(tags=["spam"])),
        "no reply was sent on the ticket": (open_ticket, resolved(first_responded_at=None)),
        "no customer e-mail": (open_ticket, resolved(customer_email=None)),
    }
    for reason, (before, after) in cases.items():
        assert should_request(before, after, store) == reason
    assert (
        should_request(resolved(status=TicketStatus.OPEN), resolved(status=TicketStatus.CLOSED), store)
        == "not resolved"
    ), "closed (a merge) is not resolved"
    assert should_request(open_ticket, resolved(), make_store(disconnected_at=NOW)) == "the store is disconnected"


def test_marketplaces_are_never_surveyed() -> None:
    marketplaces = {Channel.AMAZON, Channel.EBAY, Channel.WALMART, Channel.MIRAKL, Channel.TIKTOK, Channel.ETSY}
    assert SURVEY_CHANNELS == set(Channel) - marketplaces
    for channel in marketplaces:
        reason = should_request(resolved(status=TicketStatus.OPEN), resolved(channel=channel), make_store())
        assert reason is not None and channel.value in reason


# --- request ------------------------------------------------------------------------------------


def test_request_stores_the_survey_and_the_request_time_once() -> None:
    repo, queue, ticket = setup(
        resolved(language="de"), display_name="Lampenhaus", signatures={"de": "Ihr Lampenhaus-Team"}
    )
    outcome = service(repo, queue).request(TENANT, ticket.ticket_id)
    assert outcome == f"queued on ticket {ticket.ticket_id}"
    view = repo.get_ticket_view(TENANT, ticket.ticket_id)
    (message,) = view.messages
    assert message.automation == Automation.SURVEY and message.delivery_status == DeliveryStatus.QUEUED
    assert message.direction == MessageDirection.OUTBOUND and message.author == "automation"
    assert message.author_id is None and message.status_after is None and message.language == "de"
    assert message.body.startswith("Hallo Jane,") and message.body.endswith("Ihr Lampenhaus-Team")
    assert view.ticket.csat_requested_at == NOW and view.ticket.status == TicketStatus.RESOLVED
    assert view.ticket.version == ticket.version + 1, "one conditional write"
    assert queue.published == [(TENANT, ticket.ticket_id, message.message_id)]

    link = next(line.split(": ", 1)[1] for line in message.body.splitlines() if line.startswith("4 – "))
    parts = urlsplit(link)
    assert link.startswith(f"{BASE}/csat/") and parts.query == "score=4"
    claim = verify(SECRET, parts.path.rsplit("/", 1)[1], NOW)
    assert (claim.tenant_id, claim.ticket_id, claim.agent_id) == (TENANT, ticket.ticket_id, "a1")
    assert claim.expires_at == NOW + timedelta(days=30)

    assert service(repo, queue).request(TENANT, ticket.ticket_id) == "not sent: already requested"
    assert len(queue.published) == 1 and len(repo.get_ticket_view(TENANT, ticket.ticket_id).messages) == 1


def test_request_rechecks_the_stored_ticket() -> None:
    repo, queue, ticket = setup(resolved(status=TicketStatus.OPEN))
    assert service(repo, queue).request(TENANT, ticket.ticket_id) == "not sent: the ticket is open, no longer resolved"
    repo.set_ticket(resolved(tags=["spam"]))
    assert service(repo, queue).request(TENANT, ticket.ticket_id) == "not sent: spam"
    assert service(repo, queue).request(TENANT, "01HQ000000000000000000GONE") == "not sent: the ticket is gone"
    assert queue.published == [] and repo.get_ticket(TENANT, ticket.ticket_id).csat_requested_at is None


def test_request_retries_a_conflict_and_names_the_last_agent_who_replied() -> None:
    reply = Message(
        tenant_id=TENANT,
        ticket_id="01HQ0000000000000000000000",
        message_id="01HQ00000000000000000000R1",
        direction=MessageDirection.OUTBOUND,
        channel=Channel.WOOCOMMERCE,
        store_id="s1",
        author="Ann",
        author_id="a7",
        body="Sorted!",
        delivery_status=DeliveryStatus.SENT,
        created_at=NOW,
    )
    repo, queue, ticket = setup(resolved(assignee_id=None))
    repo.messages[(TENANT, ticket.ticket_id)].append(reply)
    repo.fail_next("update_ticket", Conflict("raced"))
    assert service(repo, queue).request(TENANT, ticket.ticket_id).startswith("queued")
    survey = [m for m in repo.get_ticket_view(TENANT, ticket.ticket_id).messages if m.automation == Automation.SURVEY]
    assert len(survey) == 1 and len(queue.published) == 1
    token = urlsplit(survey[0].body.split(f"{BASE}/csat/", 1)[1]).path.split("?")[0]
    assert verify(SECRET, token, NOW).agent_id == "a7"

    repo2, queue2, ticket2 = setup()
    repo2.fail_next("update_ticket", Conflict("raced"), times=5)
    assert service(repo2, queue2).request(TENANT, ticket2.ticket_id) == "not sent: the ticket kept changing"
    assert queue2.published == []


# --- rate ---------------------------------------------------------------------------------------


def test_rate_records_the_score_on_the_ticket_and_agent_with_an_event() -> None:
    repo, queue, ticket = setup(resolved(language="fr"), display_name="Boutique")
    result = service(repo, queue, NOW + timedelta(days=1)).rate(token_for(ticket), 4, "  Très rapide, merci  ")
    assert result == RatingResult(
        ticket_id=ticket.ticket_id, score=4, comment="Très rapide, merci", store_name="Boutique", language="fr"
    )
    stored = repo.get_ticket_view(TENANT, ticket.ticket_id)
    assert (stored.ticket.csat_score, stored.ticket.csat_comment, stored.ticket.csat_agent_id) == (
        4,
        "Très rapide, merci",
        "a1",
    )
    assert stored.ticket.csat_at == NOW + timedelta(days=1) and stored.ticket.status == TicketStatus.RESOLVED
    (event,) = stored.messages
    assert event.direction == MessageDirection.EVENT
    assert event.body == "Customer rated 4/5 (agent a1): “Très rapide, merci”"


def test_rating_again_replaces_the_score_and_the_same_click_writes_nothing() -> None:
    repo, queue, ticket = setup()
    minutes = iter(range(100))
    rate = SurveyService(repo, queue, lambda: SECRET, BASE, clock=lambda: NOW + timedelta(minutes=next(minutes))).rate
    rate(token_for(ticket), 1, None)
    again = rate(token_for(ticket), 5, None)
    assert again.score == 5 and again.previous_score == 1
    assert rate(token_for(ticket), 5, "Great help").comment == "Great help"
    version = repo.get_ticket(TENANT, ticket.ticket_id).version
    assert rate(token_for(ticket), 5, None).comment == "Great help", "a click without a comment keeps it"
    assert repo.get_ticket(TENANT, ticket.ticket_id).version == version, "nothing changed: nothing written"
    stored = repo.get_ticket_view(TENANT, ticket.ticket_id)
    assert stored.ticket.csat_score == 5 and stored.ticket.csat_comment == "Great help"
    assert [m.body for m in stored.messages] == [
        "Customer rated 1/5 (agent a1)",
        "Customer changed their rating from 1/5 to 5/5 (agent a1)",
        "Customer commented on their 5/5 rating (agent a1): “Great help”",
    ]


def test_preview_checks_link_and_score_and_writes_nothing() -> None:
    # A rating link's GET: mail scanners open every link of a message, so opening one records nothing.
    repo, queue, ticket = setup(resolved(language="it"), display_name="Negozio")
    preview = service(repo, queue).preview(token_for(ticket), 2)
    assert preview == RatingResult(ticket_id=ticket.ticket_id, score=2, store_name="Negozio", language="it")
    assert repo.get_ticket(TENANT, ticket.ticket_id).csat_score is None
    assert repo.get_ticket_view(TENANT, ticket.ticket_id).messages == []
    with pytest.raises(InvalidScore):
        service(repo, queue).preview(token_for(ticket), 9)
    with pytest.raises(InvalidRatingLink):
        service(repo, queue).preview(token_for(ticket) + "x", 2)
    with pytest.raises(RatingLinkExpired):
        service(repo, queue, NOW + timedelta(days=31)).preview(token_for(ticket), 2)


def test_rate_refuses_bad_scores_and_links_and_bounds_the_comment() -> None:
    repo, queue, ticket = setup()
    rate = service(repo, queue).rate
    for score in (0, 6, -1, True):
        with pytest.raises(InvalidScore) as caught:
            rate(token_for(ticket), score, None)
        assert caught.value.status == 422 and isinstance(caught.value, ValueError)
    with pytest.raises(InvalidRatingLink) as gone:
        rate(sign(SECRET, TENANT, "01HQ000000000000000000GONE", None, NOW + timedelta(days=1)), 3, None)
    assert gone.value.status == 404
    with pytest.raises(RatingLinkExpired):
        service(repo, queue, NOW + timedelta(days=31)).rate(token_for(ticket), 3, None)
    assert repo.get_ticket(TENANT, ticket.ticket_id).csat_score is None
    assert rate(token_for(ticket), 2, "x" * 5000).comment == "x" * 1000
    assert rate(token_for(ticket), 2, "   ").comment == "x" * 1000, "a blank comment is no comment"


# --- pages --------------------------------------------------------------------------------------


def test_the_thank_you_page_is_translated_self_contained_and_escaped() -> None:
    result = RatingResult(
        ticket_id="k1",
        score=4,
        comment="</textarea><script>alert(1)</script>",
        store_name="<script>alert('x')</script>",
        language="de-AT",
    )
    page = thank_you_page(result)
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;/textarea&gt;" in page
    assert '<html lang="de">' in page and "Sie haben unseren Kundenservice mit 4/5 bewertet" in page
    assert '<form method="post">' in page and 'name="comment"' in page
    assert page.count('name="score"') == 5 and 'value="4" checked' in page and "Sehr zufrieden" in page
    assert "http" not in page and "src=" not in page, "no external assets"


def test_the_confirm_page_posts_the_score_at_once_and_offers_a_button_without_javascript() -> None:
    page = confirm_page(RatingResult(ticket_id="k1", score=5, store_name="<b>Shop</b>", language="es"))
    assert '<html lang="es">' in page and "Su valoración: 5/5" in page and "Enviar mi valoración" in page
    assert '<form method="post" id="rate"><input type="hidden" name="score" value="5">' in page
    assert '<script>document.getElementById("rate").submit();</script>' in page
    assert "<b>" not in page and "&lt;b&gt;Shop&lt;/b&gt;" in page
    assert "http" not in page and "src=" not in page, "no external assets"


def test_the_error_page_shows_the_message_in_the_buyers_language() -> None:
    expired = RatingLinkExpired("this rating link has expired")
    assert error_message(expired, "fr") == "Ce lien d'évaluation a expiré. Merci tout de même !"
    assert error_message(InvalidRatingLink("x"), "xx") == "This rating link is not valid."
    assert error_message(Conflict("x"), "es").startswith("No se ha podido registrar")
    page = error_page("<b>Store</b> & co", "it")
    assert '<html lang="it">' in page and "&lt;b&gt;Store&lt;/b&gt; &amp; co" in page and "<b>" not in page
