"""E-mail: inbound messages received by Amazon SES, parsed from raw MIME, and replies built as RFC 5322
messages. Any store can receive e-mail through this module (a shop's support address, Etsy's e-mail
notifications, Amazon's buyer–seller relay: ``amazon.py`` builds on it). Standard library ``email``
package only (``email.policy.default``); no HTTP, no AWS SDK: the caller reads S3 and sends with SES.

Parsing (``parse_mime``), SES receipt verdicts (``SesReceipt``), threading and replies
(``build_reply``), quote stripping (``strip_quoted``) and order references (``find_order_refs``).
``auto_generated`` marks auto-replies and bounces: the caller stores them but must not open tickets or
answer them.

Notes and sources: docs/channels/email.md.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import errors as email_errors
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

from pydantic import ValidationError

from helpdesk.channels import values
from helpdesk.core.errors import MalformedPayload
from helpdesk.core.models import Attachment, Channel, InboundMessage, Store

# Header parsing in the stdlib can fail in several ways on hostile input; all mean "unreadable".
_HEADER_ERRORS = (ValueError, TypeError, IndexError, AttributeError, LookupError, email_errors.MessageError)

_SES_VERDICTS = ("spam", "virus", "spf", "dkim", "dmarc")
_FAIL = "FAIL"

_MSGID_IN_BRACKETS = re.compile(r"<\s*([^<>\s]+?)\s*>")
_EMAIL_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_MAX_REFERENCES = 10  # build_reply keeps the first id plus the last ten
_STANDARD_HEADERS = ("from", "to", "subject", "date", "message-id", "content-type", "mime-version", "sender")
_AUTO_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_BODY_TYPES = {"text/plain", "text/html"}
_LATIN1_NAMES = {"us-ascii", "ascii", "iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "cp819"}


# --- SES receipt ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SesReceipt:
    """One SES receiving event: who sent what to whom, and what SES's checks said."""

    message_id: str
    recipients: tuple[str, ...]
    source: str
    timestamp: datetime
    spam: str
    virus: str
    spf: str
    dkim: str
    dmarc: str
    action_type: str
    s3_bucket: str | None = None
    s3_key: str | None = None
    subject: str | None = None

    @property
    def rejected(self) -> bool:
        """The message carries a virus: it must not be stored or shown."""
        return self.virus == _FAIL

    @property
    def suspicious(self) -> bool:
        """Spam, or a sender that failed SPF, DKIM or DMARC: keep, flag, do not trust the From."""
        return _FAIL in (self.spam, self.spf, self.dkim, self.dmarc)

    def object_key(self, prefix: str = "") -> str:
        """Where the S3 action stored the raw message: its ``objectKey`` when the event names the S3
        action, else the rule's object key prefix + SES's message id."""
        return self.s3_key or f"{prefix}{self.message_id}"


