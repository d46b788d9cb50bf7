"""Realistic order lifecycles, seeded: placed, then paid or payment failed (then
cancelled, or retried), shipped, delivered; some cancelled by the customer after
payment; a share of invalid orders, each breaking one validation rule, and a share of
risky ones, each raising one risk signal (some raise more by construction).

Events are in the plain JSON shape of `avro_wire`. Orders are interleaved; the events of
one order keep their order. Most events are written with OrderEvent v2; a share of the
OrderPlaced events, and of the cancellations (the order service is an older producer),
with v1, which readers must resolve.

`Generator.users` then gives the account events (UserEvent v1) of one user per customer
of those orders: a registration (some with a blank or padded address), logins from new
and from known devices, and for some users one or two e-mail changes (some to or from a
blank address). They come from a random stream of their own, so adding them changed no
order of a seed.
"""

import random
import uuid

# (city, postal code, region or None, country); names of every script.
PLACES = [
    ("Berlin", "10115", None, "DE"),
    ("München", "80331", "Bayern", "DE"),
    ("Zürich", "8001", "ZH", "CH"),
    ("Genève", "1201", "GE", "CH"),
    ("Wien", "1010", None, "AT"),
    ("Kraków", "31-001", "Małopolskie", "PL"),
    ("Łódź", "90-001", None, "PL"),
    ("Paris", "75001", "Île-de-France", "FR"),
    ("Besançon", "25000", None, "FR"),
    ("A Coruña", "15001", "Galicia", "ES"),
    ("Malmö", "211 20", "Skåne", "SE"),
    ("London", "SW1A 1AA", None, "GB"),
    ("Cardiff", "CF10 1AA", "Wales", "GB"),
    ("New York", "10001", "NY", "US"),
    ("San José", "95113", "CA", "US"),
    ("東京", "100-0001", "東京都", "JP"),
    ("大阪", "530-0001", "大阪府", "JP"),
    ("Αθήνα", "105 57", None, "GR"),
    ("Москва", "101000", None, "RU"),
    ("São Paulo", "01000-000", "SP", "BR"),
    ("Reykjavík", "101", None, "IS"),
    ("İstanbul", "34000", None, "TR"),
]
CURRENCY_OF = {
    "DE": "EUR", "AT": "EUR", "FR": "EUR", "ES": "EUR", "GR": "EUR", "CH": "CHF",
    "PL": "PLN", "SE": "SEK", "GB": "GBP", "US": "USD", "JP": "JPY", "RU": "EUR",
    "BR": "USD", "IS": "EUR", "TR": "EUR",
}
RECIPIENTS = [
    "Zoë Ångström", "José Álvarez", "Łukasz Żółć", "山田 太郎", "Анна Каренина",
    "Ελένη Παπαδοπούλου", "Søren Kierkegaard", "محمد علي", "Seán O'Brien",
    "Nguyễn Thị Minh Khai", "Chris 🚀 Müller", "Ada Lovelace", "François Pérignon",
]
STREETS = [
    "Hauptstraße 5", "Rue de l'Église 12", "ul. Floriańska 3", "1-1 丸の内",
    "Тверская ул. 7", "Οδός Ερμού 20", "221B Baker Street", "Calle Mayor 1",
]
VALID_EMAILS = [
    "ada@example.com", "first.last+tag@sub.example.co.uk", "o'brien@example.ie",
    "josé.garcía@correo.es", "用户@例子.广告", "пользователь@пример.рф",
    "müller@bücher.de", "x@a-b.io", "ELLA@EXAMPLE.ORG",
]
# Addresses broken in one obvious way each (see oracle.is_well_formed_email).
BAD_EMAILS = [
    "ada.example.com", "ada@@example.com", "ada@localhost", "ada @example.com",
    ".ada@example.com", "a..da@example.com", "ada@example.c", "ada@-example.com",
    "ada@exam_ple.com", "ada@[127.0.0.1]", "ada@10.0.0.12", "ada@example。com",
    'a"da@example.com', "", " padded@example.com ",
]
DISPOSABLE_EMAILS = [
    "buyer@mailinator.com", "x.y@mx.yopmail.com", "Someone@MailDrop.CC",
    "deal@guerrillamail.com", "temp@tempmail.net",
]
# Look-alikes that must not count as disposable.
NEAR_DISPOSABLE_EMAILS = ["shop@notmailinator.com", "mailinator.com@example.com"]
CARRIERS = ["DHL", "UPS", "DPD", "GLS", "La Poste", "PostNord", "ヤマト運輸"]
METHODS = ["card", "paypal", "invoice", "klarna", "apple_pay"]
FAIL_REASONS = ["insufficient_funds", "card_expired", "do_not_honor", "3ds_failed"]
CHANNELS = ["WEB", "MOBILE_APP", "MARKETPLACE", "POS", "PHONE", "UNKNOWN"]
SKUS = [f"SKU-{n:04d}" for n in range(1, 60)] + ["ÄPFEL-1", "книга-7", "茶-12"]

