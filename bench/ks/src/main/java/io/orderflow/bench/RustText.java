package io.orderflow.bench;

import java.nio.charset.StandardCharsets;

/**
 * The few pieces of Rust's string semantics the validator's rules and messages depend
 * on: Unicode {@code White_Space} (Rust's {@code char::is_whitespace} and
 * {@code str::trim}), {@code char::is_alphanumeric}, UTF-8 lengths, and the
 * {@code {:?}} (Debug) quoting of a string used in rejection messages.
 *
 * <p>Java's own {@code Character.isWhitespace} and {@code String.strip} differ from Rust
 * (they leave out U+00A0, U+2007, U+202F and count U+001C..U+001F), so the property is
 * spelled out here.
 */
final class RustText {
    private RustText() {}

    /** Rust's {@code char::is_whitespace}: the Unicode White_Space property. */
    static boolean isWhitespace(int c) {
        if (c <= 0x20) {
            return c == 0x20 || (c >= 0x09 && c <= 0x0D);
        }
        if (c < 0x85) {
            return false;
        }
        return c == 0x85
                || c == 0xA0
                || c == 0x1680
                || (c >= 0x2000 && c <= 0x200A)
                || c == 0x2028
                || c == 0x2029
                || c == 0x202F
                || c == 0x205F
                || c == 0x3000;
    }

    /** Rust's {@code char::is_control}: general category Cc. */
    static boolean isControl(int c) {
        return c < 0x20 || (c >= 0x7F && c <= 0x9F);
    }

    /** Rust's {@code char::is_alphanumeric}: Alphabetic, or a number (Nd, Nl, No). */
    static boolean isAlphanumeric(int c) {
        if (Character.isAlphabetic(c)) {
            return true;
        }
        int type = Character.getType(c);
        return type == Character.DECIMAL_DIGIT_NUMBER
                || type == Character.LETTER_NUMBER
                || type == Character.OTHER_NUMBER;
    }

    /** Rust's {@code char::is_ascii_alphanumeric}. */
    static boolean isAsciiAlphanumeric(int c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    }

