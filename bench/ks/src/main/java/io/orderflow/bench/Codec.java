package io.orderflow.bench;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.util.Utf8;

/**
 * Avro single-object encoding ({@code C3 01}, the 8-byte little-endian CRC-64-AVRO
 * fingerprint of the writer schema, the Avro binary datum), as the Rust workers read
 * and write it.
 *
 * <p>Decoding resolves any known writer version of the input schema to the newest one
 * (what {@code BinaryMessageDecoder} with a {@code SchemaStore.Cache} does), and is as
 * strict as the Rust codec: payloads over the size limit, unknown fingerprints,
 * malformed data and trailing bytes are errors. Encoding uses Avro's
 * {@link BinaryMessageEncoder}. One instance per stream task: not thread safe.
 */
final class Codec {
    /** Largest accepted payload, as the Rust runtime's default --max-payload-bytes. */
    static final int MAX_PAYLOAD_BYTES = 1024 * 1024;

    /** Why a payload cannot be decoded: its class and message go to the dead letter. */
    static final class DecodeException extends Exception {
        final String kind;

        DecodeException(String kind, String message) {
            super(message);
            this.kind = kind;
        }
    }

    private final Map<Long, GenericDatumReader<GenericRecord>> readers = new HashMap<>();
    private final BinaryMessageEncoder<GenericRecord> encoder;
    private BinaryDecoder decoder;

    /** Reads every version of {@code inputVersions} as the newest; writes {@code output}. */
    Codec(List<Schema> inputVersions, Schema output) {
        Schema reader = inputVersions.get(inputVersions.size() - 1);
        for (Schema writer : inputVersions) {
            readers.put(SchemaNormalization.parsingFingerprint64(writer), new GenericDatumReader<>(writer, reader));
        }
        encoder = new BinaryMessageEncoder<>(org.apache.avro.generic.GenericData.get(), output);
    }

    GenericRecord decode(byte[] bytes) throws DecodeException {
        if (bytes == null) {
            throw new DecodeException("tombstone", "the record has no value");
        }
        if (bytes.length > MAX_PAYLOAD_BYTES) {
            throw new DecodeException(
                    "payload-too-large", "payload of " + bytes.length + " bytes is over the limit of " + MAX_PAYLOAD_BYTES);
        }
        if (bytes.length < 2 || (bytes[0] & 0xff) != 0xC3 || bytes[1] != 0x01) {
            throw new DecodeException("unknown-format", "not Avro single-object encoding (C3 01)");
        }
        if (bytes.length < 10) {
            throw new DecodeException("malformed", "single-object encoding needs an 8-byte fingerprint");
        }
        long fingerprint = ByteBuffer.wrap(bytes, 2, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        GenericDatumReader<GenericRecord> reader = readers.get(fingerprint);
        if (reader == null) {
            throw new DecodeException(
                    "unknown-schema", String.format("unknown writer schema fingerprint:%#018x", fingerprint));
        }
        decoder = DecoderFactory.get().binaryDecoder(bytes, 10, bytes.length - 10, decoder);
        GenericRecord record;
        try {
            record = reader.read(null, decoder);
            if (!decoder.isEnd()) {
                throw new DecodeException("malformed", "trailing bytes after the Avro datum");
            }
            if (!validStrings(record)) {
                // Avro Java would replace the bad bytes; the Rust codec refuses them.
                throw new DecodeException("malformed", "malformed Avro datum: invalid UTF-8 string");
            }
        } catch (IOException | RuntimeException e) {
            throw new DecodeException("malformed", "malformed Avro datum: " + e);
        }
        return record;
    }

    /** True when every string in {@code value} (a decoded datum) is valid UTF-8. */
    static boolean validStrings(Object value) {
        if (value instanceof Utf8 utf8) {
            return validUtf8(utf8.getBytes(), utf8.getByteLength());
        }
        if (value instanceof GenericRecord record) {
            int fields = record.getSchema().getFields().size();
            for (int i = 0; i < fields; i++) {
                if (!validStrings(record.get(i))) {
                    return false;
                }
            }
            return true;
        }
        if (value instanceof Collection<?> items) {
            for (Object item : items) {
                if (!validStrings(item)) {
                    return false;
                }
            }
            return true;
        }
        if (value instanceof Map<?, ?> map) {
            for (Map.Entry<?, ?> entry : map.entrySet()) {
                if (!validStrings(entry.getKey()) || !validStrings(entry.getValue())) {
                    return false;
                }
            }
        }
        return true;
    }

    /** Strict UTF-8 (as Rust's {@code str::from_utf8}): no overlongs, surrogates or values over U+10FFFF. */
    static boolean validUtf8(byte[] b, int length) {
        int i = 0;
        while (i < length) {
            int c = b[i] & 0xff;
            if (c < 0x80) {
                i++;
                continue;
            }
            int need;
            int min;
            int max = 0xBF;
            if (c >= 0xC2 && c <= 0xDF) {
                need = 1;
                min = 0x80;
            } else if (c >= 0xE0 && c <= 0xEF) {
                need = 2;
                min = c == 0xE0 ? 0xA0 : 0x80;
                max = c == 0xED ? 0x9F : 0xBF;
            } else if (c >= 0xF0 && c <= 0xF4) {
                need = 3;
                min = c == 0xF0 ? 0x90 : 0x80;
                max = c == 0xF4 ? 0x8F : 0xBF;
            } else {
                return false;
            }
            if (i + need >= length) {
                return false;
            }
            int second = b[i + 1] & 0xff;
            if (second < min || second > max) {
                return false;
            }
            for (int k = 2; k <= need; k++) {
                int next = b[i + k] & 0xff;
                if (next < 0x80 || next > 0xBF) {
                    return false;
                }
            }
            i += need + 1;
        }
        return true;
    }

    byte[] encode(GenericRecord record) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        encoder.encode(record, out);
        return out.toByteArray();
    }
}
