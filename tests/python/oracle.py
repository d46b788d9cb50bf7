"""What the five workers must derive from one OrderEvent, and the notifier from one
UserEvent, written from their documented rules (the module docs and rules-file defaults
of each worker crate, and the field docs of the .avsc files), not from their code.

Every function takes an event in the plain JSON shape of `avro_wire` (payload as
`{"OrderPlaced": {...}}`) and returns the expected derived events, keyed by their
deterministic event id. Fields the documentation leaves free (`produced_at`, the
human-readable `message` and `detail` texts) are not predicted; the verifier checks
they are present instead. order-saga writes commands, not derived events: their id is
`command_id` and their time `issued_at` (`output_id` gives the id of either).
"""

import unicodedata
import uuid

WORKER_VERSION = "0.1.0"

# Derived event ids are UUIDv5 of "<worker>\x1f<source event id>\x1f<output index>" in
# this namespace (the bytes spell "orderflow\0DERIVE").
DERIVED_ID_NAMESPACE = uuid.UUID("6f726465-7266-6c6f-7700-444552495645")

VALIDATOR = "order-validator"
STATUS = "order-status"
NOTIFIER = "notifier"
RISK = "risk-scorer"
SAGA = "order-saga"
WORKERS = (VALIDATOR, STATUS, NOTIFIER, RISK, SAGA)
# The notifier's outputs of its second input (user events): the same worker name in the
# events, their own topic and key in the expectations.
USER_NOTIFIER = "notifier.users"
# The record each output topic holds.
RECORD_OF = {
    VALIDATOR: "OrderValidation",
    STATUS: "OrderStatusChanged",
    NOTIFIER: "NotificationRequested",
    RISK: "OrderRiskAssessed",
    SAGA: "OrderCommand",
    USER_NOTIFIER: "UserNotificationRequested",
}


def derived_event_id(worker, source_event_id, index=0):
    return str(uuid.uuid5(DERIVED_ID_NAMESPACE, f"{worker}\x1f{source_event_id}\x1f{index}"))


def output_id(output):
    """The deterministic id of an expected output: a derived event's event_id, or a
    command's command_id."""
    return output["event_id"] if "event_id" in output else output["command_id"]


def payload_of(event):
    ((kind, body),) = event["payload"].items()
    return kind, body


def lineage(worker, event):
    return {
        "event_id": derived_event_id(worker, event["event_id"]),
        "causation_id": event["event_id"],
        "order_id": event["order_id"],
        "key": event["order_id"],
        "worker": worker,
        "worker_version": WORKER_VERSION,
        "customer_id": event["customer_id"],
    }


def expected_outputs(event, now_ms):
    """{worker: [expected derived event, ...]} for one input event judged at `now_ms`."""
    return {
        VALIDATOR: validator_outputs(event, now_ms),
        STATUS: status_outputs(event),
        NOTIFIER: notifier_outputs(event),
        RISK: risk_outputs(event),
        SAGA: saga_outputs(event),
    }


# ---- order-status: every lifecycle event moves its order to a status. -----------------

STATUS_OF = {
    "OrderPlaced": "PLACED",
    "PaymentAuthorized": "PAYMENT_AUTHORIZED",
    "PaymentFailed": "PAYMENT_FAILED",
    "OrderShipped": "SHIPPED",
    "OrderDelivered": "DELIVERED",
    "OrderCancelled": "CANCELLED",
}


def status_outputs(event):
    kind, _ = payload_of(event)
    out = lineage(STATUS, event)
    out["status"] = STATUS_OF[kind]
    out["occurred_at"] = event["occurred_at"]
    return [out]


# ---- order-validator: OrderValidated, or OrderRejected with every broken rule. --------