def parse_ses_event_record(record: dict[str, Any]) -> SesReceipt:
    """One element of an SES event's ``Records`` (``{"eventSource": "aws:ses", "ses": {...}}``), or the
    ``{"mail": ..., "receipt": ...}`` object of an SES receipt notification."""
    if not isinstance(record, dict):
        raise MalformedPayload("SES record is not an object")
    source = record.get("eventSource")
    if source is not None and source != "aws:ses":
        raise MalformedPayload(f"not an SES record: eventSource is {source!r}")
    ses = record.get("ses", record)
    if not isinstance(ses, dict):
        raise MalformedPayload("SES record has no 'ses' object")
    mail, receipt = ses.get("mail"), ses.get("receipt")
    if not isinstance(mail, dict) or not isinstance(receipt, dict):
        raise MalformedPayload("SES record needs 'ses.mail' and 'ses.receipt' objects")
    message_id = mail.get("messageId")
    if not isinstance(message_id, str) or not message_id.strip():
        raise MalformedPayload("SES record has no 'mail.messageId'")
    recipients = receipt.get("recipients")
    if not isinstance(recipients, list) or not recipients or not all(isinstance(r, str) for r in recipients):
        raise MalformedPayload("SES record has no 'receipt.recipients' list")
    timestamp = receipt.get("timestamp") or mail.get("timestamp")
    try:
        moment = _utc(datetime.fromisoformat(str(timestamp).replace("Z", "+00:00")))
    except ValueError:
        raise MalformedPayload(f"SES record timestamp is not ISO 8601: {timestamp!r}") from None
    verdicts = {}
    for name in _SES_VERDICTS:
        verdict = receipt.get(f"{name}Verdict")
        status = verdict.get("status") if isinstance(verdict, dict) else None
        verdicts[name] = str(status).upper() if status else "MISSING"
    action = receipt.get("action")
    if not isinstance(action, dict) or not isinstance(action.get("type"), str):
        raise MalformedPayload("SES record has no 'receipt.action.type'")
    bucket = key = None
    if action["type"] == "S3":
        bucket, key = action.get("bucketName"), action.get("objectKey")
        if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
            raise MalformedPayload("SES S3 action has no 'bucketName'/'objectKey'")
    common = mail.get("commonHeaders")
    subject = common.get("subject") if isinstance(common, dict) else None
    return SesReceipt(
        message_id=message_id.strip(),
        recipients=tuple(r.strip().lower() for r in recipients),
        source=str(mail.get("source") or ""),
        timestamp=moment,
        action_type=action["type"],
        s3_bucket=bucket,
        s3_key=key,
        subject=subject if isinstance(subject, str) else None,
        **verdicts,
    )


# --- MIME parsing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes = field(repr=False)
    content_id: str | None = None
    inline: bool = False

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    from_address: str | None
    from_name: str | None
    reply_to: str | None
    to: list[str]
    cc: list[str]
    subject: str
    date: datetime | None
    text: str
    html: str | None
    attachments: list[ParsedAttachment]
    auto_generated: bool
    auto_reason: str | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    def header(self, name: str) -> str | None:
        """The first value of a header (decoded), by case-insensitive name."""
        return self.headers.get(name.lower())


def parse_mime(raw: bytes) -> ParsedEmail:
    if not isinstance(raw, bytes | bytearray) or not raw.strip():
        raise MalformedPayload("e-mail is empty")
    try:
        msg = BytesParser(policy=policy.default).parsebytes(bytes(raw))
    except (*_HEADER_ERRORS, RecursionError) as exc:
        raise MalformedPayload(f"e-mail could not be parsed: {type(exc).__name__}") from None
    names = {k.lower() for k in msg.keys()}
    if not names:
        raise MalformedPayload("not a MIME message: no header fields before the body")
    if not names.intersection(_STANDARD_HEADERS):
        raise MalformedPayload("not a MIME message: none of From, To, Subject, Date, Message-ID, Content-Type")
    headers = _headers(msg)
    from_name, from_address = _first_address(msg, "from")
    _, reply_to = _first_address(msg, "reply-to")
    body = _Body()
    body.collect(msg)
    text = "\n".join(t for t in body.plain if t.strip())
    html_text = "\n".join(body.html) if body.html else None
    if not text.strip() and html_text:
        text = html_to_text(html_text)
    auto_reason = _auto_generated(msg, headers, from_address)
    return ParsedEmail(
        message_id=_msgid(headers.get("message-id")),
        in_reply_to=_msgid(headers.get("in-reply-to")),
        references=_msgids(headers.get("references")),
        from_address=from_address,
        from_name=from_name,
        reply_to=reply_to,
        to=_addresses(msg, "to"),
        cc=_addresses(msg, "cc"),
        subject=_one_line(headers.get("subject") or ""),
        date=_date(msg),
        text=_normalise_newlines(text).strip("\n"),
        html=html_text,
        attachments=body.attachments,
        auto_generated=auto_reason is not None,
        auto_reason=auto_reason,
        headers=headers,
    )


