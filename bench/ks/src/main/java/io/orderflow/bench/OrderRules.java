package io.orderflow.bench;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The order-validator's rules with their default thresholds, ported from the Rust
 * worker ({@code workers/order-validator/src/lib.rs}): the same reason codes, fields,
 * messages and order of reasons.
 *
 * <p>Money: Rust sums in 128 bits; here the sums run in 64-bit exact arithmetic and
 * fall back to {@link BigInteger} when any step overflows, which gives the same result.
 */
final class OrderRules {
    static final String NO_LINE_ITEMS = "NO_LINE_ITEMS";
    static final String TOO_MANY_LINE_ITEMS = "TOO_MANY_LINE_ITEMS";
    static final String INVALID_QUANTITY = "INVALID_QUANTITY";
    static final String NEGATIVE_PRICE = "NEGATIVE_PRICE";
    static final String INVALID_SKU = "INVALID_SKU";
    static final String DUPLICATE_SKU = "DUPLICATE_SKU";
    static final String AMOUNT_OVERFLOW = "AMOUNT_OVERFLOW";
    static final String NEGATIVE_AMOUNT = "NEGATIVE_AMOUNT";
    static final String TOTAL_MISMATCH = "TOTAL_MISMATCH";
    static final String UNKNOWN_CURRENCY = "UNKNOWN_CURRENCY";
    static final String CURRENCY_NOT_ALLOWED = "CURRENCY_NOT_ALLOWED";
    static final String INVALID_COUNTRY = "INVALID_COUNTRY";
    static final String INVALID_BILLING_COUNTRY = "INVALID_BILLING_COUNTRY";
    static final String INVALID_EMAIL = "INVALID_EMAIL";
    static final String FUTURE_TIMESTAMP = "FUTURE_TIMESTAMP";
    static final String EMPTY_ADDRESS = "EMPTY_ADDRESS";

    /** One broken rule. */
    record Reason(String code, String field, String message) {}

    /** One line of an order. */
    record Line(String sku, int quantity, long unitPrice) {}

    /** The address fields the rules look at. */
    record Address(String recipient, String line1, String city, String postalCode, String country) {}

    /** The parts of an OrderPlaced the rules look at. */
    record Order(
            List<Line> lines,
            String currency,
            long shipping,
            long tax,
            long discount,
            long total,
            Address address,
            String billingCountry,
            String customerEmail) {}

    // The defaults of the Rust worker's rules file (rules.rs).
    final long maxLineItems;
    final long maxQuantity;
    final long maxClockSkewMs;
    final List<String> allowedCurrencies;
    final boolean rejectDuplicateSkus;
    final List<String> postalCodeOptionalCountries;

    /** The default rules. */
    OrderRules() {
        this(100, 1000, 5 * 60 * 1000, List.of(), false, List.of());
    }

    OrderRules(
            long maxLineItems,
            long maxQuantity,
            long maxClockSkewMs,
            List<String> allowedCurrencies,
            boolean rejectDuplicateSkus,
            List<String> postalCodeOptionalCountries) {
        this.maxLineItems = maxLineItems;
        this.maxQuantity = maxQuantity;
        this.maxClockSkewMs = maxClockSkewMs;
        this.allowedCurrencies = allowedCurrencies;
        this.rejectDuplicateSkus = rejectDuplicateSkus;
        this.postalCodeOptionalCountries = postalCodeOptionalCountries;
    }

