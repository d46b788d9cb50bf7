#!/usr/bin/env python3
"""The Python half of the codec interoperability test (no Kafka involved).

    interop.py write --out FILE --registry URL --topic TOPIC
        Writes OrderEvent records as Python producers do: every payload type, unicode
        strings, optional fields null and set, v1 and v2 writer schemas; each in
        single-object encoding (fastavro) and in Confluent framing
        (confluent_kafka's AvroSerializer, registering under <TOPIC>-value). One JSON
        line per record: case, format, writer schema, the bytes in hex, and the value
        a reader of the newest schema must see.

    interop.py decode --in FILE --registry URL
        Reads lines "<case> <format> <topic> <hex>" written by the Rust codec and
        prints, per line, the record as fastavro (single-object, fingerprint looked up
        in schemas/) or AvroDeserializer (Confluent, through the registry) decodes it.

    interop.py references --out FILE --registry URL --topic TOPIC
        Registers the newest OrderEvent schema as a producer using Confluent schema
        references does: Address in a subject of its own, each payload record in its
        own subject (OrderPlaced referencing Address), OrderEvent under <TOPIC>-value
        referencing them; then writes the v2 cases with confluent_kafka's
        AvroSerializer using that registered schema. Same output lines as `write`.

    interop.py fingerprints
        Prints the Parsing Canonical Form and CRC-64-AVRO fingerprint fastavro computes
        for every schema in schemas/.
"""

import argparse
import copy
import json
import uuid

import avro_wire

I64_MAX = 2**63 - 1
I64_MIN = -(2**63)


def address(**overrides):
    value = {
        "recipient": "Zoë Ångström-Łukasiewicz",
        "line1": "Rue de l'Église 12",
        "line2": "Bâtiment B, 3ᵉ étage",
        "city": "Besançon",
        "postal_code": "25000",
        "region": "Bourgogne-Franche-Comté",
        "country": "FR",
    }
    value.update(overrides)
    return value


def order_placed(**overrides):
    value = {
        "line_items": [
            {"sku": "ÄPFEL-1", "quantity": 3, "unit_price": 1999},
            {"sku": "茶-12", "quantity": 1, "unit_price": 0},
            {"sku": "ÄPFEL-1", "quantity": 2, "unit_price": 1999},
        ],
        "currency": "EUR",
        "shipping": 499,
        "tax": 1900,
        "discount": 250,
        "total": 12144,
        "shipping_address": address(),
        "billing_country": "DE",
        "customer_email": "zoë@bücher.de",
        "new_customer": True,
        "sales_channel": "MOBILE_APP",
    }
    value.update(overrides)
    return value


def event(case, payload, **overrides):
    value = {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"orderflow-interop/{case}")),
        "order_id": "ord-ünïcödé-42",
        "customer_id": "cus-山田-7",
        "occurred_at": 1_767_225_600_123,
        "source": "shop-frontend 🛒",
        "payload": payload,
    }
    value.update(overrides)
    return value


def cases():
    """(case, writer version, event as the writer holds it)."""
    return [
        ("placed_every_optional_set", 2, event("a", {"OrderPlaced": order_placed()})),
        ("placed_optionals_null_no_lines", 2, event("b", {"OrderPlaced": order_placed(
            line_items=[], shipping_address=address(line2=None, region=None, city="東京",
                                                   country="JP"),
            currency="JPY", shipping=0, tax=0, discount=0, total=0, new_customer=False,
            sales_channel="UNKNOWN", customer_email="")})),
        ("placed_extreme_numbers", 2, event("c", {"OrderPlaced": order_placed(
            line_items=[{"sku": "", "quantity": -(2**31), "unit_price": I64_MIN},
                        {"sku": " ", "quantity": 2**31 - 1, "unit_price": I64_MAX}],
            shipping=I64_MAX, tax=I64_MIN, discount=-1, total=0, sales_channel="POS")},
            occurred_at=-1)),
        ("placed_v1_every_optional_set", 1, event("d", {"OrderPlaced": order_placed()})),
        ("placed_v1_optionals_null", 1, event("e", {"OrderPlaced": order_placed(
            shipping_address=address(line2=None, region=None),
            customer_email="пользователь@пример.рф")})),
        ("payment_authorized", 2, event("f", {"PaymentAuthorized": {
            "payment_id": "pay_ÆØÅ_1", "amount": 12144, "currency": "EUR",
            "method": "apple_pay"}})),
        ("payment_authorized_v1", 1, event("g", {"PaymentAuthorized": {
            "payment_id": "pay_2", "amount": 0, "currency": "JPY", "method": "card"}})),
        ("payment_failed", 2, event("h", {"PaymentFailed": {
            "payment_id": "pay_3", "reason_code": "insufficient_funds"}})),
        ("shipped", 2, event("i", {"OrderShipped": {
            "carrier": "ヤマト運輸", "tracking_number": "🚚-1Z999AA10123456784"}})),
        ("delivered_signed", 2, event("j", {"OrderDelivered": {"signed_by": "Søren (Tür 3)"}})),
        ("delivered_unsigned", 2, event("k", {"OrderDelivered": {"signed_by": None}})),
        ("delivered_v1_signed_empty", 1, event("l", {"OrderDelivered": {"signed_by": ""}})),
        ("cancelled", 2, event("m", {"OrderCancelled": {
            "reason": "customer_request — «changed mind»", "refund_amount": 12144}})),
        ("cancelled_v1", 1, event("n", {"OrderCancelled": {
            "reason": "fraud", "refund_amount": -5}}, source="")),
        ("cancelled_v1_customer_request", 1, event("o", {"OrderCancelled": {
            "reason": "customer_request", "refund_amount": 12144}})),
        ("payment_failed_v1", 1, event("p", {"PaymentFailed": {
            "payment_id": "pay_4", "reason_code": "card_expired"}})),
        ("shipped_v1", 1, event("q", {"OrderShipped": {
            "carrier": "DHL", "tracking_number": "00340434161094042557"}})),
    ]


