package io.orderflow.bench;

/**
 * Whether an email address is well formed: the same shape check as the Rust worker's
 * {@code email.rs}, with the same problem texts. Lengths are in UTF-8 bytes and
 * characters are code points, as in Rust.
 */
final class Email {
    private Email() {}

    private static final int MAX_ADDRESS_BYTES = 254;
    private static final int MAX_LOCAL_BYTES = 64;
    private static final String LOCAL_SPECIALS = "!#$%&'*+-/=?^_`{|}~";

    /** Why {@code address} is not a well-formed address, or null when it is. */
    static String problem(String address) {
        if (address.isEmpty()) {
            return "is empty";
        }
        if (RustText.utf8Length(address) > MAX_ADDRESS_BYTES) {
            return "is longer than 254 bytes";
        }
        int at = -1;
        int ats = 0;
        for (int i = 0; i < address.length(); ) {
            int c = address.codePointAt(i);
            if (RustText.isWhitespace(c) || RustText.isControl(c)) {
                return "contains whitespace or a control character";
            }
            if (c == '@') {
                ats++;
                at = i;
            }
            i += Character.charCount(c);
        }
        if (ats != 1) {
            return "must contain exactly one '@'";
        }
        String local = address.substring(0, at);
        String domain = address.substring(at + 1);
        String problem = localProblem(local);
        return problem != null ? problem : domainProblem(domain);
    }

    private static String localProblem(String local) {
        if (local.isEmpty()) {
            return "has an empty local part";
        }
        if (RustText.utf8Length(local) > MAX_LOCAL_BYTES) {
            return "has a local part longer than 64 bytes";
        }
        if (local.startsWith(".") || local.endsWith(".") || local.contains("..")) {
            return "has a local part with a leading, trailing or doubled dot";
        }
        for (int i = 0; i < local.length(); ) {
            int c = local.codePointAt(i);
            boolean allowed = RustText.isAsciiAlphanumeric(c)
                    || c == '.'
                    || (c < 0x80 && LOCAL_SPECIALS.indexOf(c) >= 0)
                    || isWordChar(c);
            if (!allowed) {
                return "has a character not allowed in the local part";
            }
            i += Character.charCount(c);
        }
        return null;
    }

    private static String domainProblem(String domain) {
        if (domain.isEmpty()) {
            return "has an empty domain";
        }
        if (domain.indexOf('.') < 0) {
            return "has a domain without a dot";
        }
        int start = 0;
        while (true) {
            int dot = domain.indexOf('.', start);
            int end = dot < 0 ? domain.length() : dot;
            String problem = labelProblem(domain, start, end);
            if (problem != null) {
                return problem;
            }
            if (dot < 0) {
                break;
            }
            start = dot + 1;
        }
        String tld = domain.substring(domain.lastIndexOf('.') + 1);
        if (tld.codePointCount(0, tld.length()) < 2) {
            return "has a top-level domain shorter than 2 characters";
        }
        boolean numeric = true;
        for (int i = 0; i < tld.length(); i++) {
            char ch = tld.charAt(i);
            if (ch < '0' || ch > '9') {
                numeric = false;
                break;
            }
        }
        if (numeric) {
            return "has a numeric top-level domain";
        }
        return null;
    }

    private static String labelProblem(String domain, int start, int end) {
        if (start == end) {
            return "has an empty domain label (a leading, trailing or doubled dot)";
        }
        if (domain.charAt(start) == '-' || domain.charAt(end - 1) == '-') {
            return "has a domain label that starts or ends with a hyphen";
        }
        for (int i = start; i < end; ) {
            int c = domain.codePointAt(i);
            if (!(RustText.isAsciiAlphanumeric(c) || c == '-' || isWordChar(c))) {
                return "has a domain character other than a letter, digit or hyphen";
            }
            i += Character.charCount(c);
        }
        return null;
    }

    /**
     * A non-ASCII character that can be part of a word: a letter or digit of any script,
     * or a character of a script block; not Latin-1 punctuation, the general punctuation
     * and symbol blocks, CJK and full-width punctuation, or specials.
     */
    static boolean isWordChar(int c) {
        if (c < 0x80) {
            return false;
        }
        if (RustText.isAlphanumeric(c) || c == 0x200C || c == 0x200D) {
            return true;
        }
        return !((c >= 0x80 && c <= 0xBF)
                || c == 0xD7
                || c == 0xF7
                || (c >= 0x2000 && c <= 0x2BFF)
                || (c >= 0x3000 && c <= 0x303F)
                || (c >= 0xFE10 && c <= 0xFE6F)
                || (c >= 0xFF00 && c <= 0xFF20)
                || (c >= 0xFF3B && c <= 0xFF40)
                || (c >= 0xFF5B && c <= 0xFF65)
                || (c >= 0xFFF0 && c <= 0xFFFF));
    }
}
