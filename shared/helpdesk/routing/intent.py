"""Transparent multilingual intent classifier for buyer messages (EN, FR, DE, IT, ES). Pure Python.

Decision: hand-written phrase rules, not a trained model. Every rule is a regular expression over a
normalised text (case-folded, accents stripped, quoted e-mail lines dropped), with a weight, and the
result lists the rules that fired with the words they matched, so an agent sees *why* a ticket was
tagged. Rules are not restricted to one language: buyers mix languages and connector language hints
are often the store default, so every rule runs on every message (the rule name says its language).

How a message is scored:

1. A channel signal (``InboundMessage.cancellation_requested``: an Amazon buyer cancellation request,
   Walmart INTENT_TO_CANCEL, a TikTok cancel request) forces CANCELLATION with confidence 1.0; the
   text rules still run and their intents are listed as secondary.
2. Each rule adds its weight to its intent once, however often it matches, and the same words count
   once per intent (overlapping matches of one intent, such as the cognates "facture"/"factura" or a
   broad and a narrow form of one phrase, keep only the heavier rule). Strong phrases weigh 1.0 and
   fire an intent alone; weak cues (0.3-0.7) only fire together. Counter-rules weigh less than zero:
   "was cancelled" / "wurde storniert" report a cancellation the seller made, not a request.
3. Negation: a negatable rule preceded in the same clause (up to three words) by a negator ("don't
   cancel", "ne pas annuler", "nicht stornieren", "non annullate", "no cancelen", "no need to") does
   not count and is listed as ``negated``. German also looks after the verb ("stornieren Sie das
   nicht"), French after it for the informal "annulez pas". Rules whose phrase contains the negation
   itself ("doesn't work", "noch nicht angekommen", "ne l'envoyez pas") are not negatable.
4. ``unless``: some rules are skipped when their sentence names something else ("the discount code
   isn't working" is not a defective item; "put my company address on the invoice" is not an
   address change; "the invoice hasn't arrived" is not a lost parcel).
5. Pre-sale: "before I order", "if I buy", "do you ship to", "prima di ordinare"... mark a question
   asked before buying; intents about an existing order (cancellation, address, damage, return,
   WISMO) are then dropped and the message is a PRODUCT_QUESTION ("can I cancel within 24 h if I
   order today?" is a policy question, not a cancellation). Cancellation-policy questions likewise.
6. An intent fires when its score reaches ``FIRE_THRESHOLD``; the winner is the first fired intent in
   ``PRIORITY``; the other fired intents are ``secondary``; nothing fired means OTHER.
7. ``language_hint`` is the language the caller passed (the connector's), else a guess from function
   words (:func:`detect_language`), else None. It is informational: rules of every language always run.

Priority (first wins), ordered by how much a late answer costs:
CANCELLATION (must be acted on before the parcel ships; drives the short SLA and marketplace cancel
rates) > ADDRESS_CHANGE (also only possible before shipping) > DAMAGED_WRONG_ITEM (claim deadlines,
evidence, A-to-z risk; "it arrived broken, I want a refund" is a damage case, not a plain return) >
RETURN_REFUND (money; "where is my refund" is a refund, not WISMO) > WISMO > INVOICE_REQUEST >
PRODUCT_QUESTION > OTHER.

Labelling guide used for tests/data/intents.jsonl (the same decisions as the rules): a threat to
cancel ("if it hasn't shipped by Friday I'm cancelling") is a CANCELLATION; "do not cancel" with
nothing else is OTHER; a seller-made cancellation ("why was my order cancelled?") is OTHER, or a
refund when the buyer asks for the money; cancellation or return policy questions before buying are
PRODUCT_QUESTION; "delivered to the wrong address" is WISMO (the buyer wants the parcel), changing
the delivery address is ADDRESS_CHANGE; a company address or VAT id on the invoice is
INVOICE_REQUEST; expense reimbursement ("rimborso spese") is not a refund.

Limits (``python -m bench.intent_report`` prints the figures): rules only know the words they list.
On messages written after the rules were frozen, about a third fell through to OTHER: wording the
rules had never seen, e.g. "disdire l'ordine", "a che punto è la spedizione", "zieht kein Papier ein".
Falling to OTHER is the safe failure (untagged, default SLA), and a wrong tag is rarer. The cure is to
add phrases from tickets agents re-tag, each with an example in tests/unit/test_intent.py.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import Field

from helpdesk.core.models import InboundMessage, Intent, Model
from helpdesk.languages.tags import primary_language
from helpdesk.routing.intent_phrases import RULES, Rule

FIRE_THRESHOLD = 1.0

PRIORITY: tuple[Intent, ...] = (
    Intent.CANCELLATION,
    Intent.ADDRESS_CHANGE,
    Intent.DAMAGED_WRONG_ITEM,
    Intent.RETURN_REFUND,
    Intent.WISMO,
    Intent.INVOICE_REQUEST,
    Intent.PRODUCT_QUESTION,
    Intent.OTHER,
)

# Intents about an order that exists: a pre-sale question cannot be one of them.
ORDER_BOUND = frozenset(
    {Intent.CANCELLATION, Intent.ADDRESS_CHANGE, Intent.DAMAGED_WRONG_ITEM, Intent.RETURN_REFUND, Intent.WISMO}
)

LANGUAGES = ("en", "fr", "de", "it", "es")


class IntentResult(Model):
    intent: Intent
    confidence: float = Field(ge=0.0, le=1.0)
    matched: list[str] = Field(default_factory=list, description="Rules that fired, with the words they matched")
    language_hint: str | None = None
    secondary: list[Intent] = Field(default_factory=list, description="Other intents that fired, by priority")


# --- normalisation ----------------------------------------------------------------------------------------------

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "«": '"', "»": '"', "“": '"', "”": '"'})


def normalise(text: str) -> str:
    """Case-fold, strip accents (é→e, ü→u, ñ→n, ß→ss) and unify apostrophes: rules match the bare letters,
    so "annulé", "annule" and "ANNULE" are the same word, as buyers typing without accents expect."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()


