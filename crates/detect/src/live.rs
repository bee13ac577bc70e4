//! Live capture on Linux: an `AF_PACKET` socket with a `TPACKET_V3` receive ring (the kernel
//! fills blocks of packets in memory shared with us; one `poll` per block, no copy, no system
//! call per packet), kernel drop counters from `PACKET_STATISTICS`, an optional BPF filter
//! compiled by libpcap at run time ([`crate::bpf`]), and the loop that feeds the frames to the
//! [`Engine`] with the live clock, reports rates and drops now and then, and stops when asked.
//!
//! Needs `CAP_NET_RAW` (root, or `setcap cap_net_raw+ep` on the binary); nothing at build time.
//!
//! Every access to the ring's packets goes through [`mqtt_ids_capture::ring::walk_block`], safe
//! code over one block's bytes that checks each kernel-written offset and length before use, so
//! even a corrupt block cannot make us read outside it.

use std::ffi::CString;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mqtt_ids_capture::ring::{walk_block, BLOCK_STATUS};
use mqtt_ids_capture::{decode, Frame, LinkType};

use crate::engine::Engine;

/// `ETH_P_ALL`: every protocol.
const ETH_P_ALL: u16 = 0x0003;
/// `TPACKET_V3` (`enum tpacket_versions`).
const TPACKET_V3: libc::c_int = 2;
/// `TP_STATUS_USER`: the block (or packet) belongs to user space.
const TP_STATUS_USER: u32 = 1;
/// `TP_STATUS_KERNEL`: the block is handed back to the kernel.
const TP_STATUS_KERNEL: u32 = 0;

/// How the ring and filter are set up.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    /// Interface name (`lo`, `eth0`).
    pub interface: String,
    /// A tcpdump filter expression, compiled by libpcap and run in the kernel.
    pub filter: Option<String>,
    /// Bytes per ring block (a power of two, a multiple of the page size).
    pub block_size: usize,
    /// Blocks in the ring (the ring holds `block_size × block_count` bytes of packets).
    pub block_count: usize,
    /// The kernel hands over a block that is not full after this many milliseconds (an upper
    /// bound on the delay a quiet interface adds to an alert).
    pub block_timeout_ms: u32,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            interface: "lo".into(),
            filter: None,
            block_size: 1 << 20,
            block_count: 32,
            block_timeout_ms: 10,
        }
    }
}

/// Counters of the socket (the kernel's) and of our reading of the ring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Packets that passed the filter, as the kernel counts them (received + dropped).
    pub kernel_packets: u64,
    /// Packets the kernel dropped because the ring was full (the reader fell behind).
    pub kernel_drops: u64,
    /// Times the ring froze (no free block).
    pub ring_freezes: u64,
    /// Frames read from the ring and handed to the engine.
    pub frames: u64,
    /// Bytes of those frames (captured length).
    pub bytes: u64,
    /// Frames taken from the ring but not analysed: their descriptor was inconsistent
    /// (offset or length outside the block). The engine reads the ring in place, so a slow
    /// engine shows up as kernel drops, never as a user-space queue overflow.
    pub user_drops: u64,
    /// Our own frames seen a second time on the loopback interface (skipped, as libpcap does).
    pub outgoing_duplicates: u64,
    /// The interface's own receive drops since the capture started (`/sys/class/net/IF/
    /// statistics/rx_dropped`), when readable.
    pub interface_drops: u64,
}

/// Why a capture could not start. The message says what to do.
#[derive(Debug)]
pub struct LiveError(pub String);

impl std::fmt::Display for LiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LiveError {}

/// The advice when the kernel refuses a packet socket.
pub fn capability_advice(interface: &str) -> String {
    format!(
        "capturing on {interface} needs the CAP_NET_RAW capability: run as root, or grant it to \
         the binary once with `sudo setcap cap_net_raw+ep \"$(command -v mqtt-ids)\"` (or start \
         it with `setpriv --inh-caps=+net_raw --ambient-caps=+net_raw …`)"
    )
}

/// Whether this process has `CAP_NET_RAW` in its effective set (`/proc/self/status`).
pub fn has_cap_net_raw() -> Option<bool> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    let caps = u64::from_str_radix(hex, 16).ok()?;
    Some(caps & (1 << 13) != 0)
}

fn os_error(what: &str, interface: &str) -> LiveError {
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => LiveError(capability_advice(interface)),
        _ => LiveError(format!("{interface}: {what}: {e}")),
    }
}

fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: &T) -> bool {
    // SAFETY: `value` points to a live `T` of `size_of::<T>()` bytes for the duration of the
    // call; the kernel only reads it.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        ) == 0
    }
}