# Reason codes in the documented rule order.
RULE_ORDER = (
    "NO_LINE_ITEMS",
    "TOO_MANY_LINE_ITEMS",
    "INVALID_QUANTITY",
    "NEGATIVE_PRICE",
    "INVALID_SKU",
    "DUPLICATE_SKU",
    "AMOUNT_OVERFLOW",
    "NEGATIVE_AMOUNT",
    "TOTAL_MISMATCH",
    "UNKNOWN_CURRENCY",
    "CURRENCY_NOT_ALLOWED",
    "INVALID_COUNTRY",
    "INVALID_BILLING_COUNTRY",
    "INVALID_EMAIL",
    "FUTURE_TIMESTAMP",
    "EMPTY_ADDRESS",
)

# Defaults of the validator's rules file.
MAX_LINE_ITEMS = 100
MAX_QUANTITY = 1000
MAX_CLOCK_SKEW_MS = 5 * 60 * 1000
I64_MIN, I64_MAX = -(2**63), 2**63 - 1

# Active ISO 4217 codes (list one, 2026; metals, bond units, XDR, XTS and XXX are not
# money an order is priced in, and withdrawn codes such as HRK are not active).
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL BSD BTN
    BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD
    EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR
    IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD
    MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD
    OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE
    SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI
    UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """.split()
)

# Officially assigned ISO 3166-1 alpha-2 codes (UK, EU and XK are not among them).
ISO_3166 = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN
    BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
    DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL
    GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM
    JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME
    MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP
    NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD
    SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
    TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    """.split()
)
assert len(ISO_3166) == 249


def is_blank(text):
    return text.strip() == ""


def validator_outputs(event, now_ms):
    kind, order = payload_of(event)
    if kind != "OrderPlaced":
        return []
    out = lineage(VALIDATOR, event)
    reasons = rejection_reasons(order, event["occurred_at"], now_ms)
    if reasons:
        out["result"] = {"OrderRejected": {"reasons": reasons}}
    else:
        out["result"] = {
            "OrderValidated": {
                "total": order["total"],
                "currency": order["currency"],
                "line_count": len(order["line_items"]),
            }
        }
    return [out]


def rejection_reasons(order, occurred_at, now_ms):
    """[[code, field], ...] of every broken rule, in rule order."""
    reasons = []
    lines = order["line_items"]
    examined = lines[:MAX_LINE_ITEMS]
    if not lines:
        reasons.append(["NO_LINE_ITEMS", "line_items"])
    if len(lines) > MAX_LINE_ITEMS:
        reasons.append(["TOO_MANY_LINE_ITEMS", "line_items"])
    for i, line in enumerate(examined):
        if not 1 <= line["quantity"] <= MAX_QUANTITY:
            reasons.append(["INVALID_QUANTITY", f"line_items[{i}].quantity"])
    for i, line in enumerate(examined):
        if line["unit_price"] < 0:
            reasons.append(["NEGATIVE_PRICE", f"line_items[{i}].unit_price"])
    for i, line in enumerate(examined):
        if is_blank(line["sku"]):
            reasons.append(["INVALID_SKU", f"line_items[{i}].sku"])
    # DUPLICATE_SKU is off by default (reject_duplicate_skus = false).

    def fits(amount):
        return I64_MIN <= amount <= I64_MAX

    overflow = False
    for i, line in enumerate(examined):
        if not fits(line["quantity"] * line["unit_price"]):
            overflow = True
            reasons.append(["AMOUNT_OVERFLOW", f"line_items[{i}]"])
    line_sum = sum(line["quantity"] * line["unit_price"] for line in lines)
    if not overflow and not fits(line_sum):
        overflow = True
        reasons.append(["AMOUNT_OVERFLOW", "line_items"])
    expected_total = line_sum + order["shipping"] + order["tax"] - order["discount"]
    if not overflow and not fits(expected_total):
        overflow = True
        reasons.append(["AMOUNT_OVERFLOW", "total"])
    for field in ("shipping", "tax", "discount", "total"):
        if order[field] < 0:
            reasons.append(["NEGATIVE_AMOUNT", field])
    if not overflow and expected_total != order["total"]:
        reasons.append(["TOTAL_MISMATCH", "total"])
    # allowed_currencies is empty by default: any ISO currency is accepted.
    if order["currency"] not in ISO_4217:
        reasons.append(["UNKNOWN_CURRENCY", "currency"])
    if order["shipping_address"]["country"] not in ISO_3166:
        reasons.append(["INVALID_COUNTRY", "shipping_address.country"])
    if order["billing_country"] not in ISO_3166:
        reasons.append(["INVALID_BILLING_COUNTRY", "billing_country"])
    if not is_well_formed_email(order["customer_email"]):
        reasons.append(["INVALID_EMAIL", "customer_email"])
    if occurred_at > now_ms + MAX_CLOCK_SKEW_MS:
        reasons.append(["FUTURE_TIMESTAMP", "occurred_at"])
    address = order["shipping_address"]
    for name in ("recipient", "line1", "city", "postal_code"):
        if is_blank(address[name]):
            reasons.append(["EMPTY_ADDRESS", f"shipping_address.{name}"])
    return reasons