class _Body:
    """Walks a message: inline text parts make the body, every other part is an attachment."""

    def __init__(self) -> None:
        self.plain: list[str] = []
        self.html: list[str] = []
        self.attachments: list[ParsedAttachment] = []

    def collect(self, part: Message, depth: int = 0) -> None:
        if depth > 50:
            raise MalformedPayload("e-mail nests MIME parts more than 50 deep")
        ctype = part.get_content_type()
        if ctype.startswith("message/") or (part.is_multipart() and not ctype.startswith("multipart/")):
            self._attach_message(part, ctype)
            return
        if part.is_multipart():
            for child in part.get_payload() or []:
                if isinstance(child, Message):
                    self.collect(child, depth + 1)
            return
        disposition = _safe(part.get_content_disposition)
        filename = _filename(part)
        if ctype.startswith("multipart/"):  # a multipart without a usable boundary: read it as text
            self.plain.append(_decode_text(part))
            return
        if ctype in _BODY_TYPES and disposition != "attachment" and not filename:
            text = _decode_text(part)
            (self.plain if ctype == "text/plain" else self.html).append(text)
            return
        data = _payload_bytes(part)
        content_id = _msgid(_safe(lambda: part.get("content-id")))
        self.attachments.append(
            ParsedAttachment(
                filename=filename or _default_filename(ctype, len(self.attachments) + 1),
                content_type=ctype,
                data=data,
                content_id=content_id,
                inline=disposition == "inline" or (disposition is None and content_id is not None),
            )
        )

    def _attach_message(self, part: Message, ctype: str) -> None:
        payload = part.get_payload()
        if isinstance(payload, list):
            data = b"".join(_as_bytes(p) + (b"\n" if ctype == "message/delivery-status" else b"") for p in payload)
        else:
            data = _payload_bytes(part)
        extension = ".eml" if ctype == "message/rfc822" else ".txt"
        filename = _filename(part) or f"{ctype.split('/', 1)[1]}{extension}"
        self.attachments.append(ParsedAttachment(filename=filename, content_type=ctype, data=data, inline=False))


def _as_bytes(part: Any) -> bytes:
    if isinstance(part, Message):
        try:
            return part.as_bytes(policy=policy.default)
        except (*_HEADER_ERRORS, UnicodeError):
            return part.as_bytes(policy=policy.compat32)
    return str(part).encode("utf-8", "replace")


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except _HEADER_ERRORS:
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""