INVALID_KINDS = [
    "total_mismatch", "lower_case_currency", "unknown_currency", "no_line_items",
    "zero_quantity", "bad_email", "unknown_country", "future_timestamp", "empty_city",
]
RISKY_KINDS = [
    "high_amount", "new_customer_high_amount", "country_mismatch",
    "unusual_quantity", "disposable_email",
]
HIGH_THRESHOLD = {"JPY": 150_000, "GBP": 90_000}  # others: 100000 minor units

SOURCES = {
    "OrderPlaced": "shop-frontend",
    "PaymentAuthorized": "payments",
    "PaymentFailed": "payments",
    "OrderShipped": "warehouse",
    "OrderDelivered": "carrier-gateway",
    "OrderCancelled": "order-service",
}

# Account events: who writes them, and what they are made of.
USER_SOURCES = {
    "UserRegistered": "user-service",
    "UserLoggedIn": "auth-service",
    "UserEmailChanged": "user-service",
}
DISPLAY_NAMES = RECIPIENTS + ["Ada", "ゆき", "Ώλεν", "", "  Björk  "]
LOCALES = ["en-GB", "en-US", "de-DE", "de-CH", "fr-FR", "pl-PL", "ja-JP", "el-GR", "ru-RU",
           "pt-BR", "is-IS", "tr-TR", "ar-EG", "zh-Hans-CN", "sr-Latn-RS"]
MAIL_NAMES = ["ada", "first.last+shop", "o'brien", "josé.garcía", "用户", "пользователь",
              "müller", "zoë", "x", "ELLA"]
MAIL_DOMAINS = ["example.com", "example.org", "sub.example.co.uk", "bücher.de", "例子.广告",
                "пример.рф", "correo.es", "a-b.io"]
# Addresses the notifier has none for: the recipient is looked up.
BLANK_EMAILS = ["", " ", "\t", "   "]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "orderflow-shop-android/4.12.0 (Pixel 8; Android 15)",
    "ShopApp/3.2 (iPad; iPadOS 17.6) ラクラク版",
    "curl/8.5.0",
    "",
]

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR


class Generator:
    def __init__(self, seed, now_ms, v1_placed_share=0.10, v1_cancelled_share=0.20,
                 invalid_share=0.12, risky_share=0.15):
        self.seed = seed
        self.rng = random.Random(seed)
        self.now = now_ms
        self.run = f"{seed:x}{self.rng.getrandbits(24):06x}"
        self.v1_placed_share = v1_placed_share
        self.v1_cancelled_share = v1_cancelled_share
        self.invalid_share = invalid_share
        self.risky_share = risky_share
        self.customers = []
        self.stats = {"orders": 0, "invalid": {}, "risky": {}, "v1_placed": 0, "v1_cancelled": 0}

    def uuid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def token(self, n):
        return "".join(self.rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(n))

    def interleaved(self, orders):
        """[(event, writer schema version)], the orders' events interleaved at random."""
        return interleave(self.rng, [list(self.lifecycle(i)) for i in range(orders)])

    def event(self, order_id, customer_id, at, kind, body, version=2):
        event = {
            "event_id": self.uuid(),
            "order_id": order_id,
            "customer_id": customer_id,
            "occurred_at": at,
            "source": SOURCES[kind],
            "payload": {kind: body},
        }
        return event, version

    def customer(self):
        """(customer id, whether this is the customer's first order)."""
        if not self.customers or self.rng.random() < 0.3:
            customer = f"cus-{self.run}-{len(self.customers):05d}"
            self.customers.append(customer)
            return customer, True
        return self.rng.choice(self.customers), False

    def lines(self, currency):
        lines = []
        for _ in range(self.rng.choice([1, 1, 1, 2, 2, 3, 4, 6])):
            if currency == "JPY":
                price = self.rng.randrange(300, 12_000)
            else:
                price = self.rng.randrange(99, 8_000)
            sku = self.rng.choice(SKUS)
            lines.append({"sku": sku, "quantity": self.rng.randint(1, 4), "unit_price": price})
        if len(lines) > 1 and self.rng.random() < 0.15:
            # The same sku on two lines is two valid lines.
            lines.append(dict(lines[0], quantity=self.rng.randint(1, 3)))
        return lines

    def order_placed(self, kind_invalid, risky, new_customer):
        city, postal, region, country = self.rng.choice(PLACES)
        currency = CURRENCY_OF[country]
        lines = self.lines(currency)
        email = self.rng.choice(VALID_EMAILS + NEAR_DISPOSABLE_EMAILS)
        billing = country
        threshold = HIGH_THRESHOLD.get(currency, 100_000)
        if "new_customer_high_amount" in risky:
            new_customer = True
            # Half the threshold or more, below it unless HIGH_AMOUNT is wanted too.
            lines = [{"sku": self.rng.choice(SKUS), "quantity": 1,
                      "unit_price": self.rng.randrange(threshold // 2, threshold - 5_000)}]
        if "high_amount" in risky:
            lines[0]["unit_price"] = self.rng.randrange(threshold, threshold * 3)
        if "country_mismatch" in risky:
            billing = self.rng.choice([c for c in CURRENCY_OF if c != country])
        if "unusual_quantity" in risky:
            sku = self.rng.choice(SKUS)
            if self.rng.random() < 0.5:
                lines.append({"sku": sku, "quantity": self.rng.randint(50, 400), "unit_price": 150})
            else:
                # Split over two lines: only the sum reaches the threshold.
                lines.append({"sku": sku, "quantity": 30, "unit_price": 150})
                lines.append({"sku": sku, "quantity": 25, "unit_price": 150})
        if "disposable_email" in risky:
            email = self.rng.choice(DISPOSABLE_EMAILS)
        if currency == "JPY":
            shipping = self.rng.choice([0, 500, 800])  # yen have no minor unit
        else:
            shipping = self.rng.choice([0, 0, 499, 990])
        subtotal = sum(l["quantity"] * l["unit_price"] for l in lines)
        tax = subtotal * self.rng.choice([0, 7, 10, 19, 20]) // 100
        discount = self.rng.choice([0, 0, 0, min(500, subtotal)])
        order = {
            "line_items": lines,
            "currency": currency,
            "shipping": shipping,
            "tax": tax,
            "discount": discount,
            "total": subtotal + shipping + tax - discount,
            "shipping_address": {
                "recipient": self.rng.choice(RECIPIENTS),
                "line1": self.rng.choice(STREETS),
                "line2": self.rng.choice([None, None, "Apt. 4", "2. OG", "部屋 301"]),
                "city": city,
                "postal_code": postal,
                "region": region,
                "country": country,
            },
            "billing_country": billing,
            "customer_email": email,
            "new_customer": new_customer,
            "sales_channel": self.rng.choice(CHANNELS),
        }
        future = 0
        if kind_invalid == "total_mismatch":
            order["total"] += self.rng.choice([-1, 1, 100, -250])
        elif kind_invalid == "lower_case_currency":
            order["currency"] = order["currency"].lower()
        elif kind_invalid == "unknown_currency":
            order["currency"] = self.rng.choice(["XYZ", "BTC", "EURO", "HRK", "€"])
        elif kind_invalid == "no_line_items":
            order["line_items"] = []
            order["discount"] = 0
            order["tax"] = 0
            order["total"] = order["shipping"]
        elif kind_invalid == "zero_quantity":
            line = self.rng.choice(order["line_items"])
            order["total"] -= line["quantity"] * line["unit_price"]
            line["quantity"] = self.rng.choice([0, 0, -1])
            order["total"] += line["quantity"] * line["unit_price"]
        elif kind_invalid == "bad_email":
            order["customer_email"] = self.rng.choice(BAD_EMAILS)
        elif kind_invalid == "unknown_country":
            bad = self.rng.choice(["XX", "UK", "EU", "XK", "de", "DEU"])
            order["shipping_address"]["country"] = bad
        elif kind_invalid == "future_timestamp":
            # Far beyond the 5 minutes of allowed clock skew, whatever the processing delay.
            future = self.rng.randrange(6 * HOUR, 3 * DAY)
        elif kind_invalid == "empty_city":
            order["shipping_address"]["city"] = self.rng.choice(["", "   "])
        return order, future

    def lifecycle(self, index):
        rng = self.rng
        order_id = f"ord-{self.run}-{index:06d}"
        kind_invalid = rng.choice(INVALID_KINDS) if rng.random() < self.invalid_share else None
        risky = []
        if rng.random() < self.risky_share:
            # A third of the risky orders raise two signals, so that every decision occurs.
            risky = rng.sample(RISKY_KINDS, 2 if rng.random() < 0.33 else 1)
        customer_id, new_customer = self.customer()
        order, future = self.order_placed(kind_invalid, risky, new_customer)
        self.stats["orders"] += 1
        for key, kind in [("invalid", kind_invalid)] + [("risky", k) for k in risky]:
            if kind:
                self.stats[key][kind] = self.stats[key].get(kind, 0) + 1

        # Every step below adds at most 2 days 6 hours: valid timestamps stay in the past.
        at = self.now - rng.randrange(3 * DAY, 5 * DAY)
        version = 2
        if rng.random() < self.v1_placed_share:
            version = 1
            self.stats["v1_placed"] += 1
            # Written by a producer older than sales_channel.
            order = {k: v for k, v in order.items() if k != "sales_channel"}
        placed_at = self.now + future if future else at
        yield self.event(order_id, customer_id, placed_at, "OrderPlaced", order, version)

        def step(kind, body, gap=(MINUTE, 3 * HOUR)):
            nonlocal at
            at += rng.randrange(*gap)
            version = 2
            if kind == "OrderCancelled" and rng.random() < self.v1_cancelled_share:
                version = 1
                self.stats["v1_cancelled"] += 1
            return self.event(order_id, customer_id, at, kind, body, version)

        if kind_invalid:
            if rng.random() < 0.5:
                yield step("OrderCancelled", {"reason": "validation_failed", "refund_amount": 0})
            return
        payment_id = f"pay_{self.token(14)}"
        paid = rng.random() < 0.85
        if not paid:
            yield step("PaymentFailed", {"payment_id": payment_id,
                                         "reason_code": rng.choice(FAIL_REASONS)})
            fate = rng.random()
            if fate < 0.5:
                yield step("OrderCancelled", {"reason": "payment_failed", "refund_amount": 0})
                return
            if fate < 0.7:
                return  # abandoned
            payment_id = f"pay_{self.token(14)}"
        yield step("PaymentAuthorized", {"payment_id": payment_id, "amount": order["total"],
                                         "currency": order["currency"],
                                         "method": rng.choice(METHODS)})
        if rng.random() < 0.08:
            reason = rng.choice(["customer_request", "customer_request", "out_of_stock"])
            yield step("OrderCancelled", {"reason": reason, "refund_amount": order["total"]})
            return
        yield step("OrderShipped", {"carrier": rng.choice(CARRIERS),
                                    "tracking_number": f"1Z{self.token(16)}"}, (HOUR, DAY))
        if rng.random() < 0.9:
            signed_by = rng.choice([None, None, order["shipping_address"]["recipient"],
                                    "Nachbar (Tür 3)", "", " "])
            yield step("OrderDelivered", {"signed_by": signed_by}, (HOUR, DAY))

    # ---- users ---------------------------------------------------------------------

    def users(self):
        """[UserEvent], the account events of every customer of the orders generated so
        far (call after `interleaved`), users interleaved at random, the events of one
        user in order. Statistics in `self.stats["users"]`."""
        rng = random.Random(f"users/{self.seed}")
        stats = {"users": len(self.customers), "registered_blank_email": 0,
                 "registered_padded_email": 0, "logins_new_device": 0,
                 "logins_known_device": 0, "email_changes": 0, "email_changes_blank": 0}
        self.stats["users"] = stats
        return interleave(rng, [list(self.user_lifecycle(rng, user_id, stats))
                                for user_id in self.customers])

    def user_lifecycle(self, rng, user_id, stats):
        def event(kind, body, gap=(MINUTE, 5 * DAY)):
            nonlocal at
            at += rng.randrange(*gap)
            return {
                "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "user_id": user_id,
                "occurred_at": at,
                "source": USER_SOURCES[kind],
                "payload": {kind: body},
            }

        def address():
            return f"{rng.choice(MAIL_NAMES)}{rng.randrange(1000)}@{rng.choice(MAIL_DOMAINS)}"

        def login(device, new_device):
            key = "logins_new_device" if new_device else "logins_known_device"
            stats[key] += 1
            if rng.random() < 0.7:
                ip = f"{rng.choice(['192.0.2', '198.51.100', '203.0.113'])}.{rng.randrange(1, 255)}"
            else:
                ip = f"2001:db8:{rng.randrange(0x10000):x}::{rng.randrange(1, 0x10000):x}"
            return event("UserLoggedIn", {"ip_address": ip, "user_agent": device[1],
                                          "device_id": device[0], "new_device": new_device},
                         (MINUTE, 2 * DAY))

        # Every step below adds at most 5 days: everything stays in the past.
        at = self.now - rng.randrange(200 * DAY, 400 * DAY)
        fate = rng.random()
        if fate < 0.08:
            email = rng.choice(BLANK_EMAILS)
            stats["registered_blank_email"] += 1
        elif fate < 0.12:
            # The notifier trims the address it sends to; the parameters keep it as is.
            email = rng.choice([" ", "  ", "\t"]) + address() + rng.choice(["", " "])
            stats["registered_padded_email"] += 1
        else:
            email = address()
        yield event("UserRegistered", {"email": email,
                                       "display_name": rng.choice(DISPLAY_NAMES),
                                       "locale": rng.choice(LOCALES),
                                       "marketing_consent": rng.random() < 0.4})

        def new_device():
            return (f"dev-{uuid.UUID(int=rng.getrandbits(128), version=4).hex[:12]}",
                    rng.choice(USER_AGENTS))

        devices = [new_device()]
        yield login(devices[0], True)
        changes = 2 if rng.random() < 0.05 else 1 if rng.random() < 0.25 else 0
        for _ in range(rng.randint(0, 6)):
            roll = rng.random()
            if roll < 0.6:
                yield login(rng.choice(devices), False)
            elif roll < 0.65:
                # The user service's flag decides, not whether the id was seen before
                # (a device reset, another browser profile).
                yield login(rng.choice(devices), True)
            else:
                devices.append(new_device())
                yield login(devices[-1], True)
            if changes and rng.random() < 0.4:
                changes -= 1
                new = rng.choice(BLANK_EMAILS) if rng.random() < 0.1 else address()
                stats["email_changes"] += 1
                if not new.strip() or not email.strip():
                    stats["email_changes_blank"] += 1
                yield event("UserEmailChanged", {"old_email": email, "new_email": new})
                email = new


def interleave(rng, sequences):
    """The items of `sequences` interleaved at random, each sequence's in its order."""
    live = [s for s in sequences if s]
    heads = [0] * len(live)
    out = []
    while live:
        i = rng.randrange(len(live))
        out.append(live[i][heads[i]])
        heads[i] += 1
        if heads[i] == len(live[i]):
            live[i], live[-1] = live[-1], live[i]
            heads[i], heads[-1] = heads[-1], heads[i]
            live.pop()
            heads.pop()
    return out
