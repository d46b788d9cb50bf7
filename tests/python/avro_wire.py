"""The orderflow wire formats as any Python producer or consumer sees them.

- Avro single-object encoding: C3 01, the 8-byte little-endian CRC-64-AVRO fingerprint
  of the writer schema's Parsing Canonical Form, the Avro binary datum. The
  fingerprint is looked up among the .avsc files of `schemas/`.
- Confluent framing: 00, a 4-byte big-endian registry id, the datum; written and read
  with confluent_kafka's own AvroSerializer and AvroDeserializer.

Decoded values are brought into one plain JSON shape so that every side compares the
same thing: records are objects, a union branch that is a record is
`{"ShortName": {...}}`, enums are their symbol, timestamp-millis are integers.
"""

import datetime
import io
import json
from pathlib import Path

import fastavro
import fastavro.schema

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"
NAMESPACE = "io.orderflow.events"
SINGLE_OBJECT_MARKER = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


class SchemaFile:
    """One .avsc file of `schemas/`: its text, parsed schema and fingerprint."""

    def __init__(self, path):
        self.path = path
        self.name = path.parent.name
        self.version = int(path.stem.lstrip("v"))
        self.text = path.read_text(encoding="utf-8")
        self.parsed = fastavro.parse_schema(json.loads(self.text))
        self.canonical_form = fastavro.schema.to_parsing_canonical_form(self.parsed)
        # fastavro returns the hex of the fingerprint's bytes in little-endian order,
        # which is exactly the single-object header.
        self.fingerprint = bytes.fromhex(
            fastavro.schema.fingerprint(self.canonical_form, "CRC-64-AVRO")
        )

    @property
    def relative_path(self):
        return f"{self.name}/{self.path.name}"


def catalogue():
    """Every schema file, in a stable order."""
    return [SchemaFile(p) for p in sorted(SCHEMAS_DIR.glob("*/v*.avsc"))]


def schema(name, version):
    return SchemaFile(SCHEMAS_DIR / name / f"v{version}.avsc")


class SingleObjectCodec:
    """Single-object encoding against the schemas of `schemas/`."""

    def __init__(self):
        self.by_fingerprint = {s.fingerprint: s for s in catalogue()}

    @staticmethod
    def encode(schema_file, record):
        out = io.BytesIO()
        out.write(SINGLE_OBJECT_MARKER)
        out.write(schema_file.fingerprint)
        fastavro.schemaless_writer(out, schema_file.parsed, record)
        return out.getvalue()

    def decode(self, data):
        """(schema file, plain value) of a single-object message."""
        if data[:2] != SINGLE_OBJECT_MARKER or len(data) < 10:
            raise ValueError(f"not single-object encoded: {data[:10].hex()}")
        writer = self.by_fingerprint.get(data[2:10])
        if writer is None:
            raise ValueError(f"unknown fingerprint {data[2:10].hex()}")
        body = io.BytesIO(data[10:])
        value = fastavro.schemaless_reader(body, writer.parsed, return_record_name=True)
        if body.read(1):
            raise ValueError("trailing bytes after the datum")
        return writer, plain(value)


class ConfluentCodec:
    """Confluent framing through a real registry, with confluent_kafka's serdes."""

    def __init__(self, registry_url):
        from confluent_kafka.schema_registry import SchemaRegistryClient
        from confluent_kafka.schema_registry.avro import AvroDeserializer

        self.client = SchemaRegistryClient({"url": registry_url})
        self.deserializer = AvroDeserializer(self.client, return_record_name=True)
        self.serializers = {}

    def encode(self, schema_file, topic, record):
        """Serializes with the schema of `schema_file`, registering it under
        `<topic>-value` on first use (the serializer's defaults)."""
        from confluent_kafka.schema_registry.avro import AvroSerializer
        from confluent_kafka.serialization import MessageField, SerializationContext

        serializer = self.serializers.get(schema_file.path)
        if serializer is None:
            serializer = AvroSerializer(self.client, schema_file.text)
            self.serializers[schema_file.path] = serializer
        return serializer(record, SerializationContext(topic, MessageField.VALUE))

    def decode(self, topic, data):
        """(registry id, plain value) of a Confluent-framed message."""
        from confluent_kafka.serialization import MessageField, SerializationContext

        if data[:1] != CONFLUENT_MAGIC or len(data) < 5:
            raise ValueError(f"not Confluent framed: {data[:5].hex()}")
        value = self.deserializer(data, SerializationContext(topic, MessageField.VALUE))
        return int.from_bytes(data[1:5], "big"), plain(value)

    def schema_name(self, schema_id):
        """Full name of the record registered under `schema_id`."""
        parsed = json.loads(self.client.get_schema(schema_id).schema_str)
        return f"{parsed.get('namespace', '')}.{parsed['name']}".lstrip(".")


def plain(value):
    """A decoded fastavro value in the shared JSON shape (see the module doc)."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return {value[0].rsplit(".", 1)[-1]: plain(value[1])}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, datetime.datetime):
        return (value - _EPOCH) // datetime.timedelta(milliseconds=1)
    return value


def avro_record(value):
    """The inverse of `plain` for writing: `{"ShortName": {...}}` union branches become
    fastavro's tuple notation with the full name."""
    if isinstance(value, dict):
        if len(value) == 1:
            (key, inner), = value.items()
            if key[:1].isupper() and isinstance(inner, dict):
                return (f"{NAMESPACE}.{key}", avro_record(inner))
        return {k: avro_record(v) for k, v in value.items()}
    if isinstance(value, list):
        return [avro_record(v) for v in value]
    return value