    /** {@code s.trim().is_empty()} in Rust: empty or only White_Space. */
    static boolean isBlank(String s) {
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            if (!isWhitespace(c)) {
                return false;
            }
            i += Character.charCount(c);
        }
        return true;
    }

    /** Length of {@code s} in UTF-8 bytes (Rust's {@code str::len}). */
    static int utf8Length(String s) {
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (ch < 0x80) {
                n += 1;
            } else if (ch < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(ch)
                    && i + 1 < s.length()
                    && Character.isLowSurrogate(s.charAt(i + 1))) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        return n;
    }

    /** Rust's {@code str::to_ascii_uppercase}. */
    static String toAsciiUppercase(String s) {
        char[] out = null;
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (ch >= 'a' && ch <= 'z') {
                if (out == null) {
                    out = s.toCharArray();
                }
                out[i] = (char) (ch - 32);
            }
        }
        return out == null ? s : new String(out);
    }

    /** Longest piece of an event quoted in a message, in characters (code points). */
    static final int QUOTE_CHARS = 64;

    /**
     * {@code value} in quotes for a message, cut to {@link #QUOTE_CHARS} characters, as
     * Rust's {@code format!("{:?}", value)} writes it (with "…" after a cut value).
     */
    static String quote(String value) {
        StringBuilder out = new StringBuilder(value.length() + 8);
        out.append('"');
        int count = 0;
        int i = 0;
        while (i < value.length()) {
            if (count == QUOTE_CHARS) {
                out.append('"').append('\u2026');
                return out.toString();
            }
            int c = value.codePointAt(i);
            appendDebug(out, c);
            i += Character.charCount(c);
            count++;
        }
        return out.append('"').toString();
    }

    /** One character as Rust's {@code str} Debug writes it. */
    static void appendDebug(StringBuilder out, int c) {
        switch (c) {
            case 0 -> out.append("\\0");
            case '\t' -> out.append("\\t");
            case '\r' -> out.append("\\r");
            case '\n' -> out.append("\\n");
            case '\\' -> out.append("\\\\");
            case '"' -> out.append("\\\"");
            default -> {
                if (c >= 0x20 && c < 0x7F) {
                    out.append((char) c);
                } else if (isGraphemeExtend(c) || !isPrintable(c)) {
                    out.append("\\u{").append(Integer.toHexString(c)).append('}');
                } else {
                    out.appendCodePoint(c);
                }
            }
        }
    }

    /**
     * Unicode Grapheme_Extend: nonspacing and enclosing marks, plus the
     * Other_Grapheme_Extend characters (a few spacing marks, ZWNJ, half-width voicing
     * marks and tags).
     */
    static boolean isGraphemeExtend(int c) {
        if (c < 0x300) {
            return false;
        }
        int type = Character.getType(c);
        if (type == Character.NON_SPACING_MARK || type == Character.ENCLOSING_MARK) {
            // U+1171E became a spacing mark (Mc) after Unicode 13.
            return c != 0x1171E;
        }
        return OTHER_GRAPHEME_EXTEND.contains(c);
    }

    /**
     * Rust's notion of a printable character: everything but separators other than the
     * space (Zs, Zl, Zp), controls (Cc), format characters (Cf), surrogates, private use
     * and unassigned code points.
     */
    static boolean isPrintable(int c) {
        if (c == ' ') {
            return true;
        }
        return switch (Character.getType(c)) {
            case Character.SPACE_SEPARATOR,
                    Character.LINE_SEPARATOR,
                    Character.PARAGRAPH_SEPARATOR,
                    Character.CONTROL,
                    Character.FORMAT,
                    Character.SURROGATE,
                    Character.PRIVATE_USE -> false;
            case Character.UNASSIGNED -> ASSIGNED_AFTER_JAVA_17.contains(c);
            default -> true;
        };
    }

    /** Code points of Other_Grapheme_Extend (Unicode 15/16 PropList.txt). */
    private static final CodePointSet OTHER_GRAPHEME_EXTEND = new CodePointSet(new int[] {
        0x09BE, 0x09BE, 0x09D7, 0x09D7, 0x0B3E, 0x0B3E, 0x0B57, 0x0B57,
        0x0BBE, 0x0BBE, 0x0BD7, 0x0BD7, 0x0CC0, 0x0CC0, 0x0CC2, 0x0CC2,
        0x0CC7, 0x0CC8, 0x0CCA, 0x0CCB, 0x0CD5, 0x0CD6, 0x0D3E, 0x0D3E,
        0x0D57, 0x0D57, 0x0DCF, 0x0DCF, 0x0DDF, 0x0DDF, 0x1715, 0x1715,
        0x1734, 0x1734, 0x1B35, 0x1B35, 0x1B3B, 0x1B3B, 0x1B3D, 0x1B3D,
        0x1B43, 0x1B44, 0x1BAA, 0x1BAA, 0x1BF2, 0x1BF3, 0x200C, 0x200C,
        0x302E, 0x302F, 0xA953, 0xA953, 0xA9C0, 0xA9C0, 0xFF9E, 0xFF9F,
        0x111C0, 0x111C0, 0x11235, 0x11235, 0x1133E, 0x1133E, 0x1134D, 0x1134D,
        0x11357, 0x11357, 0x113B8, 0x113B8, 0x113C2, 0x113C2, 0x113C5, 0x113C5,
        0x113C7, 0x113C9, 0x113CF, 0x113CF, 0x114B0, 0x114B0, 0x114BD, 0x114BD,
        0x115AF, 0x115AF, 0x116B6, 0x116B6, 0x11930, 0x11930, 0x1193D, 0x1193D,
        0x11F41, 0x11F41, 0x16FF0, 0x16FF1, 0x1D165, 0x1D166, 0x1D16D, 0x1D172,
        0xE0020, 0xE007F,
    });

    /**
     * Code points assigned after Unicode 13 (the character data of Java 17) that Rust's
     * Debug prints as they are: without this list Java would see them as unassigned and
     * escape them.
     */
    private static final CodePointSet ASSIGNED_AFTER_JAVA_17 = new CodePointSet(new int[] {
        0x61D, 0x61D, 0x870, 0x88F, 0x8B5, 0x8B5, 0x8C8, 0x8C9, 0xC5C, 0xC5D, 0xCDC, 0xCDD,
        0xCF3, 0xCF3, 0x170D, 0x170D, 0x171F, 0x171F, 0x1B4C, 0x1B4C, 0x1B4E, 0x1B4F,
        0x1B7D, 0x1B7F, 0x1C89, 0x1C8A, 0x20C0, 0x20C1, 0x2427, 0x2429, 0x2B96, 0x2B96,
        0x2C2F, 0x2C2F, 0x2C5F, 0x2C5F, 0x2E53, 0x2E5D, 0x2FFC, 0x2FFF, 0x31E4, 0x31E5,
        0x31EF, 0x31EF, 0x9FFD, 0x9FFF, 0xA7C0, 0xA7C1, 0xA7CB, 0xA7DC, 0xA7F1, 0xA7F4,
        0xFBC2, 0xFBD2, 0xFD40, 0xFD4F, 0xFD90, 0xFD91, 0xFDC8, 0xFDCF, 0xFDFE, 0xFDFF,
        0x10570, 0x1057A, 0x1057C, 0x1058A, 0x1058C, 0x10592, 0x10594, 0x10595, 0x10597, 0x105A1,
        0x105A3, 0x105B1, 0x105B3, 0x105B9, 0x105BB, 0x105BC, 0x105C0, 0x105F3, 0x10780, 0x10785,
        0x10787, 0x107B0, 0x107B2, 0x107BA, 0x10940, 0x10959, 0x10D40, 0x10D65, 0x10D6E, 0x10D85,
        0x10D8E, 0x10D8F, 0x10EC2, 0x10EC7, 0x10ED0, 0x10ED8, 0x10F70, 0x10F81, 0x10F86, 0x10F89,
        0x11071, 0x11072, 0x11075, 0x11075, 0x1123F, 0x11240, 0x11380, 0x11389, 0x1138B, 0x1138B,
        0x1138E, 0x1138E, 0x11390, 0x113B5, 0x113B7, 0x113B7, 0x113B9, 0x113BA, 0x113CA, 0x113CA,
        0x113CC, 0x113CD, 0x113D1, 0x113D1, 0x113D3, 0x113D5, 0x113D7, 0x113D8, 0x116B9, 0x116B9,
        0x116D0, 0x116E3, 0x1171E, 0x1171E, 0x11740, 0x11746, 0x11AB0, 0x11ABF, 0x11B00, 0x11B09,
        0x11B61, 0x11B61, 0x11B65, 0x11B65, 0x11B67, 0x11B67, 0x11BC0, 0x11BE1, 0x11BF0, 0x11BF9,
        0x11DB0, 0x11DDB, 0x11DE0, 0x11DE9, 0x11F02, 0x11F10, 0x11F12, 0x11F35, 0x11F3E, 0x11F3F,
        0x11F43, 0x11F59, 0x12F90, 0x12FF2, 0x1342F, 0x1342F, 0x13441, 0x13446, 0x13460, 0x143FA,
        0x16100, 0x1611D, 0x1612A, 0x1612C, 0x16130, 0x16139, 0x16A70, 0x16ABE, 0x16AC0, 0x16AC9,
        0x16D40, 0x16D79, 0x16EA0, 0x16EB8, 0x16EBB, 0x16ED3, 0x16FF2, 0x16FF6, 0x187F8, 0x187FF,
        0x18CFF, 0x18CFF, 0x18D09, 0x18D1E, 0x18D80, 0x18DF2, 0x1AFF0, 0x1AFF3, 0x1AFF5, 0x1AFFB,
        0x1AFFD, 0x1AFFE, 0x1B11F, 0x1B122, 0x1B132, 0x1B132, 0x1B155, 0x1B155, 0x1CC00, 0x1CCFC,
        0x1CD00, 0x1CEB3, 0x1CEBA, 0x1CED0, 0x1CEE0, 0x1CEF0, 0x1CF50, 0x1CFC3, 0x1D1E9, 0x1D1EA,
        0x1D2C0, 0x1D2D3, 0x1DF00, 0x1DF1E, 0x1DF25, 0x1DF2A, 0x1E030, 0x1E06D, 0x1E290, 0x1E2AD,
        0x1E4D0, 0x1E4EB, 0x1E4F0, 0x1E4F9, 0x1E5D0, 0x1E5ED, 0x1E5F0, 0x1E5FA, 0x1E5FF, 0x1E5FF,
        0x1E6C0, 0x1E6DE, 0x1E6E0, 0x1E6E2, 0x1E6E4, 0x1E6E5, 0x1E6E7, 0x1E6ED, 0x1E6F0, 0x1E6F4,
        0x1E6FE, 0x1E6FF, 0x1E7E0, 0x1E7E6, 0x1E7E8, 0x1E7EB, 0x1E7ED, 0x1E7EE, 0x1E7F0, 0x1E7FE,
        0x1F6D8, 0x1F6D8, 0x1F6DC, 0x1F6DF, 0x1F774, 0x1F77F, 0x1F7D9, 0x1F7D9, 0x1F7F0, 0x1F7F0,
        0x1F8B2, 0x1F8BB, 0x1F8C0, 0x1F8C1, 0x1F8D0, 0x1F8D8, 0x1F979, 0x1F979, 0x1F9CC, 0x1F9CC,
        0x1FA54, 0x1FA57, 0x1FA75, 0x1FA77, 0x1FA7B, 0x1FA7C, 0x1FA87, 0x1FA8A, 0x1FA8E, 0x1FA8F,
        0x1FAA9, 0x1FAAF, 0x1FAB7, 0x1FABF, 0x1FAC3, 0x1FAC6, 0x1FAC8, 0x1FAC8, 0x1FACD, 0x1FACF,
        0x1FAD7, 0x1FADC, 0x1FADF, 0x1FAEA, 0x1FAEF, 0x1FAF8, 0x1FBCB, 0x1FBEF, 0x1FBFA, 0x1FBFA,
        0x2A6DE, 0x2A6DF, 0x2B735, 0x2B73F, 0x2CEA2, 0x2CEAD, 0x2EBF0, 0x2EE5D, 0x31350, 0x33479,
    });

    /** A sorted list of inclusive code-point ranges. */
    static final class CodePointSet {
        private final int[] ranges;

        CodePointSet(int[] ranges) {
            this.ranges = ranges;
        }

        boolean contains(int c) {
            int lo = 0;
            int hi = ranges.length / 2 - 1;
            while (lo <= hi) {
                int mid = (lo + hi) >>> 1;
                if (c < ranges[2 * mid]) {
                    hi = mid - 1;
                } else if (c > ranges[2 * mid + 1]) {
                    lo = mid + 1;
                } else {
                    return true;
                }
            }
            return false;
        }
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
