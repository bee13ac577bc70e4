//! The `mqttset` set (Vaccari et al. 2020, Table 4): one row per TCP frame, fields as tshark renders them.
//!
//! Work in progress: the row logic lands with the mqttset change; column types may still change.

use std::io;

use mqtt_ids_capture::Packet;
use mqtt_ids_mqtt::MessageEvent;

use crate::label::Labeler;
use crate::schema::{Column, ColumnType::*, Schema};
use crate::sets::FrameSet;
use crate::sink::RowSink;

static COLUMNS: [Column; 34] = [
    Column::new("tcp.flags", Str),
    Column::new("tcp.time_delta", Str),
    Column::new("tcp.len", Str),
    Column::new("mqtt.conack.flags", Str),
    Column::new("mqtt.conack.flags.reserved", Str),
    Column::new("mqtt.conack.flags.sp", Str),
    Column::new("mqtt.conack.val", Str),
    Column::new("mqtt.conflag.cleansess", Str),
    Column::new("mqtt.conflag.passwd", Str),
    Column::new("mqtt.conflag.qos", Str),
    Column::new("mqtt.conflag.reserved", Str),
    Column::new("mqtt.conflag.retain", Str),
    Column::new("mqtt.conflag.uname", Str),
    Column::new("mqtt.conflag.willflag", Str),
    Column::new("mqtt.conflags", Str),
    Column::new("mqtt.dupflag", Str),
    Column::new("mqtt.hdrflags", Str),
    Column::new("mqtt.kalive", Str),
    Column::new("mqtt.len", Str),
    Column::new("mqtt.msg", Str),
    Column::new("mqtt.msgid", Str),
    Column::new("mqtt.msgtype", Str),
    Column::new("mqtt.proto_len", Str),
    Column::new("mqtt.protoname", Str),
    Column::new("mqtt.qos", Str),
    Column::new("mqtt.retain", Str),
    Column::new("mqtt.sub.qos", Str),
    Column::new("mqtt.suback.qos", Str),
    Column::new("mqtt.ver", Str),
    Column::new("mqtt.willmsg", Str),
    Column::new("mqtt.willmsg_len", Str),
    Column::new("mqtt.willtopic", Str),
    Column::new("mqtt.willtopic_len", Str),
    Column::new("target", Str),
];

/// Schema of the `mqttset` set.
pub const SCHEMA: Schema = Schema {
    set: "mqttset",
    version: 1,
    columns: &COLUMNS,
};

/// Builds `mqttset` rows.
#[derive(Debug, Default)]
pub struct MqttsetSet {}

impl MqttsetSet {
    /// A fresh set.
    pub fn new() -> Self {
        MqttsetSet::default()
    }
}

impl FrameSet for MqttsetSet {
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