def _decode_text(part: Message) -> str:
    data = _payload_bytes(part)
    declared = (_safe(part.get_content_charset) or "").strip().lower()
    return _normalise_newlines(decode_bytes(data, declared))


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Text from bytes whatever the declared charset says: never raises."""
    declared = (declared or "").strip().lower()
    candidates: list[str] = []
    if declared in _LATIN1_NAMES:
        candidates = ["utf-8", "cp1252"] if declared in {"us-ascii", "ascii"} else ["cp1252"]
    elif declared:
        candidates = [declared]
    for name in [*candidates, "utf-8", "cp1252"]:
        try:
            return data.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")


def _filename(part: Message) -> str | None:
    name = _safe(part.get_filename)
    if not name:
        return None
    name = str(name)
    if "=?" in name:
        try:
            name = str(make_header(decode_header(name)))
        except _HEADER_ERRORS:
            pass
    name = _one_line(name).replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name or None


def _default_filename(ctype: str, index: int) -> str:
    subtype = ctype.split("/", 1)[-1].split("+", 1)[0] or "bin"
    return f"part-{index}.{subtype}"


def _safe(call: Any) -> Any:
    try:
        return call()
    except _HEADER_ERRORS:
        return None


def _headers(msg: Message) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name in msg.keys():
        key = name.lower()
        if key in headers:
            continue
        value = _safe(lambda n=name: msg.get(n))
        if value is None:
            continue
        try:
            headers[key] = str(value)
        except _HEADER_ERRORS:
            continue
    return headers


def _address_list(msg: Message, name: str) -> list[tuple[str, str]]:
    """(display name, address) pairs of an address header, best effort."""
    pairs: list[tuple[str, str]] = []
    header = _safe(lambda: msg.get(name))
    if header is None:
        return pairs
    addresses = _safe(lambda: header.addresses)
    if addresses:
        for addr in addresses:
            spec = (_safe(lambda a=addr: a.addr_spec) or "").strip()
            pairs.append((str(addr.display_name or "").strip(), spec))
    else:
        pairs = [(n.strip(), a.strip()) for n, a in getaddresses([str(header)])]
    return [(n, a.lower()) for n, a in pairs if a and "@" in a]


def _first_address(msg: Message, name: str) -> tuple[str | None, str | None]:
    pairs = _address_list(msg, name)
    if not pairs:
        return None, None
    display, address = pairs[0]
    return (_one_line(display) or None), address


def _addresses(msg: Message, name: str) -> list[str]:
    return _dedup(a for _, a in _address_list(msg, name))


def _msgid(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    match = _MSGID_IN_BRACKETS.search(text)
    if match:
        return match.group(1)
    token = text.split()[0] if text.split() else ""
    token = token.strip("<>")
    return token or None


def _msgids(value: Any) -> list[str]:
    if value is None:
        return []
    text = str(value)
    found = _MSGID_IN_BRACKETS.findall(text)
    if not found:
        found = [t.strip("<>") for t in text.split() if t.strip("<>")]
    return _dedup(found)


def _date(msg: Message) -> datetime | None:
    header = _safe(lambda: msg.get("date"))
    if header is None:
        return None
    moment = _safe(lambda: header.datetime)
    if moment is None:
        try:
            moment = parsedate_to_datetime(str(header))
        except (*_HEADER_ERRORS,):
            return None
    if not isinstance(moment, datetime):
        return None
    return _utc(moment)


def _auto_generated(msg: Message, headers: dict[str, str], from_address: str | None) -> str | None:
    auto_submitted = headers.get("auto-submitted", "").split(";", 1)[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in ("x-autoreply", "x-autorespond"):
        if name in headers:
            return f"{name}: {headers[name].strip()}"
    if from_address and from_address.split("@", 1)[0] in {"mailer-daemon", "postmaster"}:
        return f"bounce sender {from_address}"
    if headers.get("return-path", "").strip() == "<>":
        return "empty Return-Path"
    if msg.get_content_type() == "multipart/report":
        report = _safe(lambda: msg.get_param("report-type")) or "report"
        return f"multipart/report ({report})"
    return None


# --- HTML to text ---------------------------------------------------------------------------------

_BLOCK_TAGS = {
    "p",
    "div",
    "li",
    "tr",
    "table",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "section",
    "article",
    "header",
    "footer",
    "address",
    "dt",
    "dd",
    "hr",
    "center",
    "form",
}
_DROP_TAGS = {"script", "style", "head", "title", "noscript", "template", "svg"}
_QUOTE_OPEN, _QUOTE_CLOSE = "\x00q+\x00", "\x00q-\x00"


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.dropping = 0
        self.pre = 0

    def _line_break(self) -> None:
        """End the current line unless it is already ended (blocks do not stack blank lines)."""
        if self.out and not self.out[-1].endswith("\n"):
            self.out.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP_TAGS:
            self.dropping += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag == "blockquote":
            self._line_break()
            self.out.append(f"{_QUOTE_OPEN}\n")
        elif tag in _BLOCK_TAGS:
            self.pre += tag == "pre"
            self._line_break()
        elif tag in {"td", "th"}:
            self.out.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"br", "hr"}:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP_TAGS:
            self.dropping = max(0, self.dropping - 1)
        elif tag == "blockquote":
            self._line_break()
            self.out.append(f"{_QUOTE_CLOSE}\n")
        elif tag in _BLOCK_TAGS:
            if tag == "pre":
                self.pre = max(0, self.pre - 1)
            self._line_break()

    def handle_data(self, data: str) -> None:
        if self.dropping:
            return
        if not self.pre:
            data = re.sub(r"[ \t\r\n\f]+", " ", data)
        self.out.append(data)


def html_to_text(markup: str) -> str:
    """Readable text from HTML: scripts and styles dropped, paragraphs and breaks kept as lines."""
    parser = _TextExtractor()
    try:
        parser.feed(markup)
        parser.close()
    except (AssertionError, ValueError):  # html.parser on badly broken markup
        return html.unescape(re.sub(r"<[^>]*>", " ", markup)).strip()
    lines: list[str] = []
    depth = 0
    for line in "".join(parser.out).replace("\xa0", " ").split("\n"):
        if line.strip() == _QUOTE_OPEN:
            depth += 1
            continue
        if line.strip() == _QUOTE_CLOSE:
            depth = max(0, depth - 1)
            continue
        line = line.strip()
        if depth and line:
            line = "> " * depth + line
        lines.append(line)
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --- quoted history and signatures ----------------------------------------------------------------

_ATTRIBUTIONS = [
    re.compile(r"^\s*On\s.+\swrote\s*:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Le\s.+\sa\s+(?:é|e)crit\s*:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Am\s.+\sschrieb\b.*:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Il\s.+\sha\s+scritto\s*:\s*$", re.IGNORECASE),
    re.compile(r"^\s*El\s.+\sescribi(?:ó|o)\s*:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Op\s.+\sschreef\b.*:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Em\s.+\sescreveu\s*:\s*$", re.IGNORECASE),
]
_ATTRIBUTION_START = re.compile(r"^\s*(?:On|Le|Am|Il|El|Op|Em)\s+\S", re.IGNORECASE)
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{2,}\s*(?:Original\s+Message|Ursprüngliche\s+Nachricht|Originalnachricht|Message\s+d['’]origine|"
    r"Messaggio\s+originale|Mensaje\s+original|Oorspronkelijk\s+bericht|Mensagem\s+original|"
    r"Forwarded\s+message|Weitergeleitete\s+Nachricht|Message\s+transféré)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\s*\*?(?:From|De|Von|Da|Van|Fra|Från|Od)\s*:\*?\s*\S", re.IGNORECASE)
_HEADER_SENT = re.compile(
    r"^\s*\*?(?:Sent|Date|Envoyé|Gesendet|Datum|Inviato|Data|Enviado|Enviada|Fecha|Verzonden|Skickat)\s*:",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"^\s*_{20,}\s*$")
_SIGNATURE_SEPARATOR = re.compile(r"^--\s?$")
_MOBILE_SIGNATURE = re.compile(
    r"^\s*(?:Sent\s+from\s+my\s+\S+|Sent\s+from\s+(?:Mail|Outlook|Yahoo\s+Mail)\b|Get\s+Outlook\s+for\s+\S+|"
    r"Envoyé\s+de\s+mon\s+\S+|Envoyé\s+depuis\s+mon\s+\S+|Von\s+meinem\s+\S+(?:\s+\S+)?\s+gesendet|"
    r"Gesendet\s+von\s+meinem\s+\S+|Inviato\s+da(?:l\s+mio)?\s+\S+|Enviado\s+desde\s+mi\s+\S+|"
    r"Verzonden\s+(?:met|vanaf)\s+mijn\s+\S+|Enviado\s+do\s+meu\s+\S+)",
    re.IGNORECASE,
)


def strip_quoted(text: str) -> str:
    """The new part of a message: quoted history, reply headers and signatures removed."""
    if not text or not text.strip():
        return (text or "").strip()
    lines = _normalise_newlines(text).split("\n")
    cut = _cut_index(lines)
    kept = lines[:cut]
    while kept and (not kept[-1].strip() or kept[-1].lstrip().startswith(">")):
        kept.pop()
    result = "\n".join(line.rstrip() for line in kept).strip("\n")
    if not result.strip():
        return text.strip()
    return result.strip()


def _cut_index(lines: list[str]) -> int:
    for i, line in enumerate(lines):
        if _is_attribution(line):
            return i
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if (
            _ATTRIBUTION_START.match(line)
            and following.strip()
            and _is_attribution(f"{line.rstrip()} {following.strip()}")
        ):
            return i  # "On Mon, 4 Mar 2024 at 10:00, Shop <a@b>\nwrote:" (Gmail wraps it)
        if _ORIGINAL_MESSAGE.match(line) or _SIGNATURE_SEPARATOR.match(line) or _MOBILE_SIGNATURE.match(line):
            return i
        if _HEADER_FROM.match(line) and any(_HEADER_SENT.match(x) for x in lines[i + 1 : i + 4]):
            return i
        if _UNDERSCORES.match(line) and any(_HEADER_FROM.match(x) for x in lines[i + 1 : i + 3]):
            return i
    return len(lines)


def _is_attribution(line: str) -> bool:
    return len(line) < 400 and any(p.match(line) for p in _ATTRIBUTIONS)


# --- order references -----------------------------------------------------------------------------

AMAZON_ORDER_ID = re.compile(r"(?<![\d-])(?P<ref>\d{3}-\d{7}-\d{7})(?![\d-])")
_ORDER_WORD = (
    r"(?:(?:order|bestellnummer|bestellung|auftragsnummer|commande|ordine|pedido|bestelling|bestelnummer|"
    r"ordernummer)\b|bestell-?nr\b\.?)"
)
_ORDER_LABEL = (
    r"(?:\s*(?:number|numero|numéro|número|num\.?|núm\.?|nr\.?|no\.?|n\.?\s?º|n\.?\s?°|n\.|id|ref(?:erence)?\.?))?"
)
_NOT_AN_AMOUNT = r"(?![.,/:]\d)(?!\s?(?:€|\$|£|%|eur\b|usd\b|gbp\b|chf\b))"
DEFAULT_ORDER_PATTERNS: tuple[re.Pattern[str], ...] = (
    AMAZON_ORDER_ID,
    re.compile(r"(?<![\w&#])#\s?(?P<ref>\d{3,12})(?![\w-])" + _NOT_AN_AMOUNT),
    re.compile(
        rf"(?<![\w-]){_ORDER_WORD}{_ORDER_LABEL}\s*[:#]?\s*(?P<ref>[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?)"
        rf"(?![\w-]){_NOT_AN_AMOUNT}",
        re.IGNORECASE,
    ),
)
_DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}$")


def find_order_refs(text: str, patterns: Sequence[re.Pattern[str]] | None = None) -> list[str]:
    """Order numbers mentioned in ``text``, in order of appearance, without duplicates."""
    if not text:
        return []
    found: list[tuple[int, str]] = []
    for pattern in patterns or DEFAULT_ORDER_PATTERNS:
        for match in pattern.finditer(text):
            ref = _group(match).strip().lstrip("#").strip()
            if _plausible_ref(ref):
                found.append((match.start(), ref))
    found.sort(key=lambda item: item[0])
    return _dedup(ref for _, ref in found)


def _group(match: re.Match[str]) -> str:
    if "ref" in match.re.groupindex:
        return match.group("ref") or ""
    return match.group(1) if match.re.groups else match.group(0)


def _plausible_ref(ref: str) -> bool:
    return 0 < len(ref) <= 64 and sum(c.isdigit() for c in ref) >= 3 and not _DATE_LIKE.match(ref)


# --- threading and canonical message --------------------------------------------------------------


def thread_root(parsed: ParsedEmail, fallback: str = "") -> str:
    """The conversation's first message id: first References entry, else In-Reply-To, else own id."""
    if parsed.references:
        return parsed.references[0]
    return parsed.in_reply_to or parsed.message_id or fallback


