//! The `session` set: one row per connection, written when it ends (RST or FIN from both sides,
//! idle timeout, eviction, port reuse, end of input) and, with an update interval, also while it
//! lasts (live detection). A row holds the connection's bi-directional statistics and MQTT
//! aggregates as they stand at the row's time: the same state columns as the `context` set
//! ([`super::context::STATE_COLUMNS`]), produced by the same state machine
//! ([`super::context::ContextSet`]), so the two sets never disagree on a connection.
//!
//! `final` is 1 on the row written at the connection's end, 0 on update rows. For a connection
//! that ends by RST or FINs the row is written with the packet that ends it; packets after it
//! (the last ACK) update the state but write no second row. The label is that of the
//! connection's client → server endpoints at its first packet.

use crate::schema::{Column, ColumnType::*, Schema};
use crate::sets::context::STATE_COLUMNS;

const N: usize = 2 + STATE_COLUMNS.len() + 1;

const fn session_columns() -> [Column; N] {
    let mut out = [Column::new("conn_id", UInt); N];
    out[1] = Column::new("final", UInt);
    let mut i = 0;
    while i < STATE_COLUMNS.len() {
        out[2 + i] = STATE_COLUMNS[i];
        i += 1;
    }
    out[N - 1] = Column::new("target", Str);
    out
}

static COLUMNS: [Column; N] = session_columns();

/// Schema of the `session` set.
pub const SCHEMA: Schema = Schema {
    set: "session",
    version: 1,
    columns: &COLUMNS,
};

/// Columns that identify a row's connection or carry its label: never features.
pub const NOT_FEATURES: [&str; 2] = ["conn_id", "target"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_conn_id_final_the_context_state_and_target() {
        let names: Vec<&str> = SCHEMA.names().collect();
        assert_eq!(names[..2], ["conn_id", "final"]);
        assert_eq!(names.last(), Some(&"target"));
        let state: Vec<&str> = STATE_COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(names[2..names.len() - 1], state[..]);
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "duplicate column names");
    }
}
