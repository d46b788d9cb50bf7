//! Kafka record headers as the protocol defines them: a name of any bytes and a value
//! that may be null, in record order, names repeatable.
//!
//! rust-rdkafka's header accessors turn each name into a `&str` with an `unwrap`, so a
//! record whose header name is not UTF-8 (legal on the wire, and written by clients in
//! other languages) panics whoever reads it; its writer takes names as `&str` only.
//! [`read`] and [`to_kafka`] go through librdkafka's header API instead and never
//! assume text. librdkafka hands names out NUL-terminated: a name with a NUL byte
//! reads up to that byte.

use std::borrow::Cow;
use std::ffi::CStr;

use rdkafka::bindings::{rd_kafka_header_add, rd_kafka_header_get_all, rd_kafka_headers_t};
use rdkafka::message::{BorrowedHeaders, Header, Headers, Message, OwnedHeaders};

/// One record header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordHeader {
    /// The name: usually text, but any bytes.
    pub name: Vec<u8>,
    /// The value; `None` is a null value, distinct from an empty one.
    pub value: Option<Vec<u8>>,
}

impl RecordHeader {
    /// A header with a text name and a value.
    pub fn new(name: &str, value: impl Into<Vec<u8>>) -> RecordHeader {
        RecordHeader {
            name: name.as_bytes().to_vec(),
            value: Some(value.into()),
        }
    }

    /// Whether this header is called `name`.
    pub fn is(&self, name: &str) -> bool {
        self.name == name.as_bytes()
    }

    /// The name as text, invalid UTF-8 sequences replaced.
    pub fn name_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.name)
    }

    /// Bytes the header takes in a record, roughly (name, value, length fields).
    pub fn size(&self) -> usize {
        self.name.len() + self.value.as_ref().map_or(0, Vec::len) + 8
    }
}

/// The first header called `name` among `headers`, with its value (`Some(None)` for a
/// null value).
pub fn find<'a>(headers: &'a [RecordHeader], name: &str) -> Option<Option<&'a [u8]>> {
    headers
        .iter()
        .find(|h| h.is(name))
        .map(|h| h.value.as_deref())
}

/// Header lists librdkafka hands out, borrowed or owned.
pub trait NativeHeaders {
    /// The borrowed view librdkafka's calls take.
    fn borrowed(&self) -> &BorrowedHeaders;
}

impl NativeHeaders for BorrowedHeaders {
    fn borrowed(&self) -> &BorrowedHeaders {
        self
    }
}

impl NativeHeaders for OwnedHeaders {
    fn borrowed(&self) -> &BorrowedHeaders {
        self.as_borrowed()
    }
}

/// The headers of `message`, in order; empty when it has none.
pub fn read<M>(message: &M) -> Vec<RecordHeader>
where
    M: Message,
    M::Headers: NativeHeaders,
{
    message
        .headers()
        .map_or_else(Vec::new, |h| read_list(h.borrowed()))
}

/// Every header of a librdkafka header list.
pub fn read_list(headers: &BorrowedHeaders) -> Vec<RecordHeader> {
    let native = native(headers);
    (0..headers.count())
        .filter_map(|index| {
            let mut name = std::ptr::null();
            let mut value = std::ptr::null();
            let mut size = 0usize;
            // SAFETY: `native` points to the live header list `headers` borrows (rdkafka's
            // `BorrowedHeaders` is a zero-sized stand-in for that pointer, as its own
            // accessors use it); librdkafka writes a NUL-terminated name, a value pointer
            // (null for a null value) and the value's size into the locals, all valid
            // while `headers` is borrowed, and copied below before the borrow ends.
            #[allow(unsafe_code)]
            let (error, name, value) = unsafe {
                let error =
                    rd_kafka_header_get_all(native, index, &mut name, &mut value, &mut size);
                if error != rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR
                    || name.is_null()
                {
                    (true, Vec::new(), None)
                } else {
                    let name = CStr::from_ptr(name).to_bytes().to_vec();
                    let value = (!value.is_null())
                        .then(|| std::slice::from_raw_parts(value.cast::<u8>(), size).to_vec());
                    (false, name, value)
                }
            };
            (!error).then_some(RecordHeader { name, value })
        })
        .collect()
}

/// `headers` as a librdkafka header list for a record to produce.
pub fn to_kafka(headers: &[RecordHeader]) -> OwnedHeaders {
    let mut list = OwnedHeaders::new_with_capacity(headers.len());
    for header in headers {
        match std::str::from_utf8(&header.name) {
            Ok(name) => {
                list = list.insert(Header {
                    key: name,
                    value: header.value.as_deref(),
                });
            }
            Err(_) => add_raw(&list, header),
        }
    }
    list
}

/// Adds a header whose name is not UTF-8, which rdkafka's `insert` cannot take.
fn add_raw(list: &OwnedHeaders, header: &RecordHeader) {
    let native = native(list.as_borrowed());
    let (value, value_len) = match &header.value {
        Some(value) => (value.as_ptr().cast::<libc::c_void>(), value.len() as isize),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: `native` is the header list `list` owns, alive for this call; librdkafka
    // copies `name_len` bytes of the name and `value_len` bytes of the value (none for a
    // null value) before returning, so the borrowed buffers may go away afterwards. The
    // only error it reports is for a read-only list, which an `OwnedHeaders` never is.
    #[allow(unsafe_code)]
    unsafe {
        rd_kafka_header_add(
            native,
            header.name.as_ptr().cast::<libc::c_char>(),
            header.name.len() as isize,
            value,
            value_len,
        );
    }
}

fn native(headers: &BorrowedHeaders) -> *mut rd_kafka_headers_t {
    (headers as *const BorrowedHeaders)
        .cast_mut()
        .cast::<rd_kafka_headers_t>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header(name: &[u8], value: Option<&[u8]>) -> RecordHeader {
        RecordHeader {
            name: name.to_vec(),
            value: value.map(<[u8]>::to_vec),
        }
    }

    #[test]
    fn null_empty_and_text_values_and_binary_names_survive_a_round_trip() {
        let headers = vec![
            header(b"n", None),
            header(b"e", Some(b"")),
            header(b"x", Some(b"1")),
            header(b"\xff\xfe not utf-8", Some(b"\x00\x9f")),
            header(b"", Some(b"empty name")),
            header(b"x", Some(b"repeated")),
        ];
        let list = to_kafka(&headers);
        assert_eq!(read_list(list.as_borrowed()), headers);
    }

    #[test]
    fn a_name_with_a_nul_byte_reads_up_to_it() {
        let list = to_kafka(&[header(b"ab\0cd", Some(b"v"))]);
        assert_eq!(
            read_list(list.as_borrowed()),
            vec![header(b"ab", Some(b"v"))]
        );
    }

    #[test]
    fn find_tells_a_null_value_from_a_missing_header() {
        let headers = vec![header(b"n", None), header(b"x", Some(b"1"))];
        assert_eq!(find(&headers, "n"), Some(None));
        assert_eq!(find(&headers, "x"), Some(Some(&b"1"[..])));
        assert_eq!(find(&headers, "missing"), None);
    }

    proptest! {
        #[test]
        fn any_headers_without_nul_in_names_round_trip(
            headers in proptest::collection::vec(
                (
                    proptest::collection::vec(1u8..=255, 0..24),
                    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
                ),
                0..12,
            )
        ) {
            let headers: Vec<RecordHeader> = headers
                .into_iter()
                .map(|(name, value)| RecordHeader { name, value })
                .collect();
            let list = to_kafka(&headers);
            prop_assert_eq!(read_list(list.as_borrowed()), headers);
        }
    }
}