def channel_message_id(parsed: ParsedEmail, raw_digest: str) -> str:
    """The Message-ID, or ``sha256:<first 32 hex of the raw message's digest>`` when it has none."""
    if parsed.message_id:
        return parsed.message_id
    digest = (raw_digest or "").strip().lower().removeprefix("sha256:")
    if not re.fullmatch(r"[0-9a-f]{32,}", digest):
        raise MalformedPayload("e-mail has no Message-ID and no usable raw digest")
    return f"sha256:{digest[:32]}"


def raw_digest(raw: bytes) -> str:
    """The digest ``to_inbound`` expects as ``raw_digest`` (hex SHA-256 of the raw message)."""
    return hashlib.sha256(raw).hexdigest()


sha256_hex = raw_digest  # the same function under a name no parameter shadows


def to_inbound(
    store: Store,
    parsed: ParsedEmail,
    *,
    raw_s3_key: str,
    received_at: datetime,
    attachments: list[Attachment],
    raw_digest: str = "",
    order_patterns: Sequence[re.Pattern[str]] | None = None,
) -> InboundMessage:
    """The canonical message for one parsed e-mail (the caller has stored the attachments)."""
    message_id = channel_message_id(parsed, raw_digest)
    body = message_body(parsed, strip_quoted(parsed.text), attachments)
    refs = (
        find_order_refs(parsed.subject, order_patterns)
        or find_order_refs(body, order_patterns)
        or find_order_refs(parsed.text, order_patterns)
    )
    return build_inbound(
        store,
        parsed,
        channel_message_id=message_id,
        channel_thread_id=thread_root(parsed, message_id),
        body=body,
        order_ref=refs[0] if refs else None,
        reply_to=parsed.reply_to,
        buyer_name=parsed.from_name,
        raw_s3_key=raw_s3_key,
        received_at=received_at,
        attachments=attachments,
    )


