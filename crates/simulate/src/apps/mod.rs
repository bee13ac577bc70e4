//! The applications that run on simulated hosts: the MQTT broker, sensors, UDP streams and
//! TCP services. Attack tools live in [`crate::attacks`].

use crate::net::{AppId, Net, Note};

pub mod broker;
pub mod sensor;
pub mod service;
pub mod stream;

/// Something that runs on a host and reacts to notes (timers, socket events, datagrams).
pub trait App {
    /// Called once at the start of the capture.
    fn start(&mut self, net: &mut Net, me: AppId);
    /// Called for every note addressed to this application.
    fn on(&mut self, net: &mut Net, me: AppId, note: Note);
}

/// Random client identifier: `n` lower-case hex characters (paho's uuid-derived ids).
pub fn hex_id(rng: &mut rand_chacha::ChaCha8Rng, n: usize) -> String {
    use crate::rng::Rand;
    (0..n)
        .map(|_| char::from(b"0123456789abcdef"[rng.below(16) as usize]))
        .collect()
}