/// The link-layer type of an interface's frames on a `SOCK_RAW` packet socket, from its
/// `ARPHRD_*` type.
fn link_type_of(interface: &str) -> Result<(LinkType, bool), LiveError> {
    let path = format!("/sys/class/net/{interface}/type");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        LiveError(format!(
            "{interface}: cannot read its type from {path}: {e}"
        ))
    })?;
    match text.trim().parse::<u16>() {
        Ok(libc::ARPHRD_ETHER) => Ok((LinkType::ETHERNET, false)),
        // The loopback device carries an all-zero Ethernet header.
        Ok(libc::ARPHRD_LOOPBACK) => Ok((LinkType::ETHERNET, true)),
        // Tunnels without a link header (tun, WireGuard): raw IP.
        Ok(libc::ARPHRD_NONE) | Ok(519) => Ok((LinkType::RAW, false)),
        Ok(t) => Err(LiveError(format!(
            "{interface}: link type ARPHRD {t} is not supported (Ethernet, loopback and raw-IP \
             interfaces are); capture it with tcpdump -w and use --read"
        ))),
        Err(_) => Err(LiveError(format!(
            "{interface}: unexpected content in {path}"
        ))),
    }
}

fn interface_rx_dropped(interface: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/sys/class/net/{interface}/statistics/rx_dropped"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A packet socket with its receive ring.
pub struct LiveCapture {
    fd: OwnedFd,
    ring: *mut u8,
    ring_len: usize,
    block_size: usize,
    block_count: usize,
    next_block: usize,
    link_type: LinkType,
    loopback: bool,
    interface: String,
    number: u64,
    stats: CaptureStats,
    rx_dropped_at_start: Option<u64>,
}

impl LiveCapture {
    /// Opens `config.interface`: packet socket, filter, ring, then bind (no packet is queued
    /// before the filter is in place).
    pub fn open(config: &LiveConfig) -> Result<LiveCapture, LiveError> {
        let interface = config.interface.as_str();
        if interface == "any" {
            return Err(LiveError(
                "capturing on `any` is not supported: name one interface (ip -br link lists them)"
                    .into(),
            ));
        }
        let name = CString::new(interface)
            .map_err(|_| LiveError(format!("bad interface name {interface:?}")))?;
        // SAFETY: `name` is a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(LiveError(format!(
                "no interface named `{interface}` (ip -br link lists them)"
            )));
        }
        let (link_type, loopback) = link_type_of(interface)?;
        let page = 4096;
        if !config.block_size.is_power_of_two()
            || config.block_size < page
            || config.block_count == 0
            || config.block_size.saturating_mul(config.block_count) > 1 << 32
        {
            return Err(LiveError(format!(
                "ring: block size {} must be a power of two ≥ {page}, with 1 to {} blocks",
                config.block_size,
                (1usize << 32) / config.block_size.max(1)
            )));
        }
        // Protocol 0: nothing is queued until `bind` names ETH_P_ALL, after the filter.
        // SAFETY: plain system call; the result is checked.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(os_error("socket(AF_PACKET)", interface));
        }
        // SAFETY: `raw` is a descriptor we just opened and own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        if let Some(expr) = &config.filter {
            let dlt = if link_type == LinkType::ETHERNET {
                1 // DLT_EN10MB
            } else {
                12 // DLT_RAW on Linux
            };
            let mut program =
                crate::bpf::compile(expr, dlt).map_err(|e| LiveError(format!("--filter: {e}")))?;
            let fprog = libc::sock_fprog {
                len: program.len() as u16,
                filter: program.as_mut_ptr(),
            };
            if !setsockopt(&fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog) {
                return Err(os_error("attaching the --filter program", interface));
            }
        }
        if !setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_VERSION, &TPACKET_V3) {
            return Err(os_error("PACKET_VERSION TPACKET_V3", interface));
        }
        let frame_size: u32 = 2048;
        let req = libc::tpacket_req3 {
            tp_block_size: config.block_size as u32,
            tp_block_nr: config.block_count as u32,
            tp_frame_size: frame_size,
            tp_frame_nr: (config.block_size / frame_size as usize * config.block_count) as u32,
            tp_retire_blk_tov: config.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        if !setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req) {
            return Err(os_error(
                "PACKET_RX_RING (a smaller ring may fit: --ring-mb)",
                interface,
            ));
        }
        let ring_len = config.block_size * config.block_count;
        // SAFETY: maps the ring the kernel just allocated for this socket; the length is the
        // one requested; failure is checked.
        let ring = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ring_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ring == libc::MAP_FAILED {
            return Err(os_error("mmap of the receive ring", interface));
        }
        let mut capture = LiveCapture {
            fd,
            ring: ring.cast(),
            ring_len,
            block_size: config.block_size,
            block_count: config.block_count,
            next_block: 0,
            link_type,
            loopback,
            interface: interface.to_string(),
            number: 0,
            stats: CaptureStats::default(),
            rx_dropped_at_start: interface_rx_dropped(interface),
        };
        if loopback {
            // Linux ≥ 4.20: the kernel does not queue our copy of outgoing loopback packets at
            // all (each would otherwise be seen twice); older kernels: skipped by type below.
            let one: libc::c_int = 1;
            let _ = setsockopt(
                &capture.fd,
                libc::SOL_PACKET,
                libc::PACKET_IGNORE_OUTGOING,
                &one,
            );
        }
        // SAFETY: an all-zero `sockaddr_ll` is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = ETH_P_ALL.to_be();
        addr.sll_ifindex = ifindex as i32;
        // SAFETY: `addr` is a valid `sockaddr_ll` and the length is its size.
        let bound = unsafe {
            libc::bind(
                capture.fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if bound != 0 {
            return Err(os_error("bind", interface));
        }
        // Counters start now.
        capture.kernel_stats();
        capture.stats = CaptureStats::default();
        Ok(capture)
    }

    /// The link-layer type of the frames.
    pub fn link_type(&self) -> LinkType {
        self.link_type
    }

    /// The interface.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    fn block_status(&self, block: usize) -> &AtomicU32 {
        // SAFETY: `block < block_count`, so the address is inside the mapping, 4-byte aligned
        // (blocks are page-aligned, the field is at offset 8) and the mapping lives as long as
        // `self`; the kernel and we access this word only atomically.
        unsafe { AtomicU32::from_ptr(self.ring.add(block * self.block_size + BLOCK_STATUS).cast()) }
    }

    /// Hands every packet of the next filled block to `on_frame`, waiting up to `timeout` for
    /// one; returns the packets handed (0 on timeout or interruption by a signal).
    pub fn next_block(
        &mut self,
        timeout: Duration,
        on_frame: &mut dyn FnMut(Frame<'_>) -> io::Result<()>,
    ) -> io::Result<u64> {
        let block = self.next_block;
        if self.block_status(block).load(Ordering::Acquire) & TP_STATUS_USER == 0 {
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN | libc::POLLERR,
                revents: 0,
            };
            let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
            // SAFETY: one valid `pollfd`, count 1.
            let r = unsafe { libc::poll(&mut pfd, 1, ms) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    return Ok(0);
                }
                return Err(e);
            }
            if self.block_status(block).load(Ordering::Acquire) & TP_STATUS_USER == 0 {
                return Ok(0);
            }
        }
        // SAFETY: the block is inside the mapping, and while its status says TP_STATUS_USER
        // the kernel does not write to it, so the bytes do not change under this shared slice;
        // the slice is dropped before the block is handed back below.
        let bytes = unsafe {
            std::slice::from_raw_parts(self.ring.add(block * self.block_size), self.block_size)
        };
        let mut result = Ok(());
        let (link_type, mut number) = (self.link_type, self.number);
        let mut captured = 0u64;
        let walk = walk_block(bytes, self.loopback, |p| {
            if result.is_err() {
                return;
            }
            number += 1;
            captured += p.data.len() as u64;
            let frame = Frame {
                number,
                offset: 0,
                ts_ns: p.ts_ns,
                interface: 0,
                link_type,
                orig_len: p.wire_len,
                data: p.data,
            };
            result = on_frame(frame);
        });
        self.number = number;
        self.stats.frames += walk.packets;
        self.stats.bytes += captured;
        self.stats.user_drops += walk.bad;
        self.stats.outgoing_duplicates += walk.skipped_outgoing;
        self.block_status(block)
            .store(TP_STATUS_KERNEL, Ordering::Release);
        self.next_block = (block + 1) % self.block_count;
        result.map(|()| walk.packets)
    }

    /// Reads the kernel's counters (which reset on each read) into the totals.
    fn kernel_stats(&mut self) {
        let mut st = libc::tpacket_stats_v3 {
            tp_packets: 0,
            tp_drops: 0,
            tp_freeze_q_cnt: 0,
        };
        let mut len = std::mem::size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
        // SAFETY: `st` and `len` are valid for writes of the sizes given.
        let ok = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats_v3).cast(),
                &mut len,
            )
        } == 0;
        if ok {
            self.stats.kernel_packets += u64::from(st.tp_packets);
            self.stats.kernel_drops += u64::from(st.tp_drops);
            self.stats.ring_freezes += u64::from(st.tp_freeze_q_cnt);
        }
    }

    /// Counters so far.
    pub fn stats(&mut self) -> CaptureStats {
        self.kernel_stats();
        if let (Some(a), Some(b)) = (
            self.rx_dropped_at_start,
            interface_rx_dropped(&self.interface),
        ) {
            self.stats.interface_drops = b.saturating_sub(a);
        }
        self.stats
    }
}

