"""E-mail channel: SES receipt events, MIME parsing (bodies, charsets, attachments, auto-replies),
quote stripping, order references, threading, the canonical message and replies — on the recorded
samples under infrastructure/local/samples/email."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from helpdesk.channels import email as mail
from helpdesk.channels.email import (
    CONNECTOR,
    EmailConnector,
    attachment_key,
    build_reply,
    find_order_refs,
    parse_mime,
    parse_ses_event_record,
    reply_subject,
    strip_quoted,
    thread_root,
    to_inbound,
)
from helpdesk.core.errors import MalformedPayload
from helpdesk.core.models import Attachment, Channel, Store

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "infrastructure/local/samples/email"
NOW = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
RAW_KEY = "raw/t1/email/s1/2024/03/05/ses-EXAMPLE"
STORE = Store(tenant_id="t1", store_id="s1", channel=Channel.EMAIL, display_name="Demo Shop support", created_at=NOW)


def raw(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def parsed(name: str) -> mail.ParsedEmail:
    return parse_mime(raw(name))


def ses_record() -> dict[str, Any]:
    return copy.deepcopy(json.loads(raw("ses_lambda_event.json"))["Records"][0])


def message(headers: str, body: str = "Hello, where is my parcel?") -> bytes:
    return (headers.strip("\n") + "\n\n" + body).encode()


BASIC = (
    "From: Jane Buyer <jane@example.com>\nTo: support@demo-shop.com\nSubject: Question\nMessage-ID: <m1@example.com>"
)


# --- SES receipt events ---------------------------------------------------------------------------


def test_ses_lambda_event_from_the_docs() -> None:
    receipt = parse_ses_event_record(ses_record())
    assert receipt.message_id == "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
    assert receipt.recipients == ("recipient@example.com",)
    assert receipt.source == "prvs=144d0cba7=sender@example.com"
    assert receipt.timestamp == datetime(2019, 8, 5, 21, 30, 2, 28000, tzinfo=UTC)
    assert (receipt.spam, receipt.virus, receipt.spf, receipt.dkim, receipt.dmarc) == (
        "PASS",
        "PASS",
        "PASS",
        "PASS",
        "GRAY",
    )
    assert receipt.action_type == "Lambda"
    assert receipt.s3_bucket is None and receipt.s3_key is None  # a Lambda action does not name the S3 one
    assert receipt.object_key("inbound/") == "inbound/EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
    assert receipt.subject == "This is a test"
    assert not receipt.rejected and not receipt.suspicious


def test_ses_s3_action_names_bucket_and_key() -> None:
    record = ses_record()
    record["ses"]["receipt"]["action"] = {
        "type": "S3",
        "topicArn": "arn:aws:sns:us-east-1:012345678912:example-topic",
        "bucketName": "helpdesk-inbound",
        "objectKey": "mail/abc123",
    }
    receipt = parse_ses_event_record(record)
    assert (receipt.s3_bucket, receipt.s3_key) == ("helpdesk-inbound", "mail/abc123")
    assert receipt.object_key("ignored/") == "mail/abc123"


def test_ses_receipt_notification_shape_is_accepted_too() -> None:
    ses = ses_record()["ses"]
    receipt = parse_ses_event_record({"notificationType": "Received", **ses})
    assert receipt.message_id.startswith("EXAMPLE7c191be45")


@pytest.mark.parametrize(
    ("verdict", "rejected", "suspicious"),
    [
        ("virusVerdict", True, False),
        ("spamVerdict", False, True),
        ("spfVerdict", False, True),
        ("dkimVerdict", False, True),
        ("dmarcVerdict", False, True),
    ],
)
def test_ses_verdicts(verdict: str, rejected: bool, suspicious: bool) -> None:
    record = ses_record()
    record["ses"]["receipt"][verdict] = {"status": "FAIL"}
    receipt = parse_ses_event_record(record)
    assert (receipt.rejected, receipt.suspicious) == (rejected, suspicious)


def test_ses_gray_and_processing_failed_are_not_failures() -> None:
    record = ses_record()
    record["ses"]["receipt"]["spamVerdict"] = {"status": "GRAY"}
    record["ses"]["receipt"]["dkimVerdict"] = {"status": "PROCESSING_FAILED"}
    receipt = parse_ses_event_record(record)
    assert receipt.spam == "GRAY" and not receipt.suspicious


def _without(path: tuple[str, ...]) -> dict[str, Any]:
    record = ses_record()
    target = record
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return record


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ([], "not an object"),
        ({"eventSource": "aws:s3", "s3": {}}, "not an SES record"),
        ({"eventSource": "aws:ses", "ses": "x"}, "no 'ses' object"),
        (_without(("ses", "receipt")), "'ses.mail' and 'ses.receipt'"),
        (_without(("ses", "mail", "messageId")), "mail.messageId"),
        (_without(("ses", "receipt", "recipients")), "receipt.recipients"),
        (_without(("ses", "receipt", "action")), "receipt.action.type"),
    ],
)
def test_ses_wrong_shapes_are_malformed(record: Any, reason: str) -> None:
    with pytest.raises(MalformedPayload, match=re.escape(reason)):
        parse_ses_event_record(record)


def test_ses_bad_timestamp_and_incomplete_s3_action() -> None:
    record = ses_record()
    record["ses"]["receipt"]["timestamp"] = "yesterday"
    record["ses"]["mail"]["timestamp"] = "yesterday"
    with pytest.raises(MalformedPayload, match="ISO 8601"):
        parse_ses_event_record(record)
    record = ses_record()
    record["ses"]["receipt"]["action"] = {"type": "S3", "bucketName": "b"}
    with pytest.raises(MalformedPayload, match="bucketName"):
        parse_ses_event_record(record)


# --- MIME parsing ---------------------------------------------------------------------------------


def test_german_plain_reply_with_references() -> None:
    p = parsed("de_reply_quoted.eml")
    assert p.message_id == "trinity-3f9a1c2e-7d41-4b8e-9c0a-5e2f6d8b1a37-1709624537102@3c-app-gmx-bs54"
    assert p.in_reply_to == "5b2c7e9a1f2d4c3b8a6e0d9f4c1b2a3e@mail.demo-shop.de"
    assert p.references == [
        "8d1f0b6a2e4c4a7f9b3d5e6c7a8b9c0d@mail.demo-shop.de",
        "5b2c7e9a1f2d4c3b8a6e0d9f4c1b2a3e@mail.demo-shop.de",
    ]  # oldest first
    assert (p.from_address, p.from_name) == ("max.mustermann@gmx.de", "Max Mustermann")
    assert p.to == ["support@demo-shop.de"] and p.cc == [] and p.reply_to is None
    assert p.subject == "AW: Ihre Bestellung #1001 wurde versandt"
    assert p.date == datetime(2024, 3, 5, 7, 42, 17, tzinfo=UTC)
    assert "Können Sie bitte bei DHL nachforschen lassen?" in p.text  # quoted-printable UTF-8 decoded
    assert "> Ihre Bestellung #1001 wurde heute mit DHL versandt." in p.text
    assert p.html is None and p.attachments == [] and not p.auto_generated


def test_french_outlook_html_only_with_inline_image_and_rfc2231_attachment() -> None:
    p = parsed("fr_outlook_html_attachments.eml")
    assert p.subject == "RE : Commande n° 1002 - colis abîmé"  # RFC 2047, UTF-8
    assert p.html is not None and '<p class="MsoNormal">' in p.html
    lines = p.text.split("\n")
    assert lines[:3] == [
        "Bonjour,",
        "",
        "Je viens de recevoir ma commande n° 1002 mais le colis est arrivé abîmé et la cafetière est fissurée.",
    ]
    assert "Pouvez-vous m’envoyer un produit de remplacement ?" in lines  # &nbsp; became a plain space
    assert "Envoyé : lundi 4 mars 2024 09:12" in lines  # <br> kept as line breaks
    assert "font-family" not in p.text and "Cambria" not in p.text  # <style> dropped
    assert "alert" not in p.text  # <script> dropped
    image, invoice = p.attachments
    assert (image.filename, image.content_type, image.inline) == ("image001.png", "image/png", True)
    assert image.content_id == "image001.png@01DA6E2F.5C3A1B40"
    assert image.data.startswith(b"\x89PNG") and image.size == len(image.data)
    assert (invoice.filename, invoice.content_type) == ("facture-été 2024.pdf", "application/pdf")
    assert not invoice.inline
    assert invoice.data.startswith(b"%PDF-1.4") and invoice.content_id is None


def test_italian_latin1_message_with_windows_1252_euro_sign() -> None:
    p = parsed("it_latin1.eml")
    assert p.subject == "Re: Informazioni sull'ordine n. 1003 - perché non è arrivato?"
    assert "vorrei sapere perché l'ordine n. 1003 non è ancora arrivato: ho pagato 49,90 €" in p.text
    assert "Città di Castello" in p.text
    assert p.date == datetime(2024, 3, 5, 9, 24, 15, tzinfo=UTC)
    assert p.references == [] and p.in_reply_to == "a1b2c3d4e5f60718@mail.demo-negozio.it"


@pytest.mark.parametrize(
    ("charset", "body", "expected"),
    [
        ("x-unknown", "Grüße aus Köln".encode(), "Grüße aus Köln"),  # unknown charset: UTF-8 tried
        ("utf-8", b"caf\xe9 cr\xe8me", "café crème"),  # lying UTF-8 declaration: windows-1252
        ("windows-1252", b"\x93quoted\x94 \x80", "“quoted” €"),
        ("us-ascii", "naïve".encode(), "naïve"),
        ("utf8", "ça va".encode(), "ça va"),
        ("iso-8859-15", b"\xa4", "€"),
    ],
)
def test_charsets_never_crash(charset: str, body: bytes, expected: str) -> None:
    msg = (f'{BASIC}\nContent-Type: text/plain; charset="{charset}"\nContent-Transfer-Encoding: 8bit\n\n').encode()
    assert parse_mime(msg + body).text == expected


def test_bad_encoded_subject_and_broken_base64_do_not_crash() -> None:
    msg = message(
        "From: a@example.com\nSubject: =?x-bogus?q?caf=E9?= ok\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: base64",
        "SGVsbG8gd29ybGQ=!!!not base64",
    )
    p = parse_mime(msg)
    assert "ok" in p.subject
    assert isinstance(p.text, str)


def test_multipart_without_boundary_is_read_as_text() -> None:
    p = parse_mime(message("From: a@example.com\nSubject: x\nContent-Type: multipart/mixed", "Hello, no boundary"))
    assert p.text == "Hello, no boundary" and p.attachments == []


def test_rfc2047_filename_and_attached_message_are_kept() -> None:
    msg = message(
        'From: a@example.com\nSubject: docs\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"',
        "--B\nContent-Type: text/plain\n\nSee attached.\n"
        '--B\nContent-Type: application/pdf; name="=?UTF-8?B?UmVjaG51bmfDvC5wZGY=?="\n'
        'Content-Disposition: attachment; filename="=?UTF-8?B?UmVjaG51bmfDvC5wZGY=?="\n'
        "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQ=\n"
        '--B\nContent-Type: text/plain; name="notes.txt"\nContent-Disposition: attachment; filename="notes.txt"\n\n'
        "not the body\n"
        "--B\nContent-Type: message/rfc822\n\nFrom: old@example.com\nSubject: older\n\nOld text\n--B--\n",
    )
    p = parse_mime(msg)
    assert p.text == "See attached."
    assert [(a.filename, a.content_type) for a in p.attachments] == [
        ("Rechnungü.pdf", "application/pdf"),
        ("notes.txt", "text/plain"),
        ("rfc822.eml", "message/rfc822"),
    ]
    assert p.attachments[0].data == b"%PDF-1.4"
    assert b"Subject: older" in p.attachments[2].data


def test_multipart_alternative_prefers_plain_text() -> None:
    msg = message(
        'From: a@example.com\nSubject: hi\nContent-Type: multipart/alternative; boundary="A"',
        "--A\nContent-Type: text/plain; charset=utf-8\n\nPlain version\n"
        "--A\nContent-Type: text/html; charset=utf-8\n\n<p>HTML <b>version</b></p>\n--A--\n",
    )
    p = parse_mime(msg)
    assert p.text == "Plain version"
    assert p.html is not None and "<b>version</b>" in p.html


def test_html_blockquotes_become_quoted_lines() -> None:
    html = (
        '<div>Thanks, it arrived.</div><div class="gmail_quote"><div>On Mon, 4 Mar 2024 at 10:00, Shop '
        "&lt;s@shop.com&gt; wrote:<br></div><blockquote><p>Your order shipped.</p></blockquote></div>"
    )
    p = parse_mime(message(f"{BASIC}\nContent-Type: text/html; charset=utf-8", html))
    assert p.text == "Thanks, it arrived.\nOn Mon, 4 Mar 2024 at 10:00, Shop <s@shop.com> wrote:\n> Your order shipped."
    assert strip_quoted(p.text) == "Thanks, it arrived."


def test_out_of_office_is_auto_generated() -> None:
    p = parsed("out_of_office.eml")
    assert p.auto_generated and p.auto_reason == "Auto-Submitted: auto-replied"
    assert p.subject == "Automatische Antwort: Ihre Bestellung #1004 wurde versandt"


def test_bounce_report_is_auto_generated_and_keeps_its_parts() -> None:
    p = parsed("bounce_report.eml")
    assert p.auto_generated
    assert p.from_address == "mailer-daemon@eu-west-1.amazonses.com"
    assert p.text.startswith("An error occurred while trying to deliver the mail")
    status, original = p.attachments
    assert status.content_type == "message/delivery-status"
    assert b"Final-Recipient: rfc822; max.mustermann@gmx.de" in status.data
    assert original.content_type == "message/rfc822" and b"Message-ID: <9e8d7c6b5a4f" in original.data


@pytest.mark.parametrize(
    ("headers", "auto"),
    [
        ("Auto-Submitted: no", False),
        ("Auto-Submitted: auto-generated", True),
        ('Auto-Submitted: auto-replied; owner-email="x@y.z"', True),
        ("Precedence: bulk", True),
        ("Precedence: junk", True),
        ("Precedence: list", True),
        ("Precedence: first-class", False),
        ("X-Autoreply: yes", True),
        ("X-Autorespond: Thanks for your mail", True),
        ("Return-Path: <>", True),
        ("Importance: high", False),
    ],
)
def test_auto_generated_headers(headers: str, auto: bool) -> None:
    assert parse_mime(message(f"{BASIC}\n{headers}")).auto_generated is auto


def test_mailer_daemon_and_multipart_report_are_auto_generated() -> None:
    bounce = message("From: MAILER-DAEMON <MAILER-DAEMON@mx.example.net>\nSubject: Undelivered")
    assert parse_mime(bounce).auto_generated
    report = message(
        "From: postmaster@example.net\nSubject: x\nContent-Type: multipart/report; "
        'report-type=delivery-status; boundary="R"',
        "--R\nContent-Type: text/plain\n\nfailed\n--R--\n",
    )
    p = parse_mime(report)
    assert p.auto_generated and p.text == "failed"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"  \r\n\r\n ", "empty"),
        (b"hello world\nthis is not an e-mail\n", "no header fields"),
        (b"X-Custom: 1\nX-Other: 2\n\nbody", "none of From"),
    ],
)
def test_empty_or_non_mime_input_is_malformed(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedPayload, match=reason):
        parse_mime(body)


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("Tue, 5 Mar 2024 08:42:17 +0100", datetime(2024, 3, 5, 7, 42, 17, tzinfo=UTC)),
        ("Tue, 5 Mar 2024 08:42:17 -0000", datetime(2024, 3, 5, 8, 42, 17, tzinfo=UTC)),  # no zone: UTC
        ("next Tuesday", None),
        (None, None),
    ],
)
def test_date_is_aware_or_none(date: str | None, expected: datetime | None) -> None:
    headers = BASIC + (f"\nDate: {date}" if date else "")
    result = parse_mime(message(headers)).date
    assert result == expected
    assert result is None or result.tzinfo is not None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Message-ID: <abc.123@mail.example.com>", "abc.123@mail.example.com"),
        ("Message-ID:   < spaced@example.com >  (comment)", "spaced@example.com"),
        ("Message-ID: bare-id@example.com", "bare-id@example.com"),
    ],
)
def test_message_id_is_normalised(header: str, expected: str) -> None:
    headers = "From: a@example.com\nSubject: x\n" + header
    assert parse_mime(message(headers)).message_id == expected


def test_missing_message_id_reply_to_and_cc() -> None:
    p = parse_mime(
        message(
            'From: "Doe, Jane" <JANE@Example.com>\nReply-To: orders@jane-co.example\n'
            "Cc: a@example.com, B <b@example.com>\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?="
        )
    )
    assert p.message_id is None
    assert (p.from_address, p.from_name) == ("jane@example.com", "Doe, Jane")
    assert p.reply_to == "orders@jane-co.example"
    assert p.cc == ["a@example.com", "b@example.com"]
    assert p.subject == "Grüße"


# --- quote stripping ------------------------------------------------------------------------------

NEW = "Where is my order? It has been two weeks."


@pytest.mark.parametrize(
    "history",
    [
        "On Mon, Mar 4, 2024 at 10:00 AM Demo Shop <support@demo-shop.com> wrote:\n> Your order shipped.",
        "On Mon, Mar 4, 2024 at 10:00 AM Demo Shop <support@demo-shop.com>\nwrote:\n> Your order shipped.",
        "Le lun. 4 mars 2024 à 10:00, Demo Boutique <support@demo-boutique.fr> a écrit :\n> Votre commande est partie.",
        "Am 04.03.2024 um 10:00 schrieb Demo Shop <support@demo-shop.de>:\n> Ihre Bestellung ist unterwegs.",
        "Am Mo., 4. März 2024 um 10:00 Uhr schrieb Demo Shop <support@demo-shop.de>:\n> Versandt.",
        "Il giorno lun 4 mar 2024 alle ore 10:00 Demo <info@demo.it> ha scritto:\n> Spedito.",
        "Il 04/03/2024 10:00, Demo Negozio ha scritto:\n> Spedito.",
        "El lun, 4 mar 2024 a las 10:00, Demo Tienda (<info@demo.es>) escribió:\n> Enviado.",
        "Op ma 4 mrt 2024 om 10:00 schreef Demo Winkel <info@demo.nl>:\n> Verzonden.",
        "-----Original Message-----\nFrom: Demo Shop\nSent: Monday, March 4, 2024 10:00 AM\nYour order shipped.",
        "-----Ursprüngliche Nachricht-----\nVon: Demo Shop\nGesendet: Montag, 4. März 2024 10:00\nVersandt.",
        "-----Message d'origine-----\nDe : Demo Boutique\nEnvoyé : lundi 4 mars 2024 10:00\nExpédiée.",
        "From: Demo Shop <support@demo-shop.com>\nSent: Monday, March 4, 2024 10:00 AM\nTo: Jane\nSubject: Shipped",
        "De : Demo Boutique <support@demo-boutique.fr>\nEnvoyé : lundi 4 mars 2024 10:00\nÀ : Camille\n"
        "Objet : Expédiée",
        "Von: Demo Shop <support@demo-shop.de>\nGesendet: Montag, 4. März 2024 10:00\nAn: Max\nBetreff: Versandt",
        "Da: Demo Negozio <info@demo.it>\nInviato: lunedì 4 marzo 2024 10:00\nA: Giulia\nOggetto: Spedito",
        "________________________________\nFrom: Demo Shop <support@demo-shop.com>\nDate: 4 March 2024",
        "-- \nJane Buyer\n+1 555 0100",
        "Sent from my iPhone",
        "Von meinem iPhone gesendet",
        "Envoyé de mon iPhone",
        "Inviato da iPhone",
        "Enviado desde mi iPhone",
        "> Your order shipped.\n> Tracking: 1Z999",
    ],
)
def test_strip_quoted_removes_history_and_signatures(history: str) -> None:
    assert strip_quoted(f"{NEW}\n\n{history}\n") == NEW


def test_strip_quoted_keeps_inline_answers_and_plain_text() -> None:
    inline = "> Which colour?\nBlue, please.\n> Size?\nM\n\nThanks"
    assert strip_quoted(inline) == inline
    plain = "Hello,\n\nfrom: my office I cannot receive parcels.\nRegards"
    assert strip_quoted(plain) == plain


def test_strip_quoted_never_returns_empty() -> None:
    only_quote = "On Mon, Mar 4, 2024 at 10:00 AM Shop <s@shop.com> wrote:\n> Your order shipped.\n"
    assert strip_quoted(only_quote) == only_quote.strip()
    assert strip_quoted("> just a quote") == "> just a quote"
    assert strip_quoted("") == ""


# --- order references -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Re: Your order #1001 has shipped", ["1001"]),
        ("about order 1002", ["1002"]),
        ("Order no. 1003, please", ["1003"]),
        ("order number: 1004", ["1004"]),
        ("Order ID: 114-3941689-8772232", ["114-3941689-8772232"]),
        ("Amazon 302-7788990-1122334 and 302-7788990-1122334 again", ["302-7788990-1122334"]),
        ("Bestellung Nr. 1005", ["1005"]),
        ("Bestellung 1006 ist noch nicht da", ["1006"]),
        ("Bestellnummer: 1007", ["1007"]),
        ("meine Bestell-Nr. 1008", ["1008"]),
        ("commande n° 1009", ["1009"]),
        ("numéro de commande : 1010", ["1010"]),
        ("ordine n. 1011", ["1011"]),
        ("l'ordine 1012", ["1012"]),
        ("pedido nº 1013", ["1013"]),
        ("pedido n.º 1014", ["1014"]),
        ("regarding order Order_00010-A on the marketplace", ["Order_00010-A"]),
        ("first #1020 then order 1021 then #1020 again", ["1020", "1021"]),
    ],
)
def test_order_refs_found(text: str, expected: list[str]) -> None:
    assert find_order_refs(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Please call me on +49 30 12345678 or 0151 23456789.",
        "Ship to 75001 Paris, France; Postleitzahl 50674 Köln; CAP 06012",
        "I paid 1.299,00 € (EUR 49.90, $129.99, £1,200) for it.",
        "It was delivered on 12.03.2024, 2024-03-12 or 03/12/2024 at 10:30.",
        "The order total is 49,90 EUR and the order date 12.03.2024.",
        "Bestellung vom 12.03.2024, order on 2024-03-12, order 2024-03-12",
        "I ordered 2 items, order 12 more, order 100 € worth",
        "Order_00010-A without an order word before it",
        "Tracking 00340434161094042557 and &#1234; entity, price #12.50",
    ],
)
def test_no_false_positives(text: str) -> None:
    assert find_order_refs(text) == []


def test_custom_patterns() -> None:
    patterns = [re.compile(r"\bSO-(\d{5})\b"), re.compile(r"(?P<ref>INV\d{4})")]
    assert find_order_refs("INV2024 and SO-12345 and SO-12345", patterns) == ["INV2024", "12345"]


# --- threading and the canonical message ----------------------------------------------------------


def test_thread_root() -> None:
    p = parsed("de_reply_quoted.eml")
    assert thread_root(p) == "8d1f0b6a2e4c4a7f9b3d5e6c7a8b9c0d@mail.demo-shop.de"  # first References entry
    it = parsed("it_latin1.eml")
    assert thread_root(it) == "a1b2c3d4e5f60718@mail.demo-negozio.it"  # In-Reply-To
    new = parse_mime(message(BASIC))
    assert thread_root(new) == "m1@example.com"  # a new conversation: its own id
    assert thread_root(parse_mime(message("From: a@example.com\nSubject: x")), "fallback") == "fallback"


def test_to_inbound_german_reply() -> None:
    atts = [
        Attachment(s3_key="attachments/t1/s1/m/000-x.pdf", filename="x.pdf", content_type="application/pdf", size=3)
    ]
    m = to_inbound(STORE, parsed("de_reply_quoted.eml"), raw_s3_key=RAW_KEY, received_at=NOW, attachments=atts)
    assert (m.tenant_id, m.store_id, m.channel) == ("t1", "s1", Channel.EMAIL)
    assert m.channel_message_id == "trinity-3f9a1c2e-7d41-4b8e-9c0a-5e2f6d8b1a37-1709624537102@3c-app-gmx-bs54"
    assert m.channel_thread_id == "8d1f0b6a2e4c4a7f9b3d5e6c7a8b9c0d@mail.demo-shop.de"
    assert m.references == [
        "8d1f0b6a2e4c4a7f9b3d5e6c7a8b9c0d@mail.demo-shop.de",
        "5b2c7e9a1f2d4c3b8a6e0d9f4c1b2a3e@mail.demo-shop.de",
    ]  # In-Reply-To not repeated
    assert (m.buyer_email, m.buyer_name, m.reply_to) == ("max.mustermann@gmx.de", "Max Mustermann", None)
    assert m.subject == "AW: Ihre Bestellung #1001 wurde versandt"
    assert m.body.endswith("Mit freundlichen Grüßen\nMax Mustermann")
    assert "schrieb" not in m.body and "Lindenstraße" not in m.body  # history and signature removed
    assert m.order_ref == "1001"
    assert m.attachments == atts and m.raw_s3_key == RAW_KEY and m.received_at == NOW


def test_to_inbound_for_an_amazon_store_and_in_reply_to_only() -> None:
    amazon_store = STORE.model_copy(update={"channel": Channel.AMAZON, "store_id": "amz"})
    m = to_inbound(amazon_store, parsed("it_latin1.eml"), raw_s3_key=RAW_KEY, received_at=NOW, attachments=[])
    assert m.channel == Channel.AMAZON and m.store_id == "amz"
    assert m.references == ["a1b2c3d4e5f60718@mail.demo-negozio.it"]
    assert m.order_ref == "1003"  # "ordine n. 1003" in the subject


def test_to_inbound_order_ref_subject_first_then_body_and_reply_to() -> None:
    p = parse_mime(
        message(
            "From: a@example.com\nReply-To: Jane <jane.orders@example.com>\nSubject: Question\n"
            "Message-ID: <q1@example.com>",
            "Hi, about order 2002 and #2003.",
        )
    )
    m = to_inbound(STORE, p, raw_s3_key=RAW_KEY, received_at=NOW, attachments=[])
    assert m.order_ref == "2002" and m.reply_to == "jane.orders@example.com"
    p = parse_mime(
        message("From: a@example.com\nSubject: Order #3001\nMessage-ID: <q2@example.com>", "and also order 3002")
    )
    assert to_inbound(STORE, p, raw_s3_key=RAW_KEY, received_at=NOW, attachments=[]).order_ref == "3001"


def test_message_without_id_gets_the_raw_digest() -> None:
    body = message("From: a@example.com\nSubject: no id")
    digest = mail.sha256_hex(body)
    assert digest == hashlib.sha256(body).hexdigest()
    m = to_inbound(STORE, parse_mime(body), raw_s3_key=RAW_KEY, received_at=NOW, attachments=[], raw_digest=digest)
    assert m.channel_message_id == f"sha256:{digest[:32]}"
    assert m.channel_thread_id == m.channel_message_id
    with pytest.raises(MalformedPayload, match="no Message-ID"):
        to_inbound(STORE, parse_mime(body), raw_s3_key=RAW_KEY, received_at=NOW, attachments=[])


def test_empty_body_falls_back_to_subject_then_attachment_note() -> None:
    p = parse_mime(message(BASIC, ""))
    assert to_inbound(STORE, p, raw_s3_key=RAW_KEY, received_at=NOW, attachments=[]).body == "Question"
    attachment_only = message(
        'From: a@example.com\nMessage-ID: <a1@example.com>\nContent-Type: multipart/mixed; boundary="B"',
        '--B\nContent-Type: image/jpeg\nContent-Disposition: attachment; filename="photo.jpg"\n\nJPEG\n--B--\n',
    )
    p = parse_mime(attachment_only)
    assert to_inbound(STORE, p, raw_s3_key=RAW_KEY, received_at=NOW, attachments=[]).body == "(attachment only)"
    nothing = parse_mime(message("From: a@example.com\nMessage-ID: <n1@example.com>", "   "))
    with pytest.raises(MalformedPayload, match="no text, subject or attachment"):
        to_inbound(STORE, nothing, raw_s3_key=RAW_KEY, received_at=NOW, attachments=[])


def test_odd_sender_address_is_not_a_buyer_email() -> None:
    p = parse_mime(message("From: undisclosed-recipients:;\nSubject: hello\nMessage-ID: <u1@example.com>"))
    m = to_inbound(STORE, p, raw_s3_key=RAW_KEY, received_at=NOW, attachments=[])
    assert m.buyer_email is None and m.body == "Hello, where is my parcel?"


# --- attachment keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("facture-été 2024.pdf", "facture-ete_2024.pdf"),
        ("../../etc/passwd", "etc_passwd"),
        ("..", "attachment"),
        ("", "attachment"),
        ("照片.jpg", "jpg"),
        ("a..b...c.txt", "a.b.c.txt"),
    ],
)
def test_safe_filenames(filename: str, expected: str) -> None:
    key = attachment_key("t1", "s1", "m1@example.com", 2, filename)
    assert key.endswith(f"/002-{expected}")
    assert ".." not in key and re.fullmatch(r"[A-Za-z0-9._/-]+", key)


def test_attachment_key_bounds_long_names_and_message_ids() -> None:
    key = attachment_key("t1", "s1", "<CAF+x/y@mail.gmail.com>", 0, "x" * 300 + ".pdf")
    prefix, name = key.rsplit("/", 1)
    assert len(name) <= 104 and name.endswith(".pdf") and name.startswith("000-x")
    assert prefix.startswith("attachments/t1/s1/CAF_x_y_mail.gmail.com-")  # sanitised + a hash: no collisions
    other = attachment_key("t1", "s1", "<CAF-x-y@mail.gmail.com>", 0, "a.pdf")
    assert other.rsplit("/", 1)[0] != prefix


# --- replies --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Question about my order", "Re: Question about my order"),
        ("Re: Question", "Re: Question"),
        ("RE: Re: re: Question", "Re: Question"),
        ("AW: Frage", "Re: Frage"),
        ("AW: RE: Frage", "Re: Frage"),
        ("Réf. : Commande", "Re: Commande"),
        ("R: Ordine", "Re: Ordine"),
        ("SV: Fråga", "Re: Fråga"),
        ("Re[2]: Question", "Re: Question"),
        ("RE : Commande n° 1002", "Re: Commande n° 1002"),
        ("Fwd: Invoice", "Re: Fwd: Invoice"),
        ("", "Re:"),
    ],
)
def test_reply_subject(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


def test_build_reply() -> None:
    refs = [f"<r{i}@shop.example>" for i in range(14)]
    message_id, data = build_reply(
        from_address="support@demo-shop.de",
        from_name="Demo Shop Kundenservice",
        to_address="max.mustermann@gmx.de",
        subject="AW: Ihre Bestellung #1001 wurde versandt",
        body_text="Guten Tag Herr Mustermann,\nwir kümmern uns.",
        in_reply_to="<trinity-abc@gmx>",
        references=refs,
        message_id_domain="mail.demo-shop.de",
        signature="Demo Shop\nKundenservice",
        date=NOW,
    )
    assert re.fullmatch(r"[0-9a-f]{32}@mail\.demo-shop\.de", message_id)
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    out = message_from_bytes(data, policy=policy.default)
    assert out["Message-ID"] == f"<{message_id}>"
    assert out["Subject"] == "Re: Ihre Bestellung #1001 wurde versandt"
    assert out["From"].addresses[0].display_name == "Demo Shop Kundenservice"
    assert out["To"] == "max.mustermann@gmx.de"
    assert out["In-Reply-To"] == "<trinity-abc@gmx>"
    ids = re.findall(r"<([^>]+)>", str(out["References"]))
    assert ids == ["r0@shop.example", *[f"r{i}@shop.example" for i in range(5, 14)], "trinity-abc@gmx"]
    assert out["Date"].datetime == NOW
    assert out["Auto-Submitted"] is None
    assert out.get_content_type() == "text/plain" and out.get_content_charset() == "utf-8"
    assert out.get_content().replace("\r\n", "\n") == (
        "Guten Tag Herr Mustermann,\nwir kümmern uns.\n\n-- \nDemo Shop\nKundenservice\n"
    )  # "-- " survives
    assert parse_mime(data).message_id == message_id  # our own parser reads it back


def test_build_reply_without_history_starts_a_thread() -> None:
    _, data = build_reply(
        from_address="s@shop.example",
        from_name=None,
        to_address="b@example.com",
        subject="Your question",
        body_text="Hello",
        in_reply_to=None,
        references=None,
        message_id_domain="shop.example",
    )
    out = message_from_bytes(data, policy=policy.default)
    assert out["In-Reply-To"] is None and out["References"] is None
    assert out["From"] == "s@shop.example" and out["Subject"] == "Re: Your question"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("to_address", "b@example.com\r\nBcc: victim@example.com", "to address"),
        ("to_address", "not-an-address", "to address"),
        ("from_address", "Shop <s@shop.example>", "from address"),
        ("message_id_domain", "bad domain", "not a domain"),
        ("body_text", "  ", "needs a body"),
    ],
)
def test_build_reply_rejects_bad_input(field: str, value: str, reason: str) -> None:
    kwargs: dict[str, Any] = {
        "from_address": "s@shop.example",
        "from_name": "Shop",
        "to_address": "b@example.com",
        "subject": "x",
        "body_text": "Hello",
        "in_reply_to": None,
        "references": [],
        "message_id_domain": "shop.example",
    }
    kwargs[field] = value
    with pytest.raises(MalformedPayload, match=reason):
        build_reply(**kwargs)


def test_header_injection_in_subject_is_flattened() -> None:
    _, data = build_reply(
        from_address="s@shop.example",
        from_name="Shop\r\nBcc: x@evil.example",
        to_address="b@example.com",
        subject="Hi\r\nBcc: x@evil.example",
        body_text="Hello",
        in_reply_to=None,
        references=[],
        message_id_domain="shop.example",
    )
    out = message_from_bytes(data, policy=policy.default)
    assert out["Bcc"] is None
    assert out["Subject"] == "Re: Hi Bcc: x@evil.example"


# --- module -------------------------------------------------------------------------------------


def test_connector_exposes_the_channel_functions() -> None:
    assert isinstance(CONNECTOR, EmailConnector) and CONNECTOR.channel == Channel.EMAIL.value == "email"
    assert CONNECTOR.parse_mime is parse_mime
    assert CONNECTOR.to_inbound is to_inbound
    assert CONNECTOR.build_reply is build_reply
