//! The cancel-reason template: text with `{reason_code}` and `{payment_id}`
//! placeholders, parsed once at start so that a typo is refused before the first event.

/// The placeholders a cancel reason may use.
pub const PLACEHOLDERS: [&str; 2] = ["reason_code", "payment_id"];

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Text copied as it is.
    Text(String),
    /// The failure's reason code.
    ReasonCode,
    /// The failed payment's id.
    PaymentId,
}

/// A parsed cancel-reason template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonTemplate {
    pieces: Vec<Piece>,
}

impl ReasonTemplate {
    /// Parses `text`. `{{` and `}}` stand for literal braces; any other brace must
    /// enclose a known placeholder. The error says what is wrong, without the key.
    pub fn parse(text: &str) -> Result<ReasonTemplate, String> {
        if text.trim().is_empty() {
            return Err("must not be empty".into());
        }
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        name.push(c);
                    }
                    if !closed {
                        return Err(format!(
                            "{{{name} is not closed (write {{{{ for a literal brace)"
                        ));
                    }
                    let piece = match name.as_str() {
                        "reason_code" => Piece::ReasonCode,
                        "payment_id" => Piece::PaymentId,
                        _ => {
                            return Err(format!(
                                "unknown placeholder {{{name}}} (known: {{{}}}, {{{}}}; \
                                 write {{{{ and }}}} for literal braces)",
                                PLACEHOLDERS[0], PLACEHOLDERS[1]
                            ));
                        }
                    };
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(piece);
                }
                '}' => return Err("a lone } (write }} for a literal brace)".into()),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(ReasonTemplate { pieces })
    }

    /// The template filled in from a payment failure.
    pub fn render(&self, reason_code: &str, payment_id: &str) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            out.push_str(match piece {
                Piece::Text(text) => text,
                Piece::ReasonCode => reason_code,
                Piece::PaymentId => payment_id,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_in_and_text_is_kept() {
        for (template, expected) in [
            ("{reason_code}", "card_declined"),
            (
                "payment_failed:{reason_code}",
                "payment_failed:card_declined",
            ),
            (
                "payment {payment_id} failed ({reason_code})",
                "payment pay-7 failed (card_declined)",
            ),
            ("{reason_code}{reason_code}", "card_declinedcard_declined"),
            ("no placeholder", "no placeholder"),
            ("{{literal}} {reason_code}", "{literal} card_declined"),
            ("ünïcødé ✓ {payment_id}", "ünïcødé ✓ pay-7"),
        ] {
            let parsed = ReasonTemplate::parse(template).unwrap();
            assert_eq!(
                parsed.render("card_declined", "pay-7"),
                expected,
                "{template}"
            );
        }
    }

    #[test]
    fn a_placeholder_value_is_not_read_as_a_template() {
        let parsed = ReasonTemplate::parse("failed: {reason_code}").unwrap();
        assert_eq!(parsed.render("{payment_id}", "p"), "failed: {payment_id}");
    }

    #[test]
    fn malformed_templates_are_refused_with_the_reason() {
        for (template, says) in [
            ("", "empty"),
            ("   ", "empty"),
            ("{reason}", "unknown placeholder {reason}"),
            ("{REASON_CODE}", "unknown placeholder {REASON_CODE}"),
            ("{}", "unknown placeholder {}"),
            ("open {reason_code", "{reason_code is not closed"),
            ("close }", "lone }"),
        ] {
            let error = ReasonTemplate::parse(template).unwrap_err();
            assert!(error.contains(says), "{template:?}: {error}");
        }
    }
}