impl Drop for LiveCapture {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `open`, with its length; nothing borrows it any more
        // (slices of it never outlive `next_block`).
        unsafe {
            libc::munmap(self.ring.cast(), self.ring_len);
        }
    }
}

/// A flag set by the first SIGINT (Ctrl-C) or SIGTERM, for [`run`] to stop cleanly; a second
/// one while stopping ends the process at once (exit status 130).
pub fn stop_on_signals() -> io::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 130, stop.clone())?;
        signal_hook::flag::register(signal, stop.clone())?;
    }
    Ok(stop)
}

/// Now on the packet clock's scale (the kernel stamps packets with the real-time clock).
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// One periodic (or final) report of a live run.
#[derive(Clone, Copy, Debug, Default)]
pub struct LiveReport {
    /// Seconds since the start.
    pub elapsed: f64,
    /// Seconds this report covers.
    pub interval: f64,
    /// Packets analysed in the interval.
    pub packets: u64,
    /// Alerts written in the interval.
    pub alerts: u64,
    /// Totals since the start.
    pub capture: CaptureStats,
    /// Alerts written since the start.
    pub total_alerts: u64,
}

impl LiveReport {
    /// The stderr line: packets/s, alerts/s, kernel and user-space drops.
    pub fn line(&self, interface: &str) -> String {
        let secs = self.interval.max(1e-9);
        let c = &self.capture;
        let drop_pct = 100.0 * c.kernel_drops as f64 / c.kernel_packets.max(1) as f64;
        format!(
            "{interface}: {:.0} packets/s, {:.1} alerts/s; total {} packets, {} alerts; \
             drops: kernel {} ({drop_pct:.2} %), user {}, interface {}, ring full {}×",
            self.packets as f64 / secs,
            self.alerts as f64 / secs,
            c.frames,
            self.total_alerts,
            c.kernel_drops,
            c.user_drops,
            c.interface_drops,
            c.ring_freezes,
        )
    }
}