# RFC 5322 atext besides letters and digits.
_ATEXT_SPECIALS = set("!#$%&'*+-/=?^_`{|}~")


def _is_word_char(c):
    """A non-ASCII letter, digit or combining mark of any script (RFC 6531 addresses)."""
    return not c.isascii() and unicodedata.category(c)[0] in "LNM"


def is_well_formed_email(address):
    """The documented shape check: one '@'; a dot-atom local part of at most 64 bytes;
    a domain of dot-separated labels of letters, digits and inner hyphens with a
    top-level domain of two or more characters that is not numeric; at most 254 bytes;
    no whitespace or control characters; no quoted parts, comments or IP literals;
    letters of any script allowed."""
    if not address or len(address.encode("utf-8")) > 254:
        return False
    if any(c.isspace() or unicodedata.category(c) == "Cc" for c in address):
        return False
    if address.count("@") != 1:
        return False
    local, domain = address.split("@")
    if not local or len(local.encode("utf-8")) > 64:
        return False
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    for c in local:
        ascii_ok = c.isascii() and (c.isalnum() or c == "." or c in _ATEXT_SPECIALS)
        if not (ascii_ok or _is_word_char(c)):
            return False
    if "." not in domain:
        return False
    labels = domain.split(".")
    for label in labels:
        if not label or label.startswith("-") or label.endswith("-"):
            return False
        for c in label:
            if not ((c.isascii() and (c.isalnum() or c == "-")) or _is_word_char(c)):
                return False
    tld = labels[-1]
    return len(tld) >= 2 and not tld.isdigit()


# ---- notifier: one NotificationRequested per step the customer hears about. -----------

TEMPLATES = {
    "OrderPlaced": "order_confirmation",
    "PaymentFailed": "payment_failed",
    "OrderShipped": "order_shipped",
    "OrderDelivered": "order_delivered",
    "OrderCancelled": "order_cancelled",
}
# Channel of the notifications whose recipient is looked up (rules default).
LOOKED_UP_CHANNEL = "EMAIL"


def notifier_outputs(event):
    kind, body = payload_of(event)
    template = TEMPLATES.get(kind)
    if template is None:
        return []
    parameters = {"order_id": event["order_id"]}
    channel, recipient = LOOKED_UP_CHANNEL, None
    if kind == "OrderPlaced":
        parameters.update(
            total=str(body["total"]),
            currency=body["currency"],
            line_count=str(len(body["line_items"])),
        )
        channel = "EMAIL"
        # The docs say the recipient is `customer_email`; the code shows the intent for
        # padded or empty addresses: the address is trimmed, and an empty one leaves the
        # recipient to be looked up (null).
        email = body["customer_email"].strip()
        recipient = email or None
    elif kind == "PaymentFailed":
        parameters.update(reason_code=body["reason_code"], payment_id=body["payment_id"])
    elif kind == "OrderShipped":
        parameters.update(carrier=body["carrier"], tracking_number=body["tracking_number"])
    elif kind == "OrderDelivered":
        # "signed_by, when recorded": the docs do not say whether a blank name counts as
        # recorded; the code treats blank as not recorded, which is what we expect.
        signed_by = body["signed_by"]
        if signed_by is not None and not is_blank(signed_by):
            parameters["signed_by"] = signed_by
    elif kind == "OrderCancelled":
        parameters.update(reason=body["reason"], refund_amount=str(body["refund_amount"]))
    out = lineage(NOTIFIER, event)
    out.update(channel=channel, recipient=recipient, template=template, parameters=parameters)
    return [out]


