package io.orderflow.bench;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The deterministic id of a derived event, as the Rust workers compute it: a UUIDv5
 * (SHA-1, RFC 4122) in the orderflow namespace of the name
 * {@code "{worker}\u001f{source_event_id}\u001f{index}"}, so a replayed input yields
 * the same id. ({@code UUID.nameUUIDFromBytes} is version 3, MD5: not this.)
 */
final class DerivedId {
    /** Namespace of derived event ids: 6f726465-7266-6c6f-7700-444552495645. */
    private static final byte[] NAMESPACE = {
        0x6f, 0x72, 0x64, 0x65, 0x72, 0x66, 0x6c, 0x6f,
        0x77, 0x00, 0x44, 0x45, 0x52, 0x49, 0x56, 0x45,
    };
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private final MessageDigest sha1;

    DerivedId() {
        try {
            sha1 = MessageDigest.getInstance("SHA-1");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-1 is not available", e);
        }
    }

    /** The id of output {@code index} of {@code worker} for {@code sourceEventId}. */
    String of(String worker, String sourceEventId, int index) {
        String name = worker + '\u001f' + sourceEventId + '\u001f' + index;
        sha1.reset();
        sha1.update(NAMESPACE);
        byte[] hash = sha1.digest(name.getBytes(StandardCharsets.UTF_8));
        hash[6] = (byte) ((hash[6] & 0x0f) | 0x50);
        hash[8] = (byte) ((hash[8] & 0x3f) | 0x80);
        char[] out = new char[36];
        int pos = 0;
        for (int i = 0; i < 16; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10) {
                out[pos++] = '-';
            }
            out[pos++] = HEX[(hash[i] >> 4) & 0xf];
            out[pos++] = HEX[hash[i] & 0xf];
        }
        return new String(out);
    }
}
