//! MQTT 5.0 properties (§2.2.2): a varint length, then identifier/value pairs. Kept as the
//! validated byte range and decoded lazily into the typed [`Property`] list, so parsing a message
//! allocates nothing.
//!
//! Promise: [`Properties::iter`] only walks bytes that were validated at parse time, so it yields
//! every property that was well-formed and stops at the first that was not (which produced a
//! finding).

use super::reader::{FieldError, Reader};
use super::types::{MqttStr, Secret};
use crate::finding::{FindingKind, FindingSet};

/// One typed v5 property. Identifiers and value types follow the table in MQTT 5.0 §2.2.2.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // each variant is the spec property of the same name
pub enum Property<'a> {
    PayloadFormatIndicator(u8),
    MessageExpiryInterval(u32),
    ContentType(MqttStr<'a>),
    ResponseTopic(MqttStr<'a>),
    CorrelationData(&'a [u8]),
    SubscriptionIdentifier(u32),
    SessionExpiryInterval(u32),
    AssignedClientIdentifier(MqttStr<'a>),
    ServerKeepAlive(u16),
    AuthenticationMethod(MqttStr<'a>),
    /// Authentication data may be a credential: redacted in `Debug`.
    AuthenticationData(Secret<'a>),
    RequestProblemInformation(u8),
    WillDelayInterval(u32),
    RequestResponseInformation(u8),
    ResponseInformation(MqttStr<'a>),
    ServerReference(MqttStr<'a>),
    ReasonString(MqttStr<'a>),
    ReceiveMaximum(u16),
    TopicAliasMaximum(u16),
    TopicAlias(u16),
    MaximumQos(u8),
    RetainAvailable(u8),
    UserProperty(MqttStr<'a>, MqttStr<'a>),
    MaximumPacketSize(u32),
    WildcardSubscriptionAvailable(u8),
    SubscriptionIdentifierAvailable(u8),
    SharedSubscriptionAvailable(u8),
}

impl Property<'_> {
    /// The property identifier byte.
    pub fn id(&self) -> u8 {
        match self {
            Property::PayloadFormatIndicator(_) => 0x01,
            Property::MessageExpiryInterval(_) => 0x02,
            Property::ContentType(_) => 0x03,
            Property::ResponseTopic(_) => 0x08,
            Property::CorrelationData(_) => 0x09,
            Property::SubscriptionIdentifier(_) => 0x0b,
            Property::SessionExpiryInterval(_) => 0x11,
            Property::AssignedClientIdentifier(_) => 0x12,
            Property::ServerKeepAlive(_) => 0x13,
            Property::AuthenticationMethod(_) => 0x15,
            Property::AuthenticationData(_) => 0x16,
            Property::RequestProblemInformation(_) => 0x17,
            Property::WillDelayInterval(_) => 0x18,
            Property::RequestResponseInformation(_) => 0x19,
            Property::ResponseInformation(_) => 0x1a,
            Property::ServerReference(_) => 0x1c,
            Property::ReasonString(_) => 0x1f,
            Property::ReceiveMaximum(_) => 0x21,
            Property::TopicAliasMaximum(_) => 0x22,
            Property::TopicAlias(_) => 0x23,
            Property::MaximumQos(_) => 0x24,
            Property::RetainAvailable(_) => 0x25,
            Property::UserProperty(_, _) => 0x26,
            Property::MaximumPacketSize(_) => 0x27,
            Property::WildcardSubscriptionAvailable(_) => 0x28,
            Property::SubscriptionIdentifierAvailable(_) => 0x29,
            Property::SharedSubscriptionAvailable(_) => 0x2a,
        }
    }
}

/// Why one property could not be read.
enum PropertyError {
    UnknownId,
    Overrun,
}

/// Read one property. Findings for string contents go to `findings`.
fn read_property<'a>(
    r: &mut Reader<'a>,
    findings: &mut FindingSet,
) -> Result<Property<'a>, PropertyError> {
    const F: &str = "property";
    let id = r.u8(F).map_err(|_| PropertyError::Overrun)?;
    let o = |_: FieldError| PropertyError::Overrun;
    let mut s = |r: &mut Reader<'a>| -> Result<MqttStr<'a>, PropertyError> {
        r.string(F, findings).map_err(|_| PropertyError::Overrun)
    };
    Ok(match id {
        0x01 => Property::PayloadFormatIndicator(r.u8(F).map_err(o)?),
        0x02 => Property::MessageExpiryInterval(r.u32(F).map_err(o)?),
        0x03 => Property::ContentType(s(r)?),
        0x08 => Property::ResponseTopic(s(r)?),
        0x09 => Property::CorrelationData(r.binary(F).map_err(o)?),
        0x0b => {
            let mut scratch = FindingSet::EMPTY;
            let v = r.varint(F, &mut scratch).map_err(o)?;
            Property::SubscriptionIdentifier(v)
        }
        0x11 => Property::SessionExpiryInterval(r.u32(F).map_err(o)?),
        0x12 => Property::AssignedClientIdentifier(s(r)?),
        0x13 => Property::ServerKeepAlive(r.u16(F).map_err(o)?),
        0x15 => Property::AuthenticationMethod(s(r)?),
        0x16 => Property::AuthenticationData(Secret::new(r.binary(F).map_err(o)?)),
        0x17 => Property::RequestProblemInformation(r.u8(F).map_err(o)?),
        0x18 => Property::WillDelayInterval(r.u32(F).map_err(o)?),
        0x19 => Property::RequestResponseInformation(r.u8(F).map_err(o)?),
        0x1a => Property::ResponseInformation(s(r)?),
        0x1c => Property::ServerReference(s(r)?),
        0x1f => Property::ReasonString(s(r)?),
        0x21 => Property::ReceiveMaximum(r.u16(F).map_err(o)?),
        0x22 => Property::TopicAliasMaximum(r.u16(F).map_err(o)?),
        0x23 => Property::TopicAlias(r.u16(F).map_err(o)?),
        0x24 => Property::MaximumQos(r.u8(F).map_err(o)?),
        0x25 => Property::RetainAvailable(r.u8(F).map_err(o)?),
        0x26 => {
            let key = s(r)?;
            let value = s(r)?;
            Property::UserProperty(key, value)
        }
        0x27 => Property::MaximumPacketSize(r.u32(F).map_err(o)?),
        0x28 => Property::WildcardSubscriptionAvailable(r.u8(F).map_err(o)?),
        0x29 => Property::SubscriptionIdentifierAvailable(r.u8(F).map_err(o)?),
        0x2a => Property::SharedSubscriptionAvailable(r.u8(F).map_err(o)?),
        _ => return Err(PropertyError::UnknownId),
    })
}

/// A validated v5 property list, borrowed from the message.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Properties<'a> {
    /// The well-formed prefix of the property bytes.
    valid: &'a [u8],
    /// Declared property length (may exceed `valid.len()` when a property was malformed).
    declared_len: u32,
    count: u16,
}

impl<'a> Properties<'a> {
    /// Declared property length in bytes (the varint).
    pub fn declared_len(&self) -> u32 {
        self.declared_len
    }

    /// Number of well-formed properties.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there is no well-formed property.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The typed properties, in wire order.
    pub fn iter(&self) -> PropertiesIter<'a> {
        PropertiesIter {
            reader: Reader::new(self.valid),
        }
    }
}

impl core::fmt::Debug for Properties<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for Properties<'a> {
    type Item = Property<'a>;
    type IntoIter = PropertiesIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over [`Properties`].
#[derive(Clone, Debug)]
pub struct PropertiesIter<'a> {
    reader: Reader<'a>,
}

impl<'a> Iterator for PropertiesIter<'a> {
    type Item = Property<'a>;
    fn next(&mut self) -> Option<Property<'a>> {
        if self.reader.is_empty() {
            return None;
        }
        let mut scratch = FindingSet::EMPTY;
        read_property(&mut self.reader, &mut scratch).ok()
    }
}

/// Read a property block (varint length + properties) at the reader's position.
///
/// A declared length that runs past the message is a `property_length_overrun` and an error (the
/// rest of the message cannot be located). A malformed or unknown property inside a well-framed
/// block is a finding; the block is still skipped by its declared length so later fields parse.
pub(crate) fn read_properties<'a>(
    r: &mut Reader<'a>,
    field: &'static str,
    findings: &mut FindingSet,
) -> Result<Properties<'a>, FieldError> {
    let declared_len = r.varint(field, findings).inspect_err(|_| {
        findings.insert(FindingKind::PropertyLengthOverrun);
    })?;
    let block = r.bytes(declared_len as usize, field).inspect_err(|_| {
        findings.insert(FindingKind::PropertyLengthOverrun);
    })?;
    let mut inner = Reader::new(block);
    let mut count: u16 = 0;
    let mut valid_end = 0;
    while !inner.is_empty() {
        match read_property(&mut inner, findings) {
            Ok(_) => {
                count = count.saturating_add(1);
                valid_end = inner.position();
            }
            Err(PropertyError::UnknownId) => {
                findings.insert(FindingKind::UnknownProperty);
                break;
            }
            Err(PropertyError::Overrun) => {
                findings.insert(FindingKind::PropertyLengthOverrun);
                break;
            }
        }
    }
    Ok(Properties {
        valid: &block[..valid_end],
        declared_len,
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> (Result<Properties<'_>, FieldError>, FindingSet) {
        let mut f = FindingSet::EMPTY;
        let mut r = Reader::new(bytes);
        (read_properties(&mut r, "properties", &mut f), f)
    }

    #[test]
    fn typed_list() {
        let bytes = [
            0x11, // property length 17
            0x21, 0x00, 0x14, // receive maximum = 20
            0x11, 0x00, 0x00, 0x00, 0x3c, // session expiry interval = 60
            0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // user property k=v
            0x0b, 0x05, // subscription identifier = 5
        ];
        let (p, f) = parse(&bytes);
        let p = p.unwrap();
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(p.len(), 4);
        let v: Vec<_> = p.iter().collect();
        assert_eq!(
            v,
            [
                Property::ReceiveMaximum(20),
                Property::SessionExpiryInterval(60),
                Property::UserProperty(MqttStr::new(b"k"), MqttStr::new(b"v")),
                Property::SubscriptionIdentifier(5),
            ]
        );
        assert_eq!(v[0].id(), 0x21);
    }

    #[test]
    fn overruns_and_unknown_ids() {
        // Declared length 0xff21 (as in suricata-verify mqtt5-excessiveproplen) with 3 bytes
        // present.
        let (p, f) = parse(&[0xa1, 0xfe, 0x03, 0x00, 0x00, 0x00]);
        assert!(p.is_err());
        assert!(f.contains(FindingKind::PropertyLengthOverrun));
        // Unknown id 0x00 inside a well-framed block: finding, block skipped, 0 properties.
        let (p, f) = parse(&[0x02, 0x00, 0x00]);
        assert_eq!(p.unwrap().len(), 0);
        assert!(f.contains(FindingKind::UnknownProperty));
        // A u32 property cut short inside the block.
        // Block of 4: receive maximum (ok), then message expiry interval (u32) with no value bytes.
        let (p, f) = parse(&[0x04, 0x21, 0x00, 0x14, 0x02]);
        assert_eq!(p.unwrap().len(), 1);
        assert!(f.contains(FindingKind::PropertyLengthOverrun));
        // Authentication data is redacted in Debug.
        let (p, _) = parse(&[0x04, 0x16, 0x00, 0x01, b's']);
        assert_eq!(
            format!("{:?}", p.unwrap()),
            "[AuthenticationData(Secret(<1 bytes redacted>))]"
        );
    }
}