def message_body(parsed: ParsedEmail, body: str, attachments: Sequence[Any]) -> str:
    """``body``, else the subject, else "(attachment only)"; nothing at all is MalformedPayload."""
    if body.strip():
        return body
    if parsed.subject.strip():
        return parsed.subject.strip()
    if attachments or parsed.attachments:
        return "(attachment only)"
    raise MalformedPayload("e-mail has no text, subject or attachment")


def build_inbound(
    store: Store,
    parsed: ParsedEmail,
    *,
    channel_message_id: str,
    channel_thread_id: str,
    body: str,
    order_ref: str | None,
    reply_to: str | None,
    buyer_name: str | None,
    raw_s3_key: str,
    received_at: datetime,
    attachments: list[Attachment],
) -> InboundMessage:
    references = _dedup([*parsed.references, *([parsed.in_reply_to] if parsed.in_reply_to else [])])
    buyer_email = parsed.from_address if is_email_address(parsed.from_address) else None
    try:
        return InboundMessage(
            tenant_id=store.tenant_id,
            store_id=store.store_id,
            channel=Channel(store.channel),
            channel_message_id=channel_message_id,
            channel_thread_id=channel_thread_id or channel_message_id,
            references=references,
            reply_to=reply_to,
            order_ref=order_ref,
            buyer_email=buyer_email,
            buyer_name=buyer_name,
            subject=parsed.subject or None,
            body=body,
            attachments=list(attachments),
            received_at=received_at,
            raw_s3_key=raw_s3_key,
        )
    except ValidationError as exc:
        raise MalformedPayload(f"e-mail could not be read: {exc.errors()[0].get('msg', exc)}") from None