# ---- risk-scorer: score, decision and signals of every OrderPlaced. -------------------

WEIGHTS = {
    "HIGH_AMOUNT": 40,
    "NEW_CUSTOMER_HIGH_AMOUNT": 30,
    "COUNTRY_MISMATCH": 25,
    "UNUSUAL_QUANTITY": 20,
    "DISPOSABLE_EMAIL": 30,
}
HIGH_AMOUNT = {"EUR": 100_000, "USD": 100_000, "GBP": 90_000, "CHF": 100_000, "JPY": 150_000}
DEFAULT_HIGH_AMOUNT = 100_000
NEW_CUSTOMER_FACTOR = (1, 2)  # 0.5 as a fraction: no rounding question
UNUSUAL_QUANTITY = 50
REVIEW_AT, DECLINE_AT = 40, 80
DISPOSABLE_DOMAINS = (
    "mailinator.com",
    "guerrillamail.com",
    "10minutemail.com",
    "temp-mail.org",
    "yopmail.com",
    "trashmail.com",
    "sharklasers.com",
    "getnada.com",
    "dispostable.com",
    "maildrop.cc",
    "throwawaymail.com",
    "fakeinbox.com",
    "mintemail.com",
    "tempmail.net",
    "emailondeck.com",
)


def is_disposable(email):
    """The domain (after the last '@') is a listed provider or a subdomain of one.
    Domain names are case-insensitive, so MailDrop.CC is maildrop.cc."""
    if "@" not in email:
        return False
    domain = email.rsplit("@", 1)[1].lower()
    return any(domain == d or domain.endswith("." + d) for d in DISPOSABLE_DOMAINS)


def risk_signals(order):
    """[[code, weight], ...] of the signals that fire, in rule order."""
    signals = []
    # Currency codes are read without regard to case.
    threshold = HIGH_AMOUNT.get(order["currency"].upper(), DEFAULT_HIGH_AMOUNT)
    total = order["total"]
    if total >= threshold:
        signals.append("HIGH_AMOUNT")
    numerator, denominator = NEW_CUSTOMER_FACTOR
    # total >= threshold x factor, exactly.
    if order["new_customer"] and total * denominator >= threshold * numerator:
        signals.append("NEW_CUSTOMER_HIGH_AMOUNT")
    if order["shipping_address"]["country"].upper() != order["billing_country"].upper():
        signals.append("COUNTRY_MISMATCH")
    units = {}
    for line in order["line_items"]:
        units[line["sku"]] = units.get(line["sku"], 0) + line["quantity"]
    if any(q >= UNUSUAL_QUANTITY for q in units.values()):
        signals.append("UNUSUAL_QUANTITY")
    if is_disposable(order["customer_email"]):
        signals.append("DISPOSABLE_EMAIL")
    return [[code, WEIGHTS[code]] for code in signals]


def risk_outputs(event):
    kind, order = payload_of(event)
    if kind != "OrderPlaced":
        return []
    signals = risk_signals(order)
    score = max(0, min(100, sum(weight for _, weight in signals)))
    if score >= DECLINE_AT:
        decision = "DECLINE"
    elif score >= REVIEW_AT:
        decision = "REVIEW"
    else:
        decision = "APPROVE"
    out = lineage(RISK, event)
    out.update(score=score, decision=decision, signals=signals)
    return [out]


# ---- order-saga: commands for the outcomes that need one, with its default rules. ------

# The default cancel_reason template, "payment_failed:{reason_code}".
CANCEL_REASON = "payment_failed:{reason_code}"
# The default min_refund_amount: a refund of zero or less is never issued.
MIN_REFUND_AMOUNT = 1


