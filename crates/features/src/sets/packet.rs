//! The `packet` set (Hindy et al. 2020, Table 1): one row per TCP or UDP packet.
//!
//! Work in progress: the row logic lands with the packet-set change; the schema is final.

use std::io;

use mqtt_ids_capture::Packet;
use mqtt_ids_mqtt::MessageEvent;

use crate::label::Labeler;
use crate::schema::{Column, ColumnType::*, Schema};
use crate::sets::FrameSet;
use crate::sink::RowSink;

static COLUMNS: [Column; 31] = [
    Column::new("timestamp", Str),
    Column::new("src_ip", Str),
    Column::new("dst_ip", Str),
    Column::new("protocol", Str),
    Column::new("ttl", UInt),
    Column::new("ip_len", UInt),
    Column::new("ip_flag_df", UInt),
    Column::new("ip_flag_mf", UInt),
    Column::new("ip_flag_rb", UInt),
    Column::new("src_port", UInt),
    Column::new("dst_port", UInt),
    Column::new("tcp_flag_res", UInt),
    Column::new("tcp_flag_ns", UInt),
    Column::new("tcp_flag_cwr", UInt),
    Column::new("tcp_flag_ecn", UInt),
    Column::new("tcp_flag_urg", UInt),
    Column::new("tcp_flag_ack", UInt),
    Column::new("tcp_flag_push", UInt),
    Column::new("tcp_flag_reset", UInt),
    Column::new("tcp_flag_syn", UInt),
    Column::new("tcp_flag_fin", UInt),
    Column::new("mqtt_messagetype", UInt),
    Column::new("mqtt_messagelength", UInt),
    Column::new("mqtt_flag_uname", UInt),
    Column::new("mqtt_flag_passwd", UInt),
    Column::new("mqtt_flag_retain", UInt),
    Column::new("mqtt_flag_qos", UInt),
    Column::new("mqtt_flag_willflag", UInt),
    Column::new("mqtt_flag_clean", UInt),
    Column::new("mqtt_flag_reserved", UInt),
    Column::new("is_attack", UInt),
];

/// Schema of the `packet` set.
pub const SCHEMA: Schema = Schema {
    set: "packet",
    version: 1,
    columns: &COLUMNS,
};

/// Builds `packet` rows.
#[derive(Debug, Default)]
pub struct PacketSet {}

impl PacketSet {
    /// A fresh set.
    pub fn new() -> Self {
        PacketSet::default()
    }
}

impl FrameSet for PacketSet {
    fn schema(&self) -> Schema {
        SCHEMA
    }

    fn on_message(&mut self, _event: &MessageEvent<'_>) {}

    fn end_packet<S: RowSink>(
        &mut self,
        _packet: &Packet<'_>,
        _mqtt: bool,
        _labels: &Labeler,
        _sink: &mut S,
    ) -> io::Result<()> {
        Ok(())
    }
}