    /**
     * Every rule {@code order} breaks, in rule order, judged at {@code now} (epoch
     * milliseconds); empty when the order is valid.
     */
    List<Reason> validate(Order order, long occurredAt, long now) {
        List<Reason> reasons = new ArrayList<>(0);
        int examined = examinedLines(order);
        checkLines(order, examined, reasons);
        checkAmounts(order, examined, reasons);
        checkCurrency(order.currency(), reasons);
        checkCountry(INVALID_COUNTRY, "shipping_address.country", order.address().country(), reasons);
        checkCountry(INVALID_BILLING_COUNTRY, "billing_country", order.billingCountry(), reasons);
        String problem = Email.problem(order.customerEmail());
        if (problem != null) {
            reasons.add(new Reason(
                    INVALID_EMAIL, "customer_email", RustText.quote(order.customerEmail()) + " " + problem));
        }
        long latest = saturatingAdd(now, maxClockSkewMs);
        if (occurredAt > latest) {
            BigInteger ahead = BigInteger.valueOf(occurredAt).subtract(BigInteger.valueOf(now));
            reasons.add(new Reason(
                    FUTURE_TIMESTAMP,
                    "occurred_at",
                    "occurred_at " + occurredAt + " is " + ahead + " ms ahead of now (" + now
                            + "); at most " + maxClockSkewMs + " ms of clock skew is allowed"));
        }
        checkAddress(order.address(), reasons);
        return reasons;
    }

    private int examinedLines(Order order) {
        return (int) Math.min(order.lines().size(), maxLineItems);
    }

    private void checkLines(Order order, int examined, List<Reason> reasons) {
        List<Line> lines = order.lines();
        if (lines.isEmpty()) {
            reasons.add(new Reason(NO_LINE_ITEMS, "line_items", "the order has no line items"));
        }
        if (lines.size() > maxLineItems) {
            reasons.add(new Reason(
                    TOO_MANY_LINE_ITEMS,
                    "line_items",
                    "the order has " + lines.size() + " line items, at most " + maxLineItems
                            + " are allowed"));
        }
        for (int i = 0; i < examined; i++) {
            long quantity = lines.get(i).quantity();
            if (quantity <= 0 || quantity > maxQuantity) {
                reasons.add(new Reason(
                        INVALID_QUANTITY,
                        "line_items[" + i + "].quantity",
                        "quantity " + quantity + " is not between 1 and " + maxQuantity));
            }
        }
        for (int i = 0; i < examined; i++) {
            long price = lines.get(i).unitPrice();
            if (price < 0) {
                reasons.add(new Reason(
                        NEGATIVE_PRICE, "line_items[" + i + "].unit_price", "unit_price " + price + " is negative"));
            }
        }
        for (int i = 0; i < examined; i++) {
            if (RustText.isBlank(lines.get(i).sku())) {
                reasons.add(new Reason(INVALID_SKU, "line_items[" + i + "].sku", "sku is empty"));
            }
        }
        if (rejectDuplicateSkus) {
            Map<String, Integer> firstLine = new HashMap<>();
            for (int i = 0; i < examined; i++) {
                String sku = lines.get(i).sku();
                if (RustText.isBlank(sku)) {
                    continue;
                }
                Integer first = firstLine.putIfAbsent(sku, i);
                if (first != null) {
                    reasons.add(new Reason(
                            DUPLICATE_SKU,
                            "line_items[" + i + "].sku",
                            "sku " + RustText.quote(sku) + " is already on line_items[" + first + "]"));
                }
            }
        }
    }

