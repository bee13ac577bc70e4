//! Measures the two ways of reading an interface that were considered for live capture, with
//! nothing behind them but a packet count: `ring` — our `TPACKET_V3` ring
//! ([`mqtt_ids_detect::live::LiveCapture`]), one `poll` per block; `recv` — one `poll` and one
//! `recvfrom` per packet on a plain `AF_PACKET` socket with a receive buffer of the ring's size,
//! which is what `pnet_datalink`'s Linux receiver does (`DataLinkReceiverImpl::next`). Runs until
//! SECONDS pass, then prints packets read and the kernel's drops (`PACKET_STATISTICS`).
//!
//! `cargo run --release -p mqtt-ids-detect --example capture_compare -- ring|recv IF SECONDS`
//! (as root) while `tcpreplay --topspeed -i IF FILE` runs.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use mqtt_ids_detect::live::{LiveCapture, LiveConfig};

fn recv_loop(interface: &str, seconds: u64) -> (u64, u64) {
    let name = std::ffi::CString::new(interface).unwrap();
    // SAFETY: plain system calls on a socket this function owns; every pointer passed points to
    // a live value of the size given.
    unsafe {
        let raw = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0x0003u16.to_be() as i32);
        assert!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
        let fd = OwnedFd::from_raw_fd(raw);
        let size: libc::c_int = 32 << 20;
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            4,
        );
        let one: libc::c_int = 1;
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_IGNORE_OUTGOING,
            (&one as *const libc::c_int).cast(),
            4,
        );
        let mut addr: libc::sockaddr_ll = std::mem::zeroed();
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = 0x0003u16.to_be();
        addr.sll_ifindex = libc::if_nametoindex(name.as_ptr()) as i32;
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        );
        let mut buf = vec![0u8; 65_536 + 64];
        let mut packets = 0u64;
        let end = Instant::now() + Duration::from_secs(seconds);
        while Instant::now() < end {
            let mut pfd = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            if libc::poll(&mut pfd, 1, 100) <= 0 {
                continue;
            }
            let mut from: libc::sockaddr_ll = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            let n = libc::recvfrom(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                (&mut from as *mut libc::sockaddr_ll).cast(),
                &mut len,
            );
            if n > 0 {
                packets += 1;
            }
        }
        let mut st = libc::tpacket_stats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let mut len = std::mem::size_of::<libc::tpacket_stats>() as u32;
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&mut st as *mut libc::tpacket_stats).cast(),
            &mut len,
        );
        (packets, u64::from(st.tp_drops))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, interface, seconds) = match args.as_slice() {
        [m, i, s] => (m.as_str(), i.as_str(), s.parse().expect("SECONDS")),
        _ => {
            eprintln!("usage: capture_compare ring|recv IF SECONDS");
            std::process::exit(64);
        }
    };
    let (packets, drops) = match mode {
        "ring" => {
            let mut c = LiveCapture::open(&LiveConfig {
                interface: interface.into(),
                ..LiveConfig::default()
            })
            .unwrap_or_else(|e| panic!("{e}"));
            let end = Instant::now() + Duration::from_secs(seconds);
            while Instant::now() < end {
                c.next_block(Duration::from_millis(100), &mut |_| Ok(()))
                    .unwrap();
            }
            let s = c.stats();
            (s.frames, s.kernel_drops)
        }
        "recv" => recv_loop(interface, seconds),
        _ => panic!("mode: ring or recv"),
    };
    println!("{mode}: {packets} packets read, {drops} dropped by the kernel");
}