def is_email_address(value: str | None) -> bool:
    return bool(value) and bool(_EMAIL_ADDRESS.match(str(value).strip()))


_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def attachment_key(tenant_id: str, store_id: str, message_key: str, index: int, filename: str) -> str:
    """A safe S3 key for attachment ``index`` of a message: no path tricks, bounded length."""
    return (
        f"attachments/{_key_part(tenant_id, 128)}/{_key_part(store_id, 128)}/"
        f"{_key_part(message_key, 128)}/{int(index):03d}-{safe_filename(filename)}"
    )


def safe_filename(filename: str, max_length: int = 100) -> str:
    """[A-Za-z0-9._-] only (accents folded), at most ``max_length`` characters, never empty or '..'."""
    folded = unicodedata.normalize("NFKD", filename or "").encode("ascii", "ignore").decode("ascii")
    name = _UNSAFE_KEY_CHARS.sub("_", folded)
    name = re.sub(r"\.{2,}", ".", name).strip("._-")
    if not name:
        return "attachment"
    if len(name) > max_length:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and 0 < len(ext) <= 10:
            name = stem[: max_length - len(ext) - 1].rstrip("._-") + "." + ext
        else:
            name = name[:max_length].rstrip("._-")
    return name or "attachment"


def _key_part(value: str, max_length: int) -> str:
    value = str(value or "")
    safe = re.sub(r"\.{2,}", ".", _UNSAFE_KEY_CHARS.sub("_", value)).strip("._-")[: max_length - 13]
    if safe == value and safe:
        return safe
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{safe}-{digest}" if safe else digest