/// Feeds the frames of `capture` to `engine` until `stop` is set: the live clock drives
/// [`Engine::tick`] (flows time out and waiting rows are scored when traffic stops), alerts are
/// flushed as they are written, and `report` is called every `every` and once at the end.
pub fn run<W: Write>(
    engine: &mut Engine<W>,
    capture: &mut LiveCapture,
    stop: &AtomicBool,
    every: Duration,
    report: &mut dyn FnMut(&LiveReport),
) -> io::Result<LiveReport> {
    let start = Instant::now();
    let mut last = start;
    let (mut last_frames, mut last_alerts) = (0u64, 0u64);
    let mut make = |capture: &mut LiveCapture, engine: &Engine<W>, last: &mut Instant| {
        let now = Instant::now();
        let stats = capture.stats();
        let alerts = engine.alert_counts().written;
        let r = LiveReport {
            elapsed: now.duration_since(start).as_secs_f64(),
            interval: now.duration_since(*last).as_secs_f64(),
            packets: stats.frames - last_frames,
            alerts: alerts - last_alerts,
            capture: stats,
            total_alerts: alerts,
        };
        (last_frames, last_alerts, *last) = (stats.frames, alerts, now);
        r
    };
    while !stop.load(Ordering::Relaxed) {
        capture.next_block(Duration::from_millis(100), &mut |frame| {
            engine.on_packet(&decode(frame))
        })?;
        engine.tick(now_ns())?;
        engine.flush_output()?;
        if last.elapsed() >= every {
            let r = make(capture, engine, &mut last);
            report(&r);
        }
    }
    // Whatever is still in the ring was captured before the stop: take it.
    while capture.next_block(Duration::ZERO, &mut |frame| {
        engine.on_packet(&decode(frame))
    })? > 0
    {}
    engine.flush()?;
    let mut r = make(capture, engine, &mut last);
    r.packets = r.capture.frames;
    r.alerts = r.total_alerts;
    r.interval = r.elapsed;
    Ok(r)
}