def saga_outputs(event):
    kind, body = payload_of(event)
    if kind == "PaymentFailed":
        command = {"CancelOrder": {
            "payment_id": body["payment_id"],
            "reason_code": body["reason_code"],
            "reason": CANCEL_REASON.format(reason_code=body["reason_code"]),
        }}
    elif kind == "OrderCancelled" and body["refund_amount"] >= MIN_REFUND_AMOUNT:
        # OrderCancelled carries no currency: the command leaves it null.
        command = {"RefundPayment": {
            "amount": body["refund_amount"],
            "currency": None,
            "reason": body["reason"],
        }}
    elif kind == "OrderDelivered":
        command = {"CloseOrder": {
            "delivered_at": event["occurred_at"],
            "signed_by": body["signed_by"],
        }}
    else:
        return []
    return [{
        "command_id": derived_event_id(SAGA, event["event_id"]),
        "causation_id": event["event_id"],
        "order_id": event["order_id"],
        "key": event["order_id"],
        "worker": SAGA,
        "worker_version": WORKER_VERSION,
        "command": command,
    }]


# ---- notifier, second input: the notices a user hears about their account. ------------
#
# The rules documented at the top of workers/notifier/src/users.rs (default rules: no
# `[users]` table):
#
# | payload | template | recipient | parameters |
# | UserRegistered | welcome | `email`, by EMAIL | display_name, locale, marketing_consent |
# | UserLoggedIn with new_device | new_device_login | looked up | device_id, ip_address,
# |     user_agent, logged_in_at (epoch ms) |
# | UserLoggedIn from a known device | skipped |
# | UserEmailChanged | email_changed, twice | old_email (output 0), then new_email
# |     (output 1), by EMAIL; none to a blank address | old_email, new_email,
# |     addressee (old or new) |
#
# Output index i of an event gets the derived id of index i: the change notice to the old
# address is index 0, to the new one index 1.

USER_TEMPLATES = {
    "UserRegistered": "welcome",
    "UserLoggedIn": "new_device_login",
    "UserEmailChanged": "email_changed",
}
# The `[users]` channel default: the channel of the notices whose recipient is looked up.
USER_LOOKED_UP_CHANNEL = "EMAIL"


def user_address(email):
    """The recipient for an address in an event: the address, or null (looked up by the
    notification service) when it is blank. Like the order notifier's recipient, a
    padded address is sent to trimmed."""
    return email.strip() or None


def user_notifier_outputs(event):
    """The UserNotificationRequested events the notifier must derive from a UserEvent."""
    kind, body = payload_of(event)
    template = USER_TEMPLATES[kind]
    notices = []  # (output index, channel, recipient, parameters), in output order
    if kind == "UserRegistered":
        notices.append((0, "EMAIL", user_address(body["email"]), {
            "display_name": body["display_name"],
            "locale": body["locale"],
            "marketing_consent": "true" if body["marketing_consent"] else "false",
        }))
    elif kind == "UserLoggedIn":
        if body["new_device"]:
            notices.append((0, USER_LOOKED_UP_CHANNEL, None, {
                "device_id": body["device_id"],
                "ip_address": body["ip_address"],
                "user_agent": body["user_agent"],
                "logged_in_at": str(event["occurred_at"]),
            }))
    elif kind == "UserEmailChanged":
        # Output 0 to the old address, output 1 to the new one; none to a blank address
        # (looked up by user, the notice for the old address would reach the new one).
        for index, addressee in enumerate(("old", "new")):
            recipient = user_address(body[f"{addressee}_email"])
            if recipient is not None:
                notices.append((index, "EMAIL", recipient, {
                    "old_email": body["old_email"],
                    "new_email": body["new_email"],
                    "addressee": addressee,
                }))
    return [
        {
            "event_id": derived_event_id(NOTIFIER, event["event_id"], index),
            "causation_id": event["event_id"],
            "user_id": event["user_id"],
            "key": event["user_id"],
            "worker": NOTIFIER,
            "worker_version": WORKER_VERSION,
            "channel": channel,
            "recipient": recipient,
            "template": template,
            "parameters": parameters,
        }
        for index, channel, recipient, parameters in notices
    ]
