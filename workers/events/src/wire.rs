//! The two wire formats: how a message's first bytes name the writer's schema.
//!
//! - Confluent framing: `0x00`, a 4-byte big-endian schema id, the Avro datum. Written
//!   by the Confluent serializers of Java, Python, Go, .NET and Node.
//! - Avro single-object encoding: `0xC3 0x01`, the 8-byte little-endian CRC-64-AVRO
//!   fingerprint of the writer schema, the Avro datum. Needs no registry.

use crate::error::CodecError;

/// Magic byte of Confluent framing.
pub const CONFLUENT_MAGIC: u8 = 0x00;
/// Marker of Avro single-object encoding.
pub const SINGLE_OBJECT_MARKER: [u8; 2] = [0xC3, 0x01];

/// How a message names its writer schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaRef {
    /// A Confluent Schema Registry id.
    RegistryId(u32),
    /// A CRC-64-AVRO fingerprint.
    Fingerprint(u64),
}

impl std::fmt::Display for SchemaRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SchemaRef::RegistryId(id) => write!(f, "id:{id}"),
            SchemaRef::Fingerprint(fp) => write!(f, "fingerprint:{fp:#018x}"),
        }
    }
}

impl std::str::FromStr for SchemaRef {
    type Err = String;

    /// Reads what [`SchemaRef`]'s `Display` writes: `id:N` or `fingerprint:0x<16 hex>`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wrong = || {
            format!(
                "{text:?} names no schema: use id:N (a registry id) or fingerprint:0x... (16 \
                 hex digits, the CRC-64-AVRO fingerprint)"
            )
        };
        if let Some(id) = text.strip_prefix("id:") {
            return id.parse().map(SchemaRef::RegistryId).map_err(|_| wrong());
        }
        let hex = text
            .strip_prefix("fingerprint:0x")
            .filter(|hex| hex.len() == 16)
            .ok_or_else(wrong)?;
        u64::from_str_radix(hex, 16)
            .map(SchemaRef::Fingerprint)
            .map_err(|_| wrong())
    }
}

/// Which wire format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireFormat {
    /// Confluent framing with a registry schema id.
    Confluent,
    /// Avro single-object encoding.
    SingleObject,
}

impl WireFormat {
    /// The setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            WireFormat::Confluent => "confluent",
            WireFormat::SingleObject => "single-object",
        }
    }
}

impl std::str::FromStr for WireFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "confluent" => Ok(WireFormat::Confluent),
            "single-object" => Ok(WireFormat::SingleObject),
            other => Err(format!(
                "unknown output format '{other}': use confluent or single-object"
            )),
        }
    }
}

/// Splits a message into the schema reference and the Avro datum.
pub fn split(bytes: &[u8]) -> Result<(SchemaRef, &[u8]), CodecError> {
    match bytes {
        [] => Err(CodecError::UnknownFormat("empty payload".into())),
        [CONFLUENT_MAGIC, rest @ ..] => {
            let (id, datum) = rest.split_first_chunk::<4>().ok_or_else(|| {
                CodecError::Malformed(format!(
                    "Confluent framing needs a 4-byte schema id, found {} bytes",
                    rest.len()
                ))
            })?;
            Ok((SchemaRef::RegistryId(u32::from_be_bytes(*id)), datum))
        }
        [0xC3, 0x01, rest @ ..] => {
            let (fp, datum) = rest.split_first_chunk::<8>().ok_or_else(|| {
                CodecError::Malformed(format!(
                    "single-object encoding needs an 8-byte fingerprint, found {} bytes",
                    rest.len()
                ))
            })?;
            Ok((SchemaRef::Fingerprint(u64::from_le_bytes(*fp)), datum))
        }
        [first, ..] => Err(CodecError::UnknownFormat(format!(
            "first byte {first:#04x} is neither 0x00 (Confluent) nor 0xc3 0x01 (single-object)"
        ))),
    }
}

/// The schema reference of a message, when its header is readable.
pub fn peek(bytes: &[u8]) -> Option<SchemaRef> {
    split(bytes).ok().map(|(schema, _)| schema)
}

/// Appends the header naming `schema` to `out`.
pub fn write_header(schema: SchemaRef, out: &mut Vec<u8>) {
    match schema {
        SchemaRef::RegistryId(id) => {
            out.push(CONFLUENT_MAGIC);
            out.extend_from_slice(&id.to_be_bytes());
        }
        SchemaRef::Fingerprint(fp) => {
            out.extend_from_slice(&SINGLE_OBJECT_MARKER);
            out.extend_from_slice(&fp.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        for schema in [
            SchemaRef::RegistryId(0x0102_0304),
            SchemaRef::Fingerprint(0xdead_beef_cafe),
        ] {
            let mut bytes = Vec::new();
            write_header(schema, &mut bytes);
            bytes.extend_from_slice(b"datum");
            assert_eq!(split(&bytes).unwrap(), (schema, &b"datum"[..]));
            assert_eq!(schema.to_string().parse::<SchemaRef>(), Ok(schema));
        }
        assert_eq!(
            SchemaRef::Fingerprint(1).to_string(),
            "fingerprint:0x0000000000000001"
        );
        for bad in [
            "id:",
            "id:-1",
            "fingerprint:0x1",
            "fingerprint:12345678901234567",
            "7",
        ] {
            assert!(
                bad.parse::<SchemaRef>().unwrap_err().contains("id:N"),
                "{bad}"
            );
        }
    }

    #[test]
    fn confluent_id_is_big_endian_and_fingerprint_little_endian() {
        assert_eq!(
            split(&[0, 0, 0, 1, 0]).unwrap().0,
            SchemaRef::RegistryId(256)
        );
        let so = [0xC3, 0x01, 1, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(split(&so).unwrap().0, SchemaRef::Fingerprint(1));
    }
}