def _drop_quoted(text: str) -> str:
    """E-mail replies quote the seller's earlier answer with "> ": that text is not the buyer's request."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))


# --- negation ---------------------------------------------------------------------------------------------------

_NEGATORS = frozenset(
    {
        # en
        "not", "no", "never", "dont", "don't", "doesnt", "doesn't", "didnt", "didn't", "wont", "won't", "isnt",
        "isn't", "shouldnt", "shouldn't", "without", "nothing", "nor",
        # fr ("n" is the elided "n'")
        "ne", "n", "pas", "jamais", "sans", "rien",
        # de
        "nicht", "kein", "keine", "keinen", "keiner", "keinem", "keines", "nie", "niemals", "ohne", "nichts",
        # it
        "non", "senza", "mai", "nessun", "nessuno", "nessuna", "niente", "nulla",
        # es
        "nunca", "sin", "ni", "nada", "tampoco",
    }
)  # fmt: skip
_NEGATION_WINDOW = 3
_TOKEN = re.compile(r"[a-z0-9]+(?:'t\b)?")
_CLAUSE_BREAK = re.compile(r"[.!?;:,\n()]|\b(but|mais|aber|sondern|ma|pero|however|though)\b")
_DE_POST_STOP = frozenset({"weil", "da", "denn", "dass", "und", "aber", "sondern", "wenn", "ob", "sonst", "oder"})


def _clause_before(text: str, start: int) -> str:
    head = text[:start]
    cut = 0
    for match in _CLAUSE_BREAK.finditer(head):
        cut = match.end()
    return head[cut:]


def _clause_after(text: str, end: int) -> str:
    tail = text[end:]
    match = _CLAUSE_BREAK.search(tail)
    return tail[: match.start()] if match else tail


def _is_negated(text: str, start: int, end: int, language: str) -> bool:
    before = _TOKEN.findall(_clause_before(text, start))[-_NEGATION_WINDOW:]
    if any(token in _NEGATORS for token in before):
        return True
    if language == "de":  # verb-second: "stornieren Sie das bitte nicht", the negator closing the clause
        after = _TOKEN.findall(_clause_after(text, end))
        for index, token in enumerate(after[:4]):
            if token in _DE_POST_STOP:
                break
            if token in ("nicht", "kein", "keine") and after[index + 1 :] in ([], ["mehr"]):
                return True
    if language == "fr":  # spoken French drops the "ne": "annulez pas ma commande"
        after = _TOKEN.findall(_clause_after(text, end))[:1]
        if after == ["pas"]:
            return True
    return False


def _sentence(text: str, start: int, end: int) -> str:
    left = max(text.rfind(mark, 0, start) for mark in ".!?\n")
    rights = [i for i in (text.find(mark, end) for mark in ".!?\n") if i != -1]
    return text[left + 1 : min(rights) if rights else len(text)]


# --- language hint ----------------------------------------------------------------------------------------------

_STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset("the and my is it i you to of for please order was have with this can what where when how thanks"
                    " hi hello your not would could just at are me we from on be do did has an if but our get got"
                    " isn't don't".split()),
    "fr": frozenset("le les des du et je vous mon ma mes est pas une pour que qui merci bonjour commande avec sur"
                    " ce au svp votre suis ai ne de la en il plus ou sont quand peut puis".split()),
    "de": frozenset("der die das und ich sie mein meine ist nicht ein eine bitte mit fur auf den dem bestellung hallo"
                    " danke wo wann habe noch ihr es zu im an bei von kann keine mir mich".split()),
    "it": frozenset("il lo di che non per mio mia ordine ho sono grazie buongiorno ciao con del della mi potete come"
                    " salve gli anche piu e la un una al nel nella ancora si puo dal dalla alla posso questo questa"
                    " vorrei perche".split()),
    "es": frozenset("el los las que y por mi mis pedido he es gracias hola con del para me pueden esta como"
                    " quiero lo ya la un una al no se puedo donde de en muy pero porque este cuando".split()),
}  # fmt: skip
_LETTER_HINTS = {"es": "ñ¿¡áíóú", "de": "äöüß", "fr": "çœêâîûëï", "it": "ìò"}


def detect_language(text: str) -> str | None:
    """Best guess among EN/FR/DE/IT/ES from function words and telltale letters; None when unsure
    (fewer than two hits, or a tie)."""
    lowered = text.casefold()
    tokens = _TOKEN.findall(normalise(text))
    scores = {lang: sum(token in words for token in tokens) for lang, words in _STOPWORDS.items()}
    for lang, letters in _LETTER_HINTS.items():
        if any(letter in lowered for letter in letters):
            scores[lang] += 2
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    if top < 2 or top == second:
        return None
    return best


def _language_code(language: str | None) -> str | None:
    return primary_language(language) or None


# --- classification ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Evidence:
    scores: dict[Intent, float]
    matched: list[str]
    presale: bool


def _snippet(text: str, start: int, end: int) -> str:
    return " ".join(text[start:end].split())[:60]


def _collect(text: str) -> _Evidence:
    """Run every rule; a rule counts once (its first match that is neither negated nor skipped). The same words
    count once per intent: where two rules of one intent match overlapping text (cognates such as "facture" /
    "factura", a broad and a narrow form of one phrase), only the heavier counts. Counter-rules always count."""
    found: list[tuple[int, Rule, int, int, str]] = []  # (rule index, rule, start, end, label)
    notes: dict[int, list[str]] = {}
    for index, rule in enumerate(RULES):
        for match in rule.pattern.finditer(text):
            start, end = match.span()
            label = f'{rule.intent.value}/{rule.name} "{_snippet(text, start, end)}"'
            if rule.unless is not None and rule.unless.search(_sentence(text, start, end)):
                notes.setdefault(index, []).append(f"skipped {label}")
                continue
            if rule.negatable and rule.weight > 0 and _is_negated(text, start, end, rule.name.split(":", 1)[0]):
                notes.setdefault(index, []).append(f"negated {label}")
                continue
            found.append((index, rule, start, end, label))
            break

    accepted: set[int] = set()
    spans: dict[Intent, list[tuple[int, int]]] = {}
    for index, rule, start, end, _label in sorted(found, key=lambda item: -item[1].weight):
        taken = spans.setdefault(rule.intent, [])
        if rule.weight > 0 and any(start < other_end and other_start < end for other_start, other_end in taken):
            continue
        if rule.weight > 0:
            taken.append((start, end))
        accepted.add(index)

    scores: dict[Intent, float] = {}
    presale = False
    for index, rule, _start, _end, label in found:
        if index in accepted:
            notes.setdefault(index, []).append(f"{label} {rule.weight:+g}")
            scores[rule.intent] = scores.get(rule.intent, 0.0) + rule.weight
            presale = presale or rule.presale
    matched = [note for index in sorted(notes) for note in notes[index]]
    return _Evidence(scores=scores, matched=matched, presale=presale)


def _confidence(winner_score: float, fired_scores: Iterable[float]) -> float:
    """Saturating in the winner's evidence (one strong rule ≈ 0.65, two ≈ 0.88) and lowered when other
    intents fired too (the share of the winner in all fired evidence)."""
    total = sum(fired_scores)
    strength = 1.0 - 0.35**winner_score
    share = winner_score / total if total > 0 else 1.0
    return round(min(0.99, strength * (0.6 + 0.4 * share)), 3)


def classify(
    text: str,
    subject: str | None = None,
    *,
    language: str | None = None,
    cancellation_signal: bool = False,
) -> IntentResult:
    """Classify a buyer message (subject and body) into one :class:`Intent`; see the module docstring."""
    raw = _drop_quoted(text)
    if subject:
        raw = f"{subject}\n{raw}"
    normalised = normalise(raw)
    detected = detect_language(raw)
    hint = _language_code(language) or detected

    evidence = _collect(normalised)
    scores = evidence.scores
    matched = list(evidence.matched)

    if evidence.presale:
        dropped = [intent for intent in PRIORITY if intent in ORDER_BOUND and scores.get(intent, 0.0) >= FIRE_THRESHOLD]
        for intent in ORDER_BOUND:
            scores.pop(intent, None)
        if dropped:
            # A policy question asked before buying ("can I cancel if I order today?"): it is about the product.
            scores[Intent.PRODUCT_QUESTION] = scores.get(Intent.PRODUCT_QUESTION, 0.0) + 0.5
            matched.append("presale: " + ", ".join(intent.value for intent in dropped) + " read as a pre-sale question")

    fired: list[Intent] = [
        intent for intent in PRIORITY if intent is not Intent.OTHER and scores.get(intent, 0.0) >= FIRE_THRESHOLD
    ]

    if cancellation_signal:
        matched.insert(0, "signal: channel cancellation request")
        secondary: list[Intent] = [intent for intent in fired if intent is not Intent.CANCELLATION]
        return IntentResult(
            intent=Intent.CANCELLATION, confidence=1.0, matched=matched, language_hint=hint, secondary=secondary
        )

    if not fired:
        other = max(scores.get(Intent.OTHER, 0.0), 0.0)
        partial = max((score for intent, score in scores.items() if intent is not Intent.OTHER), default=0.0)
        confidence = 0.5 + 0.4 * (1.0 - 0.35**other) - 0.3 * max(partial, 0.0)
        return IntentResult(
            intent=Intent.OTHER,
            confidence=round(min(0.95, max(0.1, confidence)), 3),
            matched=matched,
            language_hint=hint,
            secondary=[],
        )

    winner, others = fired[0], fired[1:]
    return IntentResult(
        intent=winner,
        confidence=_confidence(scores[winner], (scores[intent] for intent in fired)),
        matched=matched,
        language_hint=hint,
        secondary=others,
    )


def classify_message(message: InboundMessage) -> IntentResult:
    """Classify a canonical inbound message: subject + body, the connector's language, the channel signal."""
    return classify(
        message.body,
        message.subject,
        language=message.language,
        cancellation_signal=message.cancellation_requested,
    )