    /** AMOUNT_OVERFLOW, NEGATIVE_AMOUNT and TOTAL_MISMATCH. */
    private static void checkAmounts(Order order, int examined, List<Reason> reasons) {
        boolean overflowed = false;
        boolean sumFits = true;
        boolean expectedFits = true;
        long lines = 0;
        long expected = 0;
        try {
            for (Line line : order.lines()) {
                lines = Math.addExact(lines, Math.multiplyExact((long) line.quantity(), line.unitPrice()));
            }
            expected = Math.subtractExact(
                    Math.addExact(Math.addExact(lines, order.shipping()), order.tax()), order.discount());
        } catch (ArithmeticException e) {
            // Some product or sum left 64 bits: redo it all exactly, as Rust's i128 does.
            BigInteger sum = BigInteger.ZERO;
            for (int i = 0; i < order.lines().size(); i++) {
                Line line = order.lines().get(i);
                BigInteger amount = BigInteger.valueOf(line.quantity()).multiply(BigInteger.valueOf(line.unitPrice()));
                if (i < examined && amount.bitLength() > 63) {
                    overflowed = true;
                    reasons.add(new Reason(
                            AMOUNT_OVERFLOW,
                            "line_items[" + i + "]",
                            "quantity " + line.quantity() + " \u00d7 unit_price " + line.unitPrice()
                                    + " does not fit in 64 bits"));
                }
                sum = sum.add(amount);
            }
            sumFits = sum.bitLength() <= 63;
            if (!sumFits && !overflowed) {
                overflowed = true;
                reasons.add(new Reason(
                        AMOUNT_OVERFLOW, "line_items", "the sum of the line amounts does not fit in 64 bits"));
            }
            if (sumFits) {
                lines = sum.longValue();
                BigInteger exact = sum.add(BigInteger.valueOf(order.shipping()))
                        .add(BigInteger.valueOf(order.tax()))
                        .subtract(BigInteger.valueOf(order.discount()));
                expectedFits = exact.bitLength() <= 63;
                expected = exact.longValue();
            } else {
                expectedFits = false;
            }
            if (!expectedFits && !overflowed) {
                overflowed = true;
                reasons.add(new Reason(
                        AMOUNT_OVERFLOW, "total", "lines + shipping + tax - discount does not fit in 64 bits"));
            }
        }

        negative("shipping", order.shipping(), reasons);
        negative("tax", order.tax(), reasons);
        negative("discount", order.discount(), reasons);
        negative("total", order.total(), reasons);

        if (!overflowed && expectedFits && expected != order.total()) {
            reasons.add(new Reason(
                    TOTAL_MISMATCH,
                    "total",
                    "expected " + expected + " (lines " + lines + " + shipping " + order.shipping() + " + tax "
                            + order.tax() + " - discount " + order.discount() + "), got " + order.total()));
        }
    }

    private static void negative(String field, long amount, List<Reason> reasons) {
        if (amount < 0) {
            reasons.add(new Reason(NEGATIVE_AMOUNT, field, field + " " + amount + " is negative"));
        }
    }

    private void checkCurrency(String currency, List<Reason> reasons) {
        if (!Iso.isCurrency(currency)) {
            String upper = RustText.toAsciiUppercase(currency);
            String message;
            if (!upper.equals(currency) && Iso.isCurrency(upper)) {
                message = RustText.quote(currency) + " is not an ISO 4217 currency code: codes are upper case ("
                        + upper + ")";
            } else {
                message = RustText.quote(currency) + " is not an active ISO 4217 currency code";
            }
            reasons.add(new Reason(UNKNOWN_CURRENCY, "currency", message));
        } else if (!allowedCurrencies.isEmpty() && !allowedCurrencies.contains(currency)) {
            reasons.add(new Reason(
                    CURRENCY_NOT_ALLOWED,
                    "currency",
                    currency + " is not accepted; allowed: " + String.join(", ", allowedCurrencies)));
        }
    }

    private static void checkCountry(String code, String field, String country, List<Reason> reasons) {
        if (Iso.isCountry(country)) {
            return;
        }
        String upper = RustText.toAsciiUppercase(country);
        String message;
        if (!upper.equals(country) && Iso.isCountry(upper)) {
            message = RustText.quote(country)
                    + " is not an ISO 3166-1 alpha-2 country code: codes are upper case (" + upper + ")";
        } else {
            message = RustText.quote(country) + " is not an ISO 3166-1 alpha-2 country code";
        }
        reasons.add(new Reason(code, field, message));
    }

    private void checkAddress(Address address, List<Reason> reasons) {
        boolean postalCodeOptional = postalCodeOptionalCountries.contains(address.country());
        emptyAddress("recipient", address.recipient(), true, reasons);
        emptyAddress("line1", address.line1(), true, reasons);
        emptyAddress("city", address.city(), true, reasons);
        emptyAddress("postal_code", address.postalCode(), !postalCodeOptional, reasons);
    }

    private static void emptyAddress(String name, String value, boolean required, List<Reason> reasons) {
        if (required && RustText.isBlank(value)) {
            reasons.add(new Reason(EMPTY_ADDRESS, "shipping_address." + name, "shipping address " + name + " is empty"));
        }
    }

    private static long saturatingAdd(long a, long b) {
        long r = a + b;
        if (((a ^ r) & (b ^ r)) < 0) {
            return a < 0 ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
        return r;
    }
}