def as_read_by_newest(value, version):
    """What a reader of OrderEvent v2 sees of a record written with `version`."""
    value = copy.deepcopy(value)
    placed = value["payload"].get("OrderPlaced")
    if version == 1 and placed is not None:
        placed["sales_channel"] = "UNKNOWN"  # the field's default
    return value


def as_written_by(value, version):
    value = copy.deepcopy(value)
    placed = value["payload"].get("OrderPlaced")
    if version == 1 and placed is not None:
        del placed["sales_channel"]  # v1 has no such field
    return value


def write(args):
    schemas = {v: avro_wire.schema("OrderEvent", v) for v in (1, 2)}
    confluent = avro_wire.ConfluentCodec(args.registry)
    lines = []
    for case, version, value in cases():
        written = avro_wire.avro_record(as_written_by(value, version))
        expected = as_read_by_newest(value, version)
        writer = schemas[version]
        encodings = {
            "single-object": avro_wire.SingleObjectCodec.encode(writer, written),
            "confluent": confluent.encode(writer, args.topic, written),
        }
        for wire_format, data in encodings.items():
            lines.append({
                "case": f"{case}/{wire_format}",
                "format": wire_format,
                "writer": writer.relative_path,
                "fingerprint": writer.fingerprint.hex(),
                "hex": data.hex(),
                "expected": expected,
            })
    with open(args.out, "w", encoding="utf-8") as out:
        for line in lines:
            out.write(json.dumps(line) + "\n")
    print(f"wrote {len(lines)} records to {args.out}")


def register_with_references(client, topic):
    """(schema of <topic>-value, its references): OrderEvent v2 split into subjects."""
    from confluent_kafka.schema_registry import Schema, SchemaReference

    whole = json.loads(avro_wire.schema("OrderEvent", 2).text)
    namespace = whole["namespace"]

    def register(name, definition, references):
        subject = f"{topic}-{namespace}.{name}"
        schema = Schema(json.dumps(definition), "AVRO", references)
        client.register_schema(subject, schema)
        version = client.lookup_schema(subject, schema).version
        return SchemaReference(f"{namespace}.{name}", subject, version)

    payload = next(f for f in whole["fields"] if f["name"] == "payload")
    references = []
    for index, branch in enumerate(payload["type"]):
        record = dict(copy.deepcopy(branch), namespace=namespace)
        needs = []
        for field in record["fields"]:
            if isinstance(field["type"], dict) and field["type"].get("name") == "Address":
                address = dict(field["type"], namespace=namespace)
                needs.append(register("Address", address, []))
                field["type"] = f"{namespace}.Address"
        references.append(register(record["name"], record, needs))
        payload["type"][index] = f"{namespace}.{record['name']}"
    return Schema(json.dumps(whole), "AVRO", references)


def references(args):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    client = SchemaRegistryClient({"url": args.registry})
    schema = register_with_references(client, args.topic)
    client.register_schema(f"{args.topic}-value", schema)
    serializer = AvroSerializer(client, schema, conf={"auto.register.schemas": False})
    context = SerializationContext(args.topic, MessageField.VALUE)
    lines = []
    for case, version, value in cases():
        if version != 2:
            continue
        data = serializer(avro_wire.avro_record(value), context)
        lines.append({
            "case": f"{case}/references",
            "format": "confluent",
            "writer": f"{args.topic}-value",
            "hex": data.hex(),
            "expected": value,
        })
    with open(args.out, "w", encoding="utf-8") as out:
        for line in lines:
            out.write(json.dumps(line) + "\n")
    print(f"wrote {len(lines)} records to {args.out}")


def decode(args):
    single_object = avro_wire.SingleObjectCodec()
    confluent = avro_wire.ConfluentCodec(args.registry) if args.registry else None
    with open(args.input, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            case, wire_format, topic, data = line.split()
            data = bytes.fromhex(data)
            out = {"case": case, "format": wire_format}
            try:
                if wire_format == "single-object":
                    writer, value = single_object.decode(data)
                    out["schema"] = writer.relative_path
                else:
                    schema_id, value = confluent.decode(topic, data)
                    out["schema"] = confluent.schema_name(schema_id)
                    out["schema_id"] = schema_id
                out["value"] = value
            except Exception as error:  # reported to the Rust side, which fails the test
                out["error"] = f"{type(error).__name__}: {error}"
            print(json.dumps(out))


def fingerprints(_args):
    print(json.dumps({
        s.relative_path: {"canonical_form": s.canonical_form, "fingerprint": s.fingerprint.hex()}
        for s in avro_wire.catalogue()
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    w = commands.add_parser("write")
    w.add_argument("--out", required=True)
    w.add_argument("--registry", required=True)
    w.add_argument("--topic", required=True)
    d = commands.add_parser("decode")
    d.add_argument("--in", dest="input", required=True)
    d.add_argument("--registry")
    r = commands.add_parser("references")
    r.add_argument("--out", required=True)
    r.add_argument("--registry", required=True)
    r.add_argument("--topic", required=True)
    commands.add_parser("fingerprints")
    args = parser.parse_args()
    {"write": write, "decode": decode, "references": references,
     "fingerprints": fingerprints}[args.command](args)


if __name__ == "__main__":
    main()