# --- replies --------------------------------------------------------------------------------------

_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|r|réf\.?|ref\.?|rif\.?|antw|antwort|odp|ynt|atb)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*)+",
    re.IGNORECASE,
)


def reply_subject(subject: str | None) -> str:
    """ "Re: " once: existing reply prefixes (Re, RE, AW, R, SV, Réf., Rif., Antw, …) are folded in."""
    rest = _REPLY_PREFIX.sub("", _one_line(subject or "")).strip()
    return f"Re: {rest}" if rest else "Re:"


def build_reply(
    *,
    from_address: str,
    from_name: str | None,
    to_address: str,
    subject: str | None,
    body_text: str,
    in_reply_to: str | None,
    references: Sequence[str] | None,
    message_id_domain: str,
    signature: str | None = None,
    date: datetime | None = None,
    opening: bool = False,
) -> tuple[str, bytes]:
    """An RFC 5322 reply (``opening``: the first message of a conversation, its subject as written);
    returns (Message-ID without angle brackets, the message as CRLF bytes)."""
    domain = (message_id_domain or "").strip().lower()
    if not re.fullmatch(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?", domain):
        raise MalformedPayload(f"not a domain for Message-IDs: {message_id_domain!r}")
    if not body_text or not body_text.strip():
        raise MalformedPayload("a reply needs a body")
    message_id = f"{uuid.uuid4().hex}@{domain}"
    msg = EmailMessage(policy=policy.default)
    try:
        msg["From"] = Address(display_name=_one_line(from_name or ""), addr_spec=_address(from_address, "from"))
        msg["To"] = Address(addr_spec=_address(to_address, "to"))
    except (ValueError, IndexError, email_errors.HeaderParseError) as exc:
        raise MalformedPayload(f"reply address rejected: {exc}") from None
    msg["Subject"] = _one_line(subject or "") if opening else reply_subject(subject)
    msg["Date"] = format_datetime(_utc(date or datetime.now(UTC)))
    msg["Message-ID"] = f"<{message_id}>"
    parent = _msgid(in_reply_to) if in_reply_to else None
    chain = _dedup([m for m in (_msgid(r) for r in references or []) if m] + ([parent] if parent else []))
    if len(chain) > _MAX_REFERENCES + 1:
        chain = [chain[0], *chain[-_MAX_REFERENCES:]]
    if parent:
        msg["In-Reply-To"] = f"<{parent}>"
    if chain:
        msg["References"] = " ".join(f"<{m}>" for m in chain)
    text = _normalise_newlines(body_text).rstrip()
    if signature and signature.strip():
        text = f"{text}\n\n-- \n{_normalise_newlines(signature).strip()}"
    msg.set_content(text + "\n", charset="utf-8", cte="quoted-printable")
    return message_id, msg.as_bytes(policy=policy.SMTP)


def _address(value: str, what: str) -> str:
    value = (value or "").strip()
    if not _EMAIL_ADDRESS.match(value) or any(c in value for c in '\r\n,;"()'):
        raise MalformedPayload(f"reply {what} address is not a plain e-mail address")
    return value


# --- small helpers --------------------------------------------------------------------------------


_utc = values.utc


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _dedup(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        if value and value not in seen:
            seen.add(value)
            out.append(value)
    return out


class EmailConnector:
    """The e-mail channel's entry points (all plain functions of this module)."""

    channel = Channel.EMAIL.value

    parse_ses_event_record = staticmethod(parse_ses_event_record)
    parse_mime = staticmethod(parse_mime)
    strip_quoted = staticmethod(strip_quoted)
    find_order_refs = staticmethod(find_order_refs)
    thread_root = staticmethod(thread_root)
    to_inbound = staticmethod(to_inbound)
    attachment_key = staticmethod(attachment_key)
    build_reply = staticmethod(build_reply)


CONNECTOR = EmailConnector()
