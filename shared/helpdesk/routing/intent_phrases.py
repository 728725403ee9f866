"""The intent classifier's phrase rules (``helpdesk.routing.intent``): for each intent, weighted
multilingual regular expressions (EN, FR, DE, IT, ES) with their negation and pre-sale options. Data, read
once at import; add a phrase with an example in tests/unit/test_intent.py."""

from __future__ import annotations

import re
from dataclasses import dataclass

from helpdesk.core.models import Intent

# --- rules ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    intent: Intent
    name: str
    pattern: re.Pattern[str]
    weight: float = 1.0
    negatable: bool = True
    unless: re.Pattern[str] | None = None
    presale: bool = False


def _c(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


_RULES: list[Rule] = []


def _rules(intent: Intent, *specs: tuple, presale: bool = False, negatable: bool = True) -> None:
    """Register rules: each spec is (name, regex[, weight[, options]]) with options a dict of
    ``neg`` (negatable, default ``negatable``) and ``unless`` (regex on the match's sentence)."""
    for spec in specs:
        name, regex, *rest = spec
        weight = rest[0] if rest else 1.0
        options = rest[1] if len(rest) > 1 else {}
        unless = options.get("unless")
        _RULES.append(
            Rule(
                intent=intent,
                name=name,
                pattern=_c(regex),
                weight=weight,
                negatable=options.get("neg", negatable),
                unless=_c(unless) if unless else None,
                presale=presale,
            )
        )


FIXED = {"neg": False}  # the phrase carries its own negation ("doesn't work"): never negated again

# Sentences about money or paperwork: "the refund hasn't arrived" is not a lost parcel.
_NOT_PARCEL = (
    r"\b(refund\w*|invoice\w*|receipt|money|reimburs\w*|rembours\w*|factur\w*|argent|erstatt\w*|ruckerstatt\w*"
    r"|rechnung\w*|geld|gutschrift|rimbors\w*|fattur\w*|soldi|reembols\w*|dinero|devolucion\w*|retoure|reso)\b"
)
# Things that "don't work" without being a defective product.
_NOT_PRODUCT = (
    r"\b(code|coupon|voucher|promo\w*|discount|link|tracking|website|site|app|checkout|login|password|account"
    r"|page|lien|suivi|gutschein\w*|rabatt\w*|trackinglink|konto|seite|codice|sconto|tracciamento|sito"
    r"|codigo|descuento|enlace|seguimiento|web|cuenta|paiement|kasse|pagar|pagamento)\b"
)
_ADDRESS_WORDS = (
    r"\b(address|flat|apartment|apt|house\s+number|street\s+number|postcode|zip|floor|buzzer|adresse|etage|digicode"
    r"|anschrift|hausnummer|indirizzo|civico|interno|direccion|piso|portal)\b"
)
_INVOICE_WORDS = r"\b(invoice\w*|billing|receipt|factur\w*|rechnung\w*|fattur\w*|fiscal\w*|vat|tva|iva|mwst)\b"
_INVOICE_OR_ADDRESS = rf"(?:{_INVOICE_WORDS}|{_ADDRESS_WORDS})"
_ACCOUNT_WORDS = r"\b(account|profile|newsletter|review|compte|konto|profil|recensione|cuenta|perfil|resena)\b"
_PICKUP_WORDS = r"\b(point relais|relais|magasin|bureau de poste|retrait)\b"
_CHARGE_WORDS = r"\b(addebit\w*|pagament\w*|importo|transazion\w*|accredit\w*)\b"

# ---- CANCELLATION
_rules(
    Intent.CANCELLATION,
    ("en:cancel", r"\b(can[cs]el+\w*|cancle\w*|cancal\w*)", 1.0, {"unless": _ACCOUNT_WORDS}),
    ("en:void-order", r"\bvoid\s+(the\s+|my\s+|this\s+)?order\b"),
    ("en:stop-order", r"\bstop\s+(the|my|this)\s+(order|shipment|delivery|package|parcel)\b"),
    ("en:remove-from-order", r"\b(remove|take|delete)\b[^.?!\n]{0,30}\b(off|from|out of)\s+(my|the|this)\s+order\b"),
    (
        "en:stop-before-shipping",
        r"\b(stop|hold|halt|intercept)\s+(it|this|them"
        r"|the\s+\w+)\b[^.?!\n]{0,30}\b(before|from)\b"
        r"[^.?!\n]{0,30}\b(ship\w*|leav\w*|go(es|ing)?\s+out|dispatch\w*|sent|posted)\b",
    ),
    ("en:withdraw-order", r"\bwithdraw\s+(my|the|this)\s+(order|purchase)\b"),
    ("en:do-not-ship", r"\b(don'?t|do not|please don'?t)\s+(ship|send|dispatch|post)\b", 1.0, FIXED),
    (
        "en:no-longer-need",
        r"\b(no longer|don'?t|do not)\s+(need|want)\s+(it|this|them|the \w+)(\s+any\s?more)?\b",
        0.5,
        FIXED,
    ),
    (
        "en:ordered-by-mistake",
        r"\b(ordered\s+(it\s+|this\s+)?(by mistake|twice|accidentally)|accidentally\s+ordered"
        r"|duplicate order|placed\s+(it|this|the order)\s+by mistake)\b",
        0.5,
    ),
    ("en:refuse-delivery", r"\brefuse\s+(the\s+)?(delivery|parcel|package)\b", 0.5),
    ("fr:annul", r"\bannul(?!l)\w*"),
    (
        "fr:remove-from-order",
        r"\b(supprim|retir|enlev)\w*\b[^.?!\n]{0,60}\bcommande\b|\bcommande\b[^.?!\n]{0,60}"
        r"\b(supprim|retir|enlev)\w*",
        1.0,
        {"unless": _PICKUP_WORDS},
    ),
    (
        "fr:do-not-ship",
        r"\b(ne\s+(l'|les\s+|la\s+|le\s+)?|n')(envoyez|expediez|envoie|expedie)\s+pas\b"
        r"|\bne\s+pas\s+(l'|la\s+|le\s+)?(envoyer|expedier)\b",
        1.0,
        FIXED,
    ),
    (
        "fr:no-longer-want",
        r"\b(ne\s+veux\s+plus|n'en\s+ai\s+plus\s+besoin|plus\s+besoin"
        r"|n'en\s+veux\s+plus)\b",
        0.5,
        FIXED,
    ),
    ("fr:ordered-twice", r"\b(en double|deux fois par erreur|commande\w* deux fois)\b", 0.5),
    ("fr:refuse-delivery", r"\brefuser\w*\b[^.?!\n]{0,20}\b(colis|livraison)\b", 0.5),
    ("de:storn", r"\bstorn\w*", 1.0, {"unless": _CHARGE_WORDS}),
    ("de:withdraw", r"\bzur(u|ue)ck\s?(zu)?tret\w*"),
    (
        "de:do-not-ship",
        r"\bnicht\s+(mehr\s+)?(versenden|verschicken|schicken|senden|ausliefern"
        r"|losschicken)\b",
        1.0,
        FIXED,
    ),
    ("de:remove-from-order", r"\bbestellung\b[^.?!\n]{0,40}\b(rausnehm|herausnehm|entfern|streich)\w*"),
    # "die Bestellung nicht rückgängig machen": the negator sits inside this phrase, so it is excluded there.
    (
        "de:undo-order",
        r"\bbestellung\b(?:(?!\b(nicht|kein\w*)\b)[^.?!\n]){0,40}\br(u|ue)ckg(a|ae)ngig\b"
        r"|\br(u|ue)ckg(a|ae)ngig\b[^.?!\n]{0,40}\bbestellung\b",
    ),
    ("de:no-longer-need", r"\b(brauche|will|mochte)\b[^.?!\n]{0,25}\bnicht\s+mehr\b", 0.5, FIXED),
    ("de:ordered-twice", r"\b(doppelt|versehentlich|aus versehen)\s+bestellt\b", 0.5),
    ("de:refuse-delivery", r"\bannahme\b[^.?!\n]{0,20}\bverweiger\w*", 0.5),
    ("it:annull", r"\bannull\w*"),
    ("it:disdire", r"\bdisd(ire|ico|ica|ite|irlo|irla|etta)\b|\brevoc\w*\b[^.?!\n]{0,20}\bordin\w*"),
    (
        "it:do-not-ship",
        r"\bnon\s+(lo\s+|la\s+|li\s+|le\s+)?(spedite|spedirlo|spedirla|spedire|inviate|mandate"
        r"|spedisca)\b",
        1.0,
        FIXED,
    ),
    ("it:remove-from-order", r"\b(togli|rimuov|elimin|cancell)\w*\b[^.?!\n]{0,40}\bordin\w*"),
    ("it:no-longer-want", r"\bnon\s+(mi\s+serve|mi\s+servono|lo\s+voglio|la\s+voglio|voglio)\s+piu\b", 0.5, FIXED),
    ("it:ordered-twice", r"\b(ordinato\s+due\s+volte|due\s+ordini\s+uguali|ordine\s+doppio)\b", 0.5),
    ("it:refuse-delivery", r"\brifiut\w*\b[^.?!\n]{0,20}\b(consegna|pacco)\b", 0.5),
    ("es:anul", r"\banul\w*"),
    (
        "es:do-not-ship",
        r"\bno\s+(lo\s+|la\s+|los\s+|las\s+|me\s+lo\s+)?(envien|envieis|manden|mandeis|despachen"
        r"|envies)\b",
        1.0,
        FIXED,
    ),
    ("es:remove-from-order", r"\b(quit|elimin|retir|sac)\w*\b[^.?!\n]{0,40}\bpedido\b"),
    ("es:no-longer-want", r"\bya\s+no\s+(lo\s+|la\s+)?(necesito|quiero)\b", 0.5, FIXED),
    ("es:regret", r"\b(me\s+he\s+arrepentido|me\s+arrepenti)\b", 0.5),
    ("es:ordered-twice", r"\b(pedido\s+dos\s+veces|pedido\s+duplicado)\b", 0.5),
    ("es:refuse-delivery", r"\brechaz\w*\b[^.?!\n]{0,20}\b(entrega|paquete)\b", 0.5),
    # Counter-evidence: reports of a cancellation that already happened (usually the seller's), and policy questions.
    (
        "en:was-cancelled",
        r"\b(was|were|been|got|is|has|have)\b(\s+\w+){0,2}\s+cancel+ed\b"
        r"|\b(you|they|seller)\s+(have\s+|has\s+)?cancel+ed\b",
        -1.0,
        FIXED,
    ),
    ("fr:was-cancelled", r"\bete\s+annule\w*|\b(avez|ont)\s+(\w+\s+)?annule\w*|\bcommande\s+annulee\b", -1.0, FIXED),
    (
        "de:was-cancelled",
        r"\b(wurde|wurden|ist|sind|war|haben sie|habt ihr)\b(\s+\w+){0,3}\s+storniert\b(?!\s+werden)",
        -1.0,
        FIXED,
    ),
    (
        "it:was-cancelled",
        r"\b(stato|stata|stati|state|avete|hanno)\s+(\w+\s+)?(annullat"
        r"|cancellat)[oaie]\b",
        -1.0,
        FIXED,
    ),
    (
        "es:was-cancelled",
        r"\b(fue|fueron|ha sido|han sido|han|habeis)\s+(\w+\s+)?(cancelad|anulad)[oa]s?\b"
        r"|\b(cancelaron|anularon|cancelasteis|anulasteis)\b",
        -1.0,
        FIXED,
    ),
    (
        "*:cancellation-policy",
        r"\b(cancel\w* policy|politique d'annulation|conditions d'annulation|storno\w*"
        r"(bedingung|regel|frist)\w*|politica di (annullamento|cancellazione)|politica de (cancelacion|anulacion))",
        -1.0,
        FIXED,
    ),
)

# ---- WISMO: never negated, the absence is the complaint ("no tracking yet", "I don't know where my order is")
_rules(
    Intent.WISMO,
    (
        "en:where-is-my-order",
        r"\bwhere('?s|\s+is|\s+are)\s+(my|the|our)\s+(\w+\s+)?(order|package|parcel|item|items"
        r"|stuff|delivery|shipment|box|purchase)\b",
    ),
    ("en:where-it-is", r"\bwhere\s+(it|they|my\s+(order|package|parcel))\s+(is|are)\b"),
    ("en:tracking-number", r"\btracking\s+(number|no|info\w*|link|code|details|id)\b"),
    (
        "en:not-arrived",
        r"\b(hasn'?t|has not|have not|haven'?t|didn'?t|did not|never|not yet|still not|still hasn'?t"
        r"|hasnt|havent|didnt)\s+(yet\s+)?(arrived|shipped|been shipped|been delivered|been dispatched|received|got"
        r"|gotten|come|turned up|showed up|heard)\b",
        1.0,
        {"neg": False, "unless": _NOT_PARCEL},
    ),
    (
        "en:when-arrive",
        r"\b(when|how long)\b(?:(?!invoice|refund|receipt|money)[^.?!\n]){0,40}\b(arriv\w*|ship|shipped"
        r"|dispatch\w*|deliver\w*|get it|receive it|be here|be sent|send it)\b",
        1.0,
        {"unless": _NOT_PARCEL},
    ),
    (
        "en:order-status",
        r"\b(update|news|status)\s+(on|of|about|for)\s+(my|the|this)\s+(order|package|parcel|delivery"
        r"|shipment)\b|\border\s+status\b",
    ),
    ("en:marked-delivered", r"\b(says|shows|marked|showing|states|listed)\s+(as\s+)?delivered\b|\bdelivered\s+but\b"),
    (
        "en:has-it-shipped",
        r"\b(has|have|did)\s+(it|my\s+order|my\s+package|the\s+order|they)\s+(been\s+)?"
        r"(shipped|dispatched|sent|left)\b",
    ),
    (
        "en:lost-parcel",
        r"\b(lost|missing)\s+(package|parcel|shipment|delivery)\b|\b(package|parcel)\s+(is\s+"
        r"|got\s+)?lost\b",
    ),
    ("en:wrong-house", r"\bdeliver\w*\b[^.?!\n]{0,20}\bwrong\s+(address|house|door|person|building|flat)\b"),
    ("en:waiting-for-order", r"\bwaiting\s+(for|on)\s+(my|the|this)\s+(order|package|parcel|delivery|shipment)\b"),
    (
        "en:will-it-arrive",
        r"\b(will|would|is|does)\s+(it|they|my\s+\w+|the\s+\w+)\s+(arrive|come|get\s+here|be\s+here"
        r"|be\s+delivered|ship|make\s+it)\b",
        1.0,
        {"unless": _NOT_PARCEL},
    ),
    ("en:stuck-parcel", r"\b(package|parcel|order|shipment)\b[^.?!\n]{0,30}\b(stuck|held|lost|sitting|stopped)\b"),
    ("en:status-words", r"\b(out\s+for\s+delivery|in\s+transit|label\s+created|awaiting\s+collection)\b"),
    (
        "en:supposed-to-arrive",
        r"\b(was|were)\s+supposed\s+to\s+(arrive|be\s+delivered|come|ship)\b|\bshould\s+have\s+"
        r"(arrived|been\s+delivered|come)\b|\b(isn'?t|is\s+not|not|still\s+isn'?t)\s+here\s+(yet)?\b"
        r"|\btracking\s+(hasn'?t|has\s+not|didn'?t|not)\s+(moved|updated|changed)\b",
        1.0,
        FIXED,
    ),
    ("en:still-nothing", r"\bstill\s+(no|nothing|waiting)\b", 0.7),
    ("en:late", r"\b(late|delayed|delay|overdue|stuck)\b", 0.5),
    ("*:tracking", r"\btracking\w*", 0.7),
    ("*:tracking-link", r"\b(tracking|sendungs|tracciamento)-?(link|nummer|code|id|number)\b"),
    (
        "fr:ou-est",
        r"\bou\s+(est|sont|en\s+est|en\s+sont)\s+(ma|mon|mes|la|le|les)\s+(commande|colis|paquet|livraison"
        r"|article|envoi)\w*",
    ),
    ("fr:ou-en-est", r"\bou\s+en\s+est\b", 0.7),
    (
        "fr:suivi-number",
        r"\b(numero|lien|code|n°)\s+de\s+suivi\b"
        r"|\bsuivi\s+de\s+(mon\s+|la\s+|ma\s+)?(colis|commande)\b",
    ),
    ("fr:suivi", r"\bsuivi\b", 0.7),
    (
        "fr:pas-recu",
        r"\b(pas|rien|jamais)\s+(encore\s+|toujours\s+)?(ete\s+)?(recu|arrive|livre|expedie|parti)\w*"
        r"|\btoujours\s+(pas|rien)\b",
        1.0,
        {"neg": False, "unless": _NOT_PARCEL},
    ),
    (
        "fr:quand",
        r"\bquand\b(?:(?!factur|rembours)[^.?!\n]){0,40}\b(recevoir|recevrai|arriv\w*|livr\w*|expedi\w*"
        r"|partir\w*|partira|envoy\w*)",
        1.0,
        {"unless": _NOT_PARCEL},
    ),
    ("fr:bloque", r"\b(colis|commande|paquet)\b[^.?!\n]{0,20}\b(bloque|perdu|egare|coince)\w*", 1.0),
    ("fr:indique-livre", r"\b(indique|affiche|marque|dit|noté|note)\b[^.?!\n]{0,30}\blivre\w*|\blivre\w*\s+mais\b"),
    (
        "fr:relancer-transporteur",
        r"\b(relancer|enquete|reclamation)\b[^.?!\n]{0,30}\b(transporteur|colissimo|chronopost"
        r"|la poste|livreur)\b",
    ),
    (
        "fr:arrivera",
        r"\b(arrivera|arriveront|va-t-(il|elle)\s+arriver|sera-t-(il|elle)\s+livre\w*|sera\s+livre\w*"
        r"|sera\s+expedie\w*)\b",
        1.0,
        {"unless": _NOT_PARCEL},
    ),
    (
        "fr:statut",
        r"\b(en\s+cours\s+de\s+(livraison|acheminement)|statut|mise\s+a\s+jour\s+du\s+(suivi"
        r"|transporteur))\b",
        0.7,
    ),
    ("fr:devait-arriver", r"\b(devait|aurait\s+du|devrait)\s+(arriver|etre\s+livre\w*|etre\s+la)\b"),
    ("fr:transporteur", r"\btransporteur\b", 0.3),
    ("fr:retard", r"\b(retard|en preparation|en attente d'expedition)\b", 0.5),
    (
        "de:wo-ist",
        r"\bwo\s+(ist|bleibt|sind|steckt)\s+(mein|meine|die|das|der)\s+(\w+\s+)?(paket|bestellung|sendung"
        r"|lieferung|ware|packchen)\b|\bwo\s+bleibt\b",
    ),
    (
        "de:tracking-number",
        r"\b(sendungsnummer|sendungsverfolgung|trackingnummer|paketnummer|tracking-?nummer"
        r"|sendungsstatus|lieferstatus)\b",
    ),
    (
        "de:not-arrived",
        r"\b(noch\s+nicht|nicht|nie|immer\s+noch\s+nicht|noch\s+immer\s+nicht)\s+(angekommen|erhalten"
        r"|geliefert|zugestellt|bekommen|da|eingetroffen|verschickt|versendet|versandt)\b|\bnichts\s+(angekommen|erhalten"
        r"|bekommen)\b",
        1.0,
        {"neg": False, "unless": _NOT_PARCEL},
    ),
    (
        "de:wann",
        r"\bwann\b(?:(?!rechnung|erstatt|geld)[^.?!\n]){0,40}\b(kommt|komm\w*|verschickt|versch\w*|versand\w*"
        r"|versend\w*|geliefert|liefern|lieferung|zugestellt|ankomm\w*|da\b|an\b|raus\b)",
        1.0,
        {"unless": _NOT_PARCEL},
    ),
    ("de:shipped-yet", r"\b(schon|bereits|endlich)\s+(unterwegs|verschickt|versendet|versandt|raus)\b"),
    ("de:zugestellt-aber", r"\bzugestellt\b[^.?!\n]{0,30}\b(aber|nichts|nicht)\b"),
    ("de:stuck", r"\b(hangt|steckt|liegt|feststeck\w*)\b[^.?!\n]{0,40}\bfest\b|\bfeststeck\w*"),
    (
        "de:kommt-es",
        r"\bkommt\s+(das|es|sie|er|der|die|mein\w*)\b[^.?!\n]{0,30}\b(noch|bald|heute|morgen|diese|nachste"
        r"|endlich|rechtzeitig|an)\b",
        1.0,
        {"unless": _NOT_PARCEL},
    ),
    (
        "de:stuck-parcel",
        r"\b(paket|sendung|bestellung|packchen)\b[^.?!\n]{0,30}\b(verloren|verschwunden|festgehalten"
        r"|zuruckgehalten)\b",
    ),
    ("de:nachforschung", r"\bnachforsch\w*", 1.0),
    ("de:nachfragen", r"\b(nachfragen|nachhaken|nachsehen)\b", 0.5),
    ("de:status-words", r"\b(in\s+zustellung|zustellversuch|in\s+zustellung|sendungsstatus|paketstatus)\b"),
    (
        "de:sollte-ankommen",
        r"\b(sollte|hatte)\b[^.?!\n]{0,30}\b(ankommen|geliefert\s+werden|da\s+sein"
        r"|zugestellt\s+werden)\b",
    ),
    ("de:late", r"\b(verspat\w*|verzoger\w*|in bearbeitung|versandbestatigung)\b", 0.5),
    (
        "it:dove",
        r"\bdov'?\s*e\s+(finito\s+)?(il|la|lo|i|le)\s+(mio|mia|miei|mie|nostro)?\s*(ordine|pacco|spedizione"
        r"|pacchetto|merce|collo|acquisto)\b|\bdove\s+(e|sono|si trova)\s+(il|la)\s+(mio|mia)\s+(ordine|pacco"
        r"|spedizione)\b",
    ),
    ("it:che-fine", r"\bche\s+fine\s+ha\s+fatto\b"),
    ("it:tracking-number", r"\b(numero|codice|link)\s+di\s+(tracking|tracciamento|spedizione)\b"),
    ("it:tracciamento", r"\btracciamento\b", 0.7),
    (
        "it:not-arrived",
        r"\bnon\s+(mi\s+)?(e|sono|ho|hanno|avete)\s+(ancora\s+)?(arrivat|ricevut|consegnat|spedit)\w*"
        r"|\bnon\s+(e|sono)\s+(ancora\s+)?(arrivat|partit)\w*",
        1.0,
        {"neg": False, "unless": _NOT_PARCEL},
    ),
    (
        "it:quando",
        r"\bquando\b(?:(?!rimbors|fattur)[^.?!\n]){0,40}\b(arriv\w*|sped\w*|consegn\w*|part\w*|ricev\w*)",
        1.0,
        {"unless": _NOT_PARCEL},
    ),
    ("it:gia-spedito", r"\b(gia|ancora)\s+(stato\s+|stata\s+)?(spedit|partit|consegnat)\w*"),
    ("it:consegnato-ma", r"\b(dice|risulta|segna|indica)\s+consegnat\w*|\bconsegnat\w*\s+ma\b"),
    ("it:giacenza", r"\b(giacenza|sollecitare il corriere|in deposito)\b"),
    ("it:arrivera", r"\b(arrivera|arriveranno|arriva\s+(entro|prima|per|in\s+tempo))\b", 1.0, {"unless": _NOT_PARCEL}),
    ("it:stuck-parcel", r"\b(pacco|ordine|spedizione)\b[^.?!\n]{0,30}\b(fermo|bloccat\w*|pers[oa]|smarrit\w*)\b"),
    (
        "it:doveva-arrivare",
        r"\bdoveva\s+(arrivare|essere\s+consegnat\w*)\b|\b(in\s+consegna|in\s+transito)\b"
        r"|\bnon\s+si\s+e\s+visto\s+nessuno\b",
    ),
    ("it:corriere", r"\bcorriere\b", 0.3),
    ("it:late", r"\b(ritardo|fermo|in lavorazione|ancora nessun\w*)\b", 0.5),
    ("es:donde", r"\bdonde\s+(esta|estan|anda|queda)\s+(mi|mis|el|los)\s+(pedido|paquete|envio|compra)\w*\b"),
    ("es:tracking-number", r"\b(numero|codigo|enlace)\s+de\s+(seguimiento|envio)\b"),
    ("es:seguimiento", r"\bseguimiento\b", 0.7),
    (
        "es:not-arrived",
        r"\bno\s+(me\s+)?(ha|han|he|hemos)\s+(llegado|recibido|enviado)\b|\b(aun|todavia)\s+no\s+"
        r"(me\s+)?(ha\s+|han\s+)?(llega\w*|lleg\w*|recib\w*|envi\w*)|\bsigue\s+sin\s+(llegar|enviar)\b",
        1.0,
        {"neg": False, "unless": _NOT_PARCEL},
    ),
    (
        "es:cuando",
        r"\bcuando\b(?:(?!reembols|factur|dinero)[^.?!\n]){0,40}\b(lleg\w*|envi\w*|recib\w*|entreg\w*"
        r"|sale\b|salir\w*)",
        1.0,
        {"unless": _NOT_PARCEL},
    ),
    ("es:ya-enviado", r"\b(ya\s+)?se\s+(ha\s+)?(envio|enviado|mandado)\b"),
    ("es:pone-entregado", r"\b(pone|dice|aparece|figura|marca)\s+(como\s+)?entregad\w*"),
    ("es:llegara", r"\b(llegara|llegaran|llega\s+(antes|para|a\s+tiempo))\b", 1.0, {"unless": _NOT_PARCEL}),
    ("es:stuck-parcel", r"\b(paquete|pedido|envio)\b[^.?!\n]{0,40}\b(parado|atascado|perdido|retenido|extraviado)\b"),
    (
        "es:en-reparto",
        r"\b(en\s+reparto|en\s+transito|no\s+ha\s+venido\s+nadie|deberia\s+haber\s+llegado"
        r"|tendria\s+que\s+haber\s+llegado)\b",
    ),
    ("es:late", r"\b(retraso|retrasad\w*|parado|preparando\s+(el\s+)?envio|mensajeria|transportista)\b", 0.5),
    (
        "*:carrier",
        r"\b(usps|ups|fedex|dhl|royal mail|hermes|dpd|gls|colissimo|chronopost|mondial relay|seur|correos"
        r"|mrw|brt|bartolini|sda|poste italiane|la poste|evri|yodel|canada post|ontrac|lasership)\b",
        0.3,
    ),
    negatable=False,
)

# ---- RETURN_REFUND
_rules(
    Intent.RETURN_REFUND,
    ("en:refund", r"\b(refund\w*|refound\w*|reimbursed)\b"),
    ("en:reimburse", r"\breimburs\w*", 0.5, {"unless": r"\b(employer|company|expenses?|work)\b"}),
    (
        "en:return",
        r"\breturn\w*\s+(it|them|this|these|the\s+\w+|my\s+\w+|label|process|policy|request|form|address"
        r"|shipping|slip)\b|\breturned\b|\breturn\s+(for|and)\b",
    ),
    ("en:return-word", r"\breturns?\b", 0.5),
    (
        "en:send-back",
        r"\b(send|sent|ship|shipped|mail|mailed|post|posted|bring|brought|take"
        r"|took)\b(\s+\w+){0,2}\s+back\b",
    ),
    ("en:money-back", r"\b(money|cash)\s+back\b"),
    ("en:exchange", r"\b(exchange|swap)\w*\b"),
    (
        "en:charged-twice",
        r"\bcharged\b[^.?!\n]{0,30}\b(twice|two times|double)\b|\bdouble[- ]charged\b"
        r"|\bduplicate\s+(charge|payment|transaction)\b",
    ),
    ("en:chargeback", r"\b(chargeback|store credit)\b"),
    ("en:changed-mind", r"\bchanged\s+my\s+mind\b", 0.5),
    ("fr:rembours", r"\brembours\w*"),
    (
        "fr:retour",
        r"\b(retourner|renvoyer|renvoye\w*|renverr\w*|retourne\w*|etiquette\s+(de\s+)?retour"
        r"|bon\s+de\s+retour)\b",
    ),
    ("fr:retour-word", r"\bretours?\b", 0.7),
    ("fr:echange", r"\bechang\w*"),
    ("fr:retractation", r"\bretractation\b"),
    (
        "fr:debite-deux-fois",
        r"\b(debit|preleve|prelevement|factur)\w*\b[^.?!\n]{0,40}\bdeux\s+fois\b"
        r"|\bdouble\s+(prelevement|debit|paiement)\b",
    ),
    ("fr:change-avis", r"\bchange\s+d'avis\b", 0.5),
    ("de:erstattung", r"\b(ru(e)?ckerstatt\w*|erstatt\w*|ru(e)?ckzahl\w*)"),
    ("de:geld-zuruck", r"\bgeld\b[^.?!\n]{0,20}\bzur(u|ue)ck\b"),
    ("de:zuruckschicken", r"\bzur(u|ue)ck\s?(zu)?(schick|send|geb|gesendet|geschickt|gegeben|gesandt)\w*"),
    ("de:retoure", r"\b(retour\w*|ru(e)?cksend\w*|ru(e)?ckgabe\w*)"),
    ("de:umtausch", r"\b(umtausch\w*|umzutauschen|tauschen)\b"),
    ("de:widerruf", r"\bwiderruf\w*|\bwiderrufe\b"),
    ("de:doppelt-belastet", r"\b(zweimal|doppelt)\s+(belastet|abgebucht|berechnet|bezahlt)\b"),
    ("it:rimborso", r"\brimbors\w*", 1.0, {"unless": r"\b(spese|aziendal\w*|nota spese)\b"}),
    ("it:reso", r"\breso\b|\bresi\b"),
    (
        "it:restituire",
        r"\b(restitui\w*|restituzione|rendere|renderlo|renderla|rispedit\w*|rimandare\s+indietro"
        r"|rimandarlo)\b",
    ),
    ("it:recesso", r"\brecesso\b"),
    ("it:cambio", r"\b(cambio|cambiare)\s+(di\s+)?(taglia|misura|colore|numero)\b"),
    (
        "it:addebito-doppio",
        r"\b(addebitat\w*|pagat\w*)\b[^.?!\n]{0,30}\bdue\s+volte\b|\bdoppio\s+(addebito|pagamento)\b"
        r"|\bstorn\w*\b[^.?!\n]{0,30}\b(addebit\w*|pagament\w*)",
    ),
    ("es:reembolso", r"\breembols\w*", 1.0, {"unless": r"\b(gasto|gastos|empresa)\b"}),
    ("es:devolver", r"\b(dev(ol|uel)v\w*|devolucion\w*|devuelvanme)"),
    ("es:cambio-talla", r"\b(cambiar\w*|cambio)\b[^.?!\n]{0,20}\b(talla|numero|color|tamano)\b"),
    ("es:desistimiento", r"\bdesistimiento\b"),
    ("es:cobro-doble", r"\b(cobr|carg)\w*\b[^.?!\n]{0,30}\bdos\s+veces\b|\b(cobro|cargo)\s+(duplicado|doble)\b"),
)

# ---- DAMAGED_WRONG_ITEM
_rules(
    Intent.DAMAGED_WRONG_ITEM,
    (
        "en:broken",
        r"\b(broken|broke|smashed|shattered|cracked|crushed|dented|scratched|torn|ripped|leak\w*|damaged"
        r"|damage|bent|chipped|snapped|melted|stained|moldy|mouldy|rotten|ruined|in\s+pieces)\b",
    ),
    ("en:defective", r"\b(defective|faulty|dead on arrival|doa|dead out of the box|malfunction\w*)\b"),
    (
        "en:not-working",
        r"\b(doesn'?t|does not|won'?t|will not|didn'?t|isn'?t|is not|not|doesnt|wont|isnt|never)\s+"
        r"(work|working|works|turn on|turning on|charge|charging|power on|switch on|start|fit|close)\b|\bstopped\s+"
        r"(working|charging)\b|\bquit\s+working\b",
        1.0,
        {"neg": False, "unless": _NOT_PRODUCT},
    ),
    ("en:dead", r"\b(dead|no power|burning smell|sparks?)\b", 0.7),
    ("en:no-sound", r"\b(no\s+sound|no\s+audio|crackl\w*|distorted\s+sound)\b", 1.0, FIXED),
    (
        "en:wrong-item",
        r"\bwrong\s+(item|items|product|size|colou?r|model|thing|one|book|part|parts|version|style|pair"
        r"|article|shoe|shoes|order)\b",
    ),
    ("en:instead-of", r"\b(sent|received|recieved|got|came)\b[^.?!\n]{0,40}\binstead\s+of\b"),
    (
        "en:not-as-described",
        r"\bnot\s+(what\s+i\s+ordered|as\s+described|as\s+pictured|the\s+(one|item|thing)\s+i"
        r"\s+ordered)\b",
        1.0,
        FIXED,
    ),
    (
        "en:missing-part",
        r"\b(missing\s+(\w+\s+)?(part|parts|piece|pieces|screw|screws|item|items|accessor\w*|cable"
        r"|charger|component|components|bolt|bolts|instructions|remote|lid|battery)|(is|are|was|were)\s+missing)\b",
        1.0,
        {"unless": _INVOICE_OR_ADDRESS},
    ),
    ("en:missing", r"\bmissing\b", 0.5, {"unless": _INVOICE_OR_ADDRESS}),
    (
        "en:ordered-got",
        r"\bordered\s+(a\s+)?(size\s+)?\w+\s+(and\s+)?(got|received|recieved|came|was sent)\s+"
        r"(a\s+)?(size\s+)?\w+",
    ),
    (
        "fr:casse",
        r"\b(cass(e|ee|es|ees|er|ent|ait)|abime\w*|endommag\w*|ecrase\w*|fissur\w*|raye\w*|dechir\w*"
        r"|brise\w*|fele\w*"
        r"|eventre\w*|tordu\w*|ebrech\w*|detruit\w*|moisi\w*|en\s+miettes|en\s+morceaux|fendu\w*|tache\w*)\b",
    ),
    ("fr:defectueux", r"\b(defectu\w*|en panne|hors service|hs)\b"),
    (
        "fr:ne-marche-pas",
        r"\b(ne\s+|n')?(marche|fonctionne|s'allume|s\s+allume|charge|demarre)\s+(plus|pas)\b",
        1.0,
        {"neg": False, "unless": _NOT_PRODUCT},
    ),
    (
        "fr:mauvais-article",
        r"\b(mauvais|mauvaise)\s+(article|produit|taille|couleur|modele|pointure|colis|reference"
        r"|version|objet)\b|\bpas\s+(du\s+tout\s+)?(le\s+bon|la\s+bonne)\s+(produit|article|modele|colis|taille"
        r"|couleur|reference|pointure)\b",
        1.0,
        FIXED,
    ),
    (
        "fr:au-lieu-de",
        r"\brecu\w*\b[^.?!\n]{0,40}\bau\s+lieu\s+d|\bautre\s+(modele|article|produit|couleur|taille)"
        r"\s+que\b|\bau\s+lieu\s+d'une?\s+\w+",
        1.0,
    ),
    ("fr:manque", r"\b(il\s+manque|manquant\w*|manque\s+(la|le|les|un|une))\b", 1.0, {"unless": _INVOICE_OR_ADDRESS}),
    ("fr:commande-recu", r"\bcommande\w*\s+(en\s+)?(taille\s+)?\w+\s+(et\s+)?(j'ai\s+)?recu\w*"),
    ("fr:son", r"\b(gresill\w*|pas de son|aucun son|sans son|n'entend\w*)\b", 1.0, FIXED),
    (
        "fr:non-conforme",
        r"\bnon\s+conforme\b|\bne\s+correspond\s+pas\s+(a\s+la\s+description|au\s+descriptif)\b",
        1.0,
        FIXED,
    ),
    (
        "de:kaputt",
        r"\b(kaputt\w*|beschadigt\w*|zerbroch\w*|gebroch\w*|zerkratzt\w*|gerissen\w*|eingedruckt\w*"
        r"|zerdruckt\w*|undicht\w*|ausgelaufen\w*|gesprungen\w*|delle|dellen|kratzer|zersplittert\w*|verbogen\w*"
        r"|schimmel\w*|sprung|riss|risse|bruch|zerrissen\w*)\b",
    ),
    ("de:defekt", r"\bdefekt\w*"),
    (
        "de:funktioniert-nicht",
        r"\b(funktionier\w*|geht|lauft|ladt|startet)\s+(\w+\s+){0,3}(gar\s+|uberhaupt\s+)?"
        r"(nicht|nich|kaum)\b(\s+mehr)?|\bnicht\s+mehr\s+(funktionier\w*|an\b)",
        1.0,
        {"neg": False, "unless": _NOT_PRODUCT},
    ),
    (
        "de:falscher-artikel",
        r"\bfalsch\w*\s+(artikel|produkt|grosse|farbe|modell|ware|teil|buch|paket|sache|gerat"
        r"|version|akku)\b|\b(farbe|grosse|modell|artikel|ware)\s+stimmt\s+nicht\b",
        1.0,
        FIXED,
    ),
    (
        "de:bestellt-bekommen",
        r"\bbestellt\b[, ]+(\w+\s+){0,3}(bekommen|erhalten|geliefert|gekommen|kam)\b|\bbestellt\s+"
        r"war\b[^.?!\n]{0,50}\b(gekommen|geliefert|bekommen)\b",
        1.0,
        {"unless": r"\b(nichts|noch nicht|keine|nie)\b"},
    ),
    ("de:fehlt", r"\b(fehlt|fehlen|fehlende\w*|unvollstandig)\b", 1.0, {"unless": _INVOICE_OR_ADDRESS}),
    ("de:statt", r"\b(statt|anstatt|anstelle)\b[^.?!\n]{0,40}\b(bekommen|erhalten|geliefert|geschickt)\b", 0.7),
    ("de:kein-ton", r"\b(kein\s+ton|keinen\s+ton|rauscht|knackt|knistert)\b", 1.0, FIXED),
    ("de:nicht-wie-beschrieben", r"\b(nicht\s+wie\s+beschrieben|entspricht\s+nicht)\b", 1.0, FIXED),
    (
        "it:rotto",
        r"\b(rott[oaie]|danneggiat\w*|ammaccat\w*|frantum\w*|graffiat\w*|crepat\w*|incrinat\w*|schiacciat\w*"
        r"|spaccat\w*|strappat\w*|sbeccat\w*|scheggiat\w*|distrutt\w*|crepa|crepe|macchiat\w*)\b",
    ),
    ("it:difettoso", r"\b(difettos\w*|guast[oaie]|non\s+conforme)\b"),
    (
        "it:non-funziona",
        r"\bnon\s+(si\s+)?(funziona|funzionano|accende|accendono|carica|caricano|va|vanno|parte"
        r"|sente|sentono)\b(\s+piu)?|\b(smesso|smette)\s+di\s+funzionare\b",
        1.0,
        {"neg": False, "unless": _NOT_PRODUCT},
    ),
    (
        "it:sbagliato",
        r"\b(articolo|prodotto|taglia|colore|modello|misura|pacco|numero)\s+sbagliat\w*|\bsbagliat\w*\s+"
        r"(articolo|prodotto|taglia|colore|modello|misura)\b",
    ),
    (
        "it:diverso",
        r"\bdivers\w*\s+da\s+quell\w*\s+(ordinat|scelt|acquistat)\w*|\bnon\s+e\s+quell\w*\s+(che\s+ho\s+)?"
        r"ordinat\w*",
        1.0,
        FIXED,
    ),
    (
        "it:ordinato-arrivato",
        r"\b(avevo\s+ordinato|ho\s+ordinato|ordinat\w*|ho\s+scelto)\b[^.?!\n]{0,50}\b(arrivat"
        r"|ricevut|consegnat)\w*",
        1.0,
        {"unless": r"\b(non|ancora|nessun\w*)\b"},
    ),
    ("it:manca", r"\b(manca|mancano|mancante|mancanti)\b", 1.0, {"unless": _INVOICE_OR_ADDRESS}),
    ("it:perde", r"\b(perde\s+acqua|perdita|perdite)\b", 0.7),
    ("it:audio", r"\bnon\s+si\s+sente\b|\bsenza\s+(audio|suono)\b|\bgracchi\w*", 1.0, FIXED),
    (
        "es:roto",
        r"\b(rot[oa]s?|danad\w*|aplastad\w*|rayad\w*|golpead\w*|abollad\w*|agrietad\w*|estropead\w*"
        r"|rasgad\w*|quebrad\w*|destrozad\w*|raja|rajad\w*|grieta\w*|desconchad\w*|manchad\w*)\b",
    ),
    ("es:defectuoso", r"\b(defectuos\w*|averiad\w*|no\s+conforme)\b"),
    (
        "es:no-funciona",
        r"\bno\s+(me\s+)?(funciona|funcionan|enciende|encienden|carga|cargan|arranca|suena|suenan)\b"
        r"|\b(dejo|ha\s+dejado)\s+de\s+funcionar\b",
        1.0,
        {"neg": False, "unless": _NOT_PRODUCT},
    ),
    (
        "es:equivocado",
        r"\b(articulo|producto|talla|color|modelo|pedido|tamano|numero)\s+(equivocad|incorrect|erron)\w*"
        r"|\b(equivocad|incorrect)\w*\s+(articulo|producto|talla|color|modelo)\b",
    ),
    ("es:no-es-el-que", r"\bno\s+es\s+(el|la|lo)\s+que\s+(pedi|compre|encargue|pedimos)\b", 1.0, FIXED),
    (
        "es:pedi-llego",
        r"\b(pedi|compre|encargue|elegi)\b[^.?!\n]{0,40}\b(llego|llegaron|recibi|enviaron|mandaron)\b",
        1.0,
        {"unless": r"\b(no|todavia|aun|nada)\b"},
    ),
    (
        "es:falta",
        r"\b(falta|faltan|faltaba|faltaban|no\s+venia|no\s+vino"
        r"|no\s+trae)\b",
        1.0,
        {"unless": _INVOICE_OR_ADDRESS},
    ),
    ("es:sonido", r"\b(sin\s+sonido|no\s+se\s+oye|no\s+suena)\b", 1.0, FIXED),
)

# ---- ADDRESS_CHANGE (never when the sentence is about the invoice: that is a billing detail)
_A = {"unless": _INVOICE_WORDS}
_rules(
    Intent.ADDRESS_CHANGE,
    (
        "en:change-address",
        r"\b(change|changing|update|updating|correct|edit|modify|amend|fix)\w*\b[^.?!\n]{0,40}\b"
        r"(address|zip|zip\s?code|postcode|postal code|street|apt|apartment|house number|flat number|suite)\b",
        1.0,
        _A,
    ),
    (
        "en:address-wrong",
        r"\b(address|zip|zip\s?code|postcode|postal code)\b[^.?!\n]{0,25}\b(change|update|correct\w*"
        r"|wrong|typo|mistake|incorrect)\b|\btypo\b[^.?!\n]{0,25}\b(address|zip|postcode|street)\b",
        1.0,
        _A,
    ),
    (
        "en:address-detail",
        r"\b(address|flat|apartment|apt|house\s+number|street\s+number|unit|floor|buzzer"
        r"|postcode|zip)\b"
        r"[^.?!\n]{0,40}\b(missing|wrong|should\s+(be|read|say)|incorrect|forgot\w*|left\s+out|incomplete)\b"
        r"|\b(forgot|left\s+out)\b[^.?!\n]{0,30}\b(address|flat|apartment|apt|house\s+number|unit|floor"
        r"|buzzer)\b",
        1.0,
        _A,
    ),
    (
        "en:entered-wrong-address",
        r"\b(i|i've|i\s+have|i\s+had)\s+(put|entered|given|gave|typed|used|selected|chosen"
        r"|chose)\s+(in\s+)?(the|a|an|my)\s+(wrong|old|incorrect|previous)\s+(\w+\s+)?address\b",
        1.0,
        _A,
    ),
    (
        "en:old-address",
        r"\b(wrong|old|incorrect|new|previous|former)\s+(shipping\s+|delivery\s+|home\s+)?address\b",
        0.7,
        _A,
    ),
    ("en:redirect", r"\b(redirect|reroute|re-route|re-direct)\w*\b"),
    (
        "en:send-instead",
        r"\b(ship|send|deliver|post|mail)\w*\s+(it\s+|them\s+|this\s+|the\s+(order|parcel|package)\s+)?"
        r"to\b[^.?!\n]{0,50}\binstead\b",
        1.0,
        _A,
    ),
    ("en:moved", r"\b(i\s+moved|i'm\s+moving|i\s+am\s+moving|moving\s+house|new\s+place|relocat\w*)\b", 0.5),
    (
        "en:street",
        r"\b\d{1,5}[a-z]?\s+\w+\s+(street|st|road|rd|lane|ln|avenue|ave|drive|dr|way|blvd|court|ct|place"
        r"|close|crescent)\b",
        0.5,
    ),
    (
        "fr:modifier-adresse",
        r"\b(modifi|chang|corrig|rectifi|mettre\s+a\s+jour|mise\s+a\s+jour)\w*\b[^.?!\n]{0,40}\b"
        r"(adresse|code postal|rue|appart\w*|numero de rue|point relais|etage)\b",
        1.0,
        _A,
    ),
    (
        "fr:adresse-fausse",
        r"\b(adresse|code postal)\b[^.?!\n]{0,25}\b(faux|fausse|erron\w*|incorrect\w*|erreur|faute)\b"
        r"|\b(erreur|faute)\b[^.?!\n]{0,30}\b(adresse|code postal)\b",
        1.0,
        _A,
    ),
    (
        "fr:adresse-oubli",
        r"\b(oubli|rajout|ajout|precis|complet)\w*\b[^.?!\n]{0,40}\b(adresse|digicode|etage|interphone"
        r"|batiment|appartement)\b",
        1.0,
        _A,
    ),
    ("fr:detail-adresse", r"\b(digicode|interphone|etage|batiment|bat|escalier)\b", 0.3),
    ("fr:ancienne-adresse", r"\b(ancienne|mauvaise|nouvelle|bonne)\s+adresse\b", 0.7, _A),
    (
        "fr:livrer-plutot",
        r"\b(livr|envoy|expedi|faire\s+livr)\w*\b[^.?!\n]{0,50}\b(plutot|au\s+lieu)\b"
        r"|\b(envoy|expedi|livr)\w*\s+(le\s+colis\s+|la\s+commande\s+)?chez\s+(ma|mon|mes)\b",
        1.0,
        _A,
    ),
    ("fr:demenage", r"\b(demenag\w*)\b", 0.5),
    ("fr:street", r"\b\d{1,4}(bis|ter)?,?\s+(rue|avenue|av|boulevard|bd|impasse|allee|chemin|place|route|quai)\b", 0.5),
    (
        "de:adresse-andern",
        r"\b(ander|korrigier|aktualisier|berichtig|anpass)\w*\b[^.?!\n]{0,40}\b(\w*adresse"
        r"|\w*anschrift"
        r"|postleitzahl|plz|hausnummer|strasse)\b|\b(\w*adresse|\w*anschrift|postleitzahl|plz|hausnummer)\b[^.?!\n]{0,60}"
        r"\b(ander\w*|korrigier\w*|aktualisier\w*|falsch\w*|berichtig\w*)",
        1.0,
        _A,
    ),
    (
        "de:tippfehler",
        r"\b(tippfehler|fehler|vertippt)\b[^.?!\n]{0,25}\b(\w*adresse|\w*anschrift|hausnummer"
        r"|strasse|plz)\b",
        1.0,
        _A,
    ),
    ("de:alte-adresse", r"\b(falsch|alt|neu|richtig)\w*\s+(liefer)?(adresse|anschrift)\b", 0.7, _A),
    (
        "de:stattdessen",
        r"\b(stattdessen|statt\s+nach\s+hause|anstatt\s+nach\s+hause)\b"
        r"|\bstatt\b[^.?!\n]{0,20}\bhause\b",
        0.7,
        _A,
    ),
    (
        "de:an-liefern",
        r"\ban\b[^.?!\n]{0,50}\b(liefern|schicken|senden|zustellen)\b|\b(zu|an)\s+(meinen|meiner"
        r"|meine|meinem)"
        r"\s+\w+\s+(schicken|liefern|senden)\b",
        0.5,
        _A,
    ),
    ("de:umzug", r"\b(umzieh\w*|ziehe\b[^.?!\n]{0,30}\bum\b|umzug|umgezogen)\b", 0.5),
    ("de:street", r"\b\w+(strasse|str|weg|platz|allee|gasse|ring|damm)\.?\s+\d{1,4}\b|\bpackstation\b", 0.5),
    (
        "it:modificare-indirizzo",
        r"\b(modific|cambi|corregg|correzion|aggiorn|rettific)\w*\b[^.?!\n]{0,40}\b(indirizzo"
        r"|cap|civico|via|punto di ritiro|interno|scala)\b",
        1.0,
        _A,
    ),
    (
        "it:indirizzo-sbagliato",
        r"\b(indirizzo|cap|civico)\b[^.?!\n]{0,25}\b(sbagliat\w*|errat\w*|error\w*)"
        r"|\b(errore|sbagliat\w*|sbagliato a scrivere|scritto male)\b[^.?!\n]{0,30}"
        r"\b(indirizzo|civico|cap|scala|interno|via)\b",
        1.0,
        _A,
    ),
    (
        "it:indirizzo-per-sbaglio",
        r"\b(per\s+sbaglio|per\s+errore|erroneamente)\b[^.?!\n]{0,30}\b(indirizzo"
        r"|civico|cap)\b"
        r"|\b(indirizzo|civico|cap)\b[^.?!\n]{0,30}\b(per\s+sbaglio|per\s+errore)\b",
        1.0,
        _A,
    ),
    ("it:quello-giusto", r"\b(quello|quella|l'indirizzo)\s+(giust|corrett)\w*\s+e\b", 0.5),
    ("it:vecchio-indirizzo", r"\b(vecchio|nuovo|giusto)\s+indirizzo\b", 0.7, _A),
    (
        "it:spedire-invece",
        r"\b(sped|mand|consegn|invi|far\w*\s+consegn)\w*\b[^.?!\n]{0,40}\b(invece|a\s+casa\s+d\w*"
        r"|in\s+ufficio|presso)\b",
        1.0,
        _A,
    ),
    ("it:invece-domicilio", r"\binvece\s+(che|di)\s+(a\s+)?(casa|domicilio)\b", 0.7),
    ("it:punto-ritiro", r"\b(punto\s+di\s+ritiro|fermopoint|locker|ritiro\s+in\s+negozio)\b", 0.5),
    ("it:trasloco", r"\b(trasloc\w*|cambiato\s+casa)\b", 0.5),
    ("it:street", r"\b(via|viale|corso|piazza|vicolo|largo)\s+\w+\s+\d{1,4}\b", 0.5),
    (
        "es:cambiar-direccion",
        r"\b(cambi|modific|correg|corrig|actualiz|rectific)\w*\b[^.?!\n]{0,40}\b(direccion"
        r"|codigo postal|calle|piso|portal|punto de recogida)\b",
        1.0,
        _A,
    ),
    (
        "es:direccion-mal",
        r"\b(direccion|codigo postal|piso|portal|calle)\b[^.?!\n]{0,25}\b(mal|incorrect\w*"
        r"|equivocad\w*"
        r"|erron\w*|error)\b|\b(error|errores)\b[^.?!\n]{0,20}\b(direccion|piso|portal|calle|codigo postal)\b"
        r"|\b(puse|escribi|meti|he\s+puesto)\s+mal\b",
        1.0,
        _A,
    ),
    (
        "es:me-equivoque",
        r"\b(me\s+equivoque|me\s+confundi|me\s+he\s+equivocado)\b[^.?!\n]{0,40}\b(direccion"
        r"|calle|numero"
        r"|piso|portal|codigo\s+postal)\b",
        1.0,
        _A,
    ),
    (
        "es:direccion-antigua",
        r"\bdireccion\s+(antigua|vieja|nueva|anterior)\b|\b(antigua"
        r"|nueva)\s+direccion\b",
        0.7,
        _A,
    ),
    (
        "es:enviar-a-casa-de",
        r"\b(envi|mand|entreg|llev)\w*\b[^.?!\n]{0,40}\b(a\s+casa\s+de|en\s+vez\s+de"
        r"|en\s+lugar\s+de)\b",
        1.0,
        _A,
    ),
    ("es:mudanza", r"\b(me\s+mudo|mudanza|me\s+he\s+mudado|nos\s+mudamos)\b", 0.5),
    ("es:punto-recogida", r"\b(punto\s+de\s+recogida|recoger\w*\s+en)\b", 0.5),
    ("es:en-vez-de-casa", r"\b(en\s+vez|en\s+lugar)\s+de\s+(en\s+|a\s+)?(casa|domicilio)\b", 0.7),
    ("es:street", r"\b(calle|c/|avda|avenida|plaza|paseo)\.?\s+\w+\s*,?\s*\d{1,4}\b", 0.5),
)

# ---- INVOICE_REQUEST
_rules(
    Intent.INVOICE_REQUEST,
    ("en:invoice", r"\binvoic\w*", 1.0, FIXED),
    ("en:receipt", r"\b(receipt|reciept|proof of purchase)s?\b", 1.0, FIXED),
    ("en:tax-id", r"\b(vat\s+(number|id|no|invoice)|tax\s+(id|number)|company\s+details)\b", 0.7),
    ("fr/es:factur", r"\bfactur\w*", 1.0, FIXED),  # facture, factura, facturation, facturación
    ("fr:justificatif", r"\b(justificatif|note de frais)\b", 0.7),
    ("fr:tva", r"\b(tva|siret|siren|ht)\b", 0.5),
    ("de:rechnung", r"\brechnung\w*", 1.0, FIXED),
    ("de:beleg", r"\b(quittung|\w*beleg|kassenbon|kaufnachweis|kassenzettel)\b", 1.0, FIXED),
    ("de:ust", r"\b(mwst|ust-?id\w*|umsatzsteuer\w*|steuernummer)\b", 0.5),
    ("it:fattura", r"\bfattur\w*", 1.0, FIXED),
    ("it:ricevuta", r"\b(ricevuta|scontrino)\b", 1.0, FIXED),
    ("it:piva", r"\b(p\.?\s?iva|partita iva|codice fiscale|sdi|pec)\b", 0.5),
    # "recibo" is also "I receive": negatable, so "no recibo nada" is not a receipt request.
    ("es:recibo", r"\b(recibo|comprobante|justificante|ticket\s+de\s+compra)\b"),
    ("es:nif", r"\b(nif|cif|iva|datos\s+fiscales)\b", 0.5),
)

# ---- PRODUCT_QUESTION
_rules(
    Intent.PRODUCT_QUESTION,
    ("en:compatible", r"\b(compatib\w*|work\s+with\s+(my|an?|the)|fit\s+(a|my|an|the|under|in|into))\b"),
    (
        "en:sizing",
        r"\b(run|runs|running)\s+(small|large|big|true\s+to\s+size)\b|\bsize\s+(chart|guide)\b"
        r"|\bwhat\s+size\b|\btrue\s+to\s+size\b",
    ),
    ("en:stock", r"\b(back\s+in\s+stock|in\s+stock|restock\w*|available\s+(in|again)|sold\s+out|pre-?order)\b"),
    (
        "en:specs",
        r"\b(dimensions?|measurements?|how\s+(big|tall|wide|long|heavy|deep)\s+is|weight|made\s+of|material"
        r"|waterproof|water\s+resistant|dishwasher|microwave|battery\s+life|warranty|voltage|ingredients)\b",
    ),
    (
        "en:how-to",
        r"\bhow\s+(do|can|should)\s+(i|you|we)\s+(use|set|reset|clean|assemble|install|pair|connect|wash"
        r"|charge|turn)\b",
    ),
    ("en:manual", r"\b(manual|instructions|user\s+guide)\b", 0.5),
    (
        "en:attributes",
        r"\b(removable|washable|adjustable|foldable|extendable|machine\s+washable|come\s+in\s+(a|an|other"
        r"|different|\w+er)\b|available\s+in\s+\w+|suitable\s+for)\b",
    ),
    (
        "en:does-it",
        r"\b(does|do|is|are|can)\s+(it|this|they|these|the\s+\w+)\s+(come|include|have|suitable|safe"
        r"|work|fit)\w*\b",
        0.5,
    ),
    ("fr:compatible", r"\b(compatib\w*|convient\s+(a|pour))\b"),
    (
        "fr:taille",
        r"\btaill\w*(-t-il|-t-elle)?\s+(grand|petit|normalement)\b|\bquelle\s+(taille|pointure)\b"
        r"|\bguide\s+des\s+tailles\b",
    ),
    ("fr:stock", r"\b(en\s+stock|reassort\w*|de\s+nouveau\s+disponible|disponible\s+en|rupture)\b"),
    (
        "fr:specs",
        r"\b(dimensions?|mesures?|hauteur|largeur|profondeur|poids|matiere|materiau|impermeable"
        r"|lave-vaisselle|lave\s+vaisselle|induction|garantie|autonomie)\b",
    ),
    (
        "fr:attributes",
        r"\b(lavable|amovible|reglable|pliable|extensible|deperlant\w*|ampoule\w*|convient-(il|elle))\b"
        r"|\b(fonctionne|marche|existe|passe)-t-(il|elle)\b",
    ),
    (
        "fr:how-to",
        r"\bcomment\s+(on\s+|faire\s+pour\s+|puis-je\s+|dois-je\s+)?(regl|utilis|install|mont|appair|appar"
        r"|connect|nettoy|allum|param)\w*",
    ),
    ("fr:notice", r"\b(notice|mode\s+d'emploi)\b", 0.5),
    ("de:kompatibel", r"\b(kompatibel\w*|passt\s+(der|die|das|es|er|sie)\b)"),
    (
        "de:grosse",
        r"\bfallt\b[^.?!\n]{0,20}\b(klein|gross|normal|weit|eng)\s+aus\b|\bwelche\s+grosse\b"
        r"|\bgrossentabelle\b",
    ),
    (
        "de:verfugbar",
        r"\b(wieder\s+(lieferbar|verfugbar|erhaltlich|da)|auf\s+lager|verfugbar|erhaltlich"
        r"|ausverkauft)\b",
    ),
    (
        "de:specs",
        r"\b(masse|abmessung\w*|hohe|breite|tiefe|gewicht|material|wasserdicht|spulmaschine\w*|garantie"
        r"|akkulaufzeit)\b",
    ),
    (
        "de:attributes",
        r"\b(geeignet|abnehmbar|waschbar|verstellbar|faltbar|ausziehbar|klappbar|gibt\s+es\s+(den|die|das"
        r"|ihn|sie|es)\b[^.?!\n]{0,30}\b(auch|in))\b",
    ),
    ("de:how-to", r"\bwie\s+(stelle|benutze|verwende|reinige|montiere|verbinde|installiere|schalte|bediene|lade)\b"),
    ("de:anleitung", r"\b(anleitung|bedienungsanleitung|gebrauchsanweisung)\b", 0.5),
    ("it:compatibile", r"\b(compatibil\w*|funziona\s+(anche\s+)?con|va\s+bene\s+per)\b"),
    ("it:taglia", r"\bveste\s+(piccol|grand|regolar|stretto|largo)\w*|\bche\s+taglia\b|\bguida\s+(alle\s+)?taglie\b"),
    ("it:disponibile", r"\b(di\s+nuovo\s+disponibil\w*|disponibil\w*|in\s+magazzino|esaurit\w*)\b"),
    (
        "it:specs",
        r"\b(misure|dimensioni|altezza|larghezza|profondita|peso|materiale|impermeabil\w*|lavastoviglie"
        r"|lavabil\w*|sfoderabil\w*|garanzia|autonomia)\b",
    ),
    (
        "it:attributes",
        r"\b(allungabil\w*|regolabil\w*|pieghevol\w*|estraibil\w*|si\s+puo\s+(allungare|lavare|regolare"
        r"|piegare|smontare|chiudere|estendere)|adatt[oa]\s+(a|per))\b",
    ),
    ("it:how-to", r"\bcome\s+si\s+(imposta|usa|monta|pulisce|collega|accende|regola|lava)\b"),
    ("it:manuale", r"\b(manuale|istruzioni)\b", 0.5),
    ("es:compatible", r"\b(compatibl\w*|sirve\w*\s+para|vale\s+para)\b"),
    ("es:talla", r"\btalla\s+(pequeno|grande|normal)\b|\bque\s+talla\b|\bguia\s+de\s+tallas\b"),
    ("es:disponible", r"\b(disponible|en\s+stock|agotad\w*|reponer|reposicion)\b"),
    (
        "es:specs",
        r"\b(medidas|dimensiones|altura|ancho|peso|material|impermeable|lavavajillas|garantia|antiadherente"
        r"|autonomia)\b",
    ),
    (
        "es:attributes",
        r"\b(lavable|regulable|plegable|extensible|desmontable|se\s+puede\s+(lavar|regular|plegar"
        r"|desmontar"
        r"|alargar|extender|meter)|apto\s+para|limpieza\s+en\s+seco)\b",
    ),
    ("es:how-to", r"\bcomo\s+se\s+(programa|usa|monta|limpia|conecta|instala|configura|ajusta)\b"),
    ("es:manual", r"\b(manual|instrucciones)\b", 0.5),
)

# ---- pre-sale markers: the buyer has not ordered yet (see the docstring of helpdesk.routing.intent, step 5)
_rules(
    Intent.PRODUCT_QUESTION,
    (
        "en:before-ordering",
        r"\bbefore\s+(i\s+)?(order|buy|purchas|check\s?out)\w*|\bif\s+i\s+(order|buy|purchase)\b"
        r"|\b(planning|plan|thinking|considering)\s+(to|of|about|on)?\s*(buy|order|purchas)\w*"
        r"|\b(want|would\s+like|like)\s+to\s+(buy|order|purchase)\b",
        0.5,
    ),
    ("en:do-you-ship-to", r"\b(do|can)\s+you\s+(ship|deliver|send)\s+(to|internationally|abroad|outside)\b"),
    (
        "fr:avant-de-commander",
        r"\bavant\s+de\s+(commander|passer\s+commande|acheter)\b|\bsi\s+je\s+(commande|passe\s+"
        r"commande|l'achete|achete)\b|\b(je\s+compte|j'hesite\s+a|je\s+voudrais|je\s+souhaite)\s+(acheter|commander)\b",
        0.5,
    ),
    ("fr:livrez-vous", r"\b(livrez|expediez|envoyez)(-|\s+)vous\s+(en|au|aux|a|dans|hors)\b"),
    (
        "de:vor-dem-kauf",
        r"\bbevor\s+ich\b[^.?!\n]{0,20}\b(bestelle|kaufe)\b|\bvor\s+(dem|der)\s+(kauf|bestellung)\b"
        r"|\b(wenn|falls)\s+ich\s+(es\s+|das\s+|ihn\s+|sie\s+)?(bestelle|kaufe)\b|\b(kaufen|bestellen)\s+(mochte|will)\b",
        0.5,
    ),
    ("de:liefern-sie", r"\b(liefern|versenden|verschicken)\s+sie\s+(auch\s+)?(in|nach|ins)\b"),
    (
        "it:prima-di-ordinare",
        r"\bprima\s+di\s+(ordinare|acquistare|comprare)\b|\bse\s+(ordino|compro|acquisto)\b"
        r"|\b(vorrei|vorremmo|pensavo\s+di)\s+(acquistare|comprare|ordinare)\b",
        0.5,
    ),
    ("it:spedite-in", r"\b(spedite|consegnate|spedisci|inviate)\s+(anche\s+)?(in|a|all'estero|fuori)\b"),
    (
        "es:antes-de-comprar",
        r"\bantes\s+de\s+(comprar|pedir|hacer\s+el\s+pedido|encargar)\b"
        r"|\bsi\s+(compro|pido|encargo)\b"
        r"|\b(quiero|quisiera|me\s+interesa|pensaba)\s+(comprar|pedir|encargar)\b",
        0.5,
    ),
    ("es:envian-a", r"\b(envian|enviais|mandan|haceis\s+envios|hacen\s+envios|entregan)\s+(tambien\s+)?(a|al|fuera)\b"),
    (
        "*:cancellation-policy",
        r"\b(cancel\w* policy|politique d'annulation|conditions d'annulation|storno\w*"
        r"(bedingung|regel|frist)\w*|politica di (annullamento|cancellazione)|politica de (cancelacion|anulacion))",
    ),
    presale=True,
)

# ---- OTHER: named so the agent sees what the message is; OTHER is last in PRIORITY, so these never beat a request.
_rules(
    Intent.OTHER,
    (
        "en:thanks",
        r"\b(thanks|thank\s+you|great\s+(quality|product|service)|love\s+(it|them)"
        r"|will\s+buy\s+again)\b",
        0.5,
    ),
    ("en:wholesale", r"\b(wholesale|reseller|resell|partnership|bulk\s+order|b2b|distributor)\b"),
    ("en:marketing", r"\b(unsubscribe|newsletter|marketing\s+e-?mails?|stop\s+sending)\b"),
    ("en:promo-code", r"\b(discount|promo|coupon|voucher|gift\s+card)\s*(code)?\b"),
    ("en:review", r"\b(review|feedback|rating|stars?)\b", 0.7),
    ("en:account", r"\b(account|log\s?in|password|sign\s+in)\b", 0.5),
    ("fr:merci", r"\b(merci\s+beaucoup|je\s+recommande|top|ravi\w*)\b", 0.5),
    ("fr:revendeur", r"\b(revendeur\w*|grossiste\w*|partenariat|professionnel\w*)\b"),
    ("fr:newsletter", r"\b(newsletters?|desabonn\w*|desinscri\w*)\b"),
    ("fr:promo", r"\b(code\s+promo|bon\s+de\s+reduction|code\s+de\s+reduction)\b"),
    ("fr:contact", r"\b(par\s+telephone|me\s+rappeler|avis|mot\s+de\s+passe)\b", 0.7),
    ("de:danke", r"\b(vielen\s+dank|gerne\s+wieder|super\s+qualitat)\b", 0.5),
    ("de:grosshandel", r"\b(grosshandel\w*|handler|wiederverkauf\w*|partnerschaft)\b"),
    ("de:werbung", r"\b(newsletter|werbe\w*|abmelden)\b"),
    ("de:gutschein", r"\b(gutschein\w*|rabattcode|rabatt\w*)\b"),
    ("de:contact", r"\b(zuruckrufen|anrufen|bewertung\w*|passwort|kundenkonto)\b", 0.7),
    ("it:grazie", r"\b(grazie\s+mille|ottimo|velocissim\w*)\b", 0.5),
    ("it:ingrosso", r"\b(ingrosso|rivenditor\w*|partnership|negozio\s+fisico)\b"),
    ("it:newsletter", r"\b(newsletter|disiscriv\w*)\b"),
    ("it:sconto", r"\b(codice\s+sconto|coupon|buono\s+sconto)\b"),
    ("it:contact", r"\b(recensione|account|login|password)\b", 0.7),
    ("es:gracias", r"\b(muchas\s+gracias|genial|rapidisimo)\b", 0.5),
    ("es:mayor", r"\b(al\s+por\s+mayor|mayorista\w*|distribuidor\w*)\b"),
    ("es:publicidad", r"\b(publicidad|newsletter|darme\s+de\s+baja)\b"),
    ("es:descuento", r"\b(codigo\s+de\s+descuento|cupon)\b"),
    ("es:contact", r"\b(resena|felicitar|contrasena)\b", 0.7),
)

RULES: tuple[Rule, ...] = tuple(_RULES)
