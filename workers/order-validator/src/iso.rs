//! The ISO code lists the validator checks against: ISO 4217 currencies and
//! ISO 3166-1 alpha-2 countries. Codes match exactly, upper case only.
//!
//! Both lists are sorted so a lookup is a binary search; a test keeps them sorted.

/// Active ISO 4217 codes of money an order can be priced in (ISO 4217 list one as of
/// 2026): every national and regional currency, plus the fund codes (BOV, CHE, CHW,
/// CLF, COU, MXV, USN, UYI, UYW).
///
/// Left out on purpose, although list one carries them: precious metals (XAU, XAG,
/// XPD, XPT), bond-market units (XBA to XBD), XDR, XSU, XUA, the testing code XTS and
/// XXX ("no currency"); no shop prices an order in them. Withdrawn codes are out
/// too: ANG (replaced by XCG), BGN (Bulgaria uses EUR), CUC, HRK, SLL (replaced by
/// SLE) and ZWL (replaced by ZWG).
const CURRENCIES: [&str; 164] = [
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BHD",
    "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF",
    "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DJF",
    "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP",
    "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR",
    "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT",
    "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP",
    "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR",
    "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB",
    "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN",
    "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH",
    "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV", "WST", "XAF",
    "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// The 249 officially assigned ISO 3166-1 alpha-2 codes. Reserved codes such as UK,
/// EU and the user-assigned XK (Kosovo) are not among them.
const COUNTRIES: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// True when `code` is an active ISO 4217 currency code, exactly (upper case).
pub fn is_currency(code: &str) -> bool {
    CURRENCIES.binary_search(&code).is_ok()
}

/// True when `code` is an officially assigned ISO 3166-1 alpha-2 country code,
/// exactly (upper case).
pub fn is_country(code: &str) -> bool {
    COUNTRIES.binary_search(&code).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_sorted_codes(list: &[&str], len: usize) {
        for pair in list.windows(2) {
            assert!(
                pair[0] < pair[1],
                "{} must come before {}",
                pair[0],
                pair[1]
            );
        }
        for code in list {
            assert_eq!(code.len(), len, "{code}");
            assert!(code.bytes().all(|b| b.is_ascii_uppercase()), "{code}");
        }
    }

    #[test]
    fn lists_are_sorted_unique_upper_case_codes() {
        assert_sorted_codes(&CURRENCIES, 3);
        assert_sorted_codes(&COUNTRIES, 2);
        assert_eq!(COUNTRIES.len(), 249);
        assert!(CURRENCIES.len() >= 150);
    }

    #[test]
    fn lookups_are_exact_and_case_sensitive() {
        let cases = [
            ("EUR", true, false),
            ("USD", true, false),
            ("JPY", true, false),
            ("XCG", true, false),
            ("eur", false, false),
            ("Eur", false, false),
            ("XYZ", false, false),
            ("XXX", false, false),
            ("HRK", false, false),
            ("EUR ", false, false),
            ("", false, false),
            ("DE", false, true),
            ("GB", false, true),
            ("AX", false, true),
            ("de", false, false),
            ("UK", false, false),
            ("XX", false, false),
            ("XK", false, false),
            ("DEU", false, false),
        ];
        for (code, currency, country) in cases {
            assert_eq!(is_currency(code), currency, "is_currency({code:?})");
            assert_eq!(is_country(code), country, "is_country({code:?})");
        }
    }
}
