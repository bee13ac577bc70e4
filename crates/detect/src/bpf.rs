//! `--filter EXPR`: a tcpdump filter expression compiled to classic BPF by libpcap, loaded at
//! run time (Debian's `libpcap0.8`, `libpcap.so.0.8`), so nothing is needed at build time and
//! the program runs without libpcap unless a filter is asked for. Only the compiler is used:
//! the program is attached to our own packet socket with `SO_ATTACH_FILTER`.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};

use libloading::Library;

/// Shared-object names tried in order (Debian/Ubuntu, then others).
pub const LIBPCAP_NAMES: [&str; 3] = ["libpcap.so.0.8", "libpcap.so.1", "libpcap.so"];

/// The kernel's limit on a classic BPF program (`BPF_MAXINSNS`).
const BPF_MAXINSNS: usize = 4096;

/// `struct bpf_program` (pcap/bpf.h).
#[repr(C)]
struct BpfProgram {
    bf_len: c_uint,
    bf_insns: *mut libc::sock_filter,
}

/// `PCAP_NETMASK_UNKNOWN`.
const NETMASK_UNKNOWN: u32 = 0xffff_ffff;
/// Snapshot length of the compiled program's accept return (the largest libpcap uses).
const SNAPLEN: c_int = 262_144;

type OpenDead = unsafe extern "C" fn(c_int, c_int) -> *mut c_void;
type Compile =
    unsafe extern "C" fn(*mut c_void, *mut BpfProgram, *const c_char, c_int, u32) -> c_int;
type GetErr = unsafe extern "C" fn(*mut c_void) -> *mut c_char;
type FreeCode = unsafe extern "C" fn(*mut BpfProgram);
type Close = unsafe extern "C" fn(*mut c_void);

fn load() -> Result<Library, String> {
    let mut errors = Vec::new();
    for name in LIBPCAP_NAMES {
        // SAFETY: loading libpcap runs its initialisers, which have no preconditions.
        match unsafe { Library::new(name) } {
            Ok(lib) => return Ok(lib),
            Err(e) => errors.push(e.to_string()),
        }
    }
    Err(format!(
        "--filter needs libpcap at run time to compile the expression, and it was not found \
         ({}): install it (Debian/Ubuntu: `apt-get install libpcap0.8`; Fedora: `dnf install \
         libpcap`), or leave --filter out",
        errors.join("; ")
    ))
}

/// Compiles `expr` for frames of link type `dlt` (a libpcap `DLT_` value: 1 Ethernet, 12 raw
/// IP) into classic BPF instructions ready for `SO_ATTACH_FILTER`.
pub fn compile(expr: &str, dlt: i32) -> Result<Vec<libc::sock_filter>, String> {
    let text = CString::new(expr).map_err(|_| "the expression contains a NUL byte".to_string())?;
    let lib = load()?;
    let symbol_error = |name: &str, e: libloading::Error| {
        format!("libpcap has no {name} ({e}): is it libpcap ≥ 0.8?")
    };
    // SAFETY: the symbols are libpcap's public functions with exactly these C signatures
    // (pcap/pcap.h); `lib` outlives every call below.
    unsafe {
        let open_dead = lib
            .get::<OpenDead>(b"pcap_open_dead\0")
            .map_err(|e| symbol_error("pcap_open_dead", e))?;
        let compile = lib
            .get::<Compile>(b"pcap_compile\0")
            .map_err(|e| symbol_error("pcap_compile", e))?;
        let geterr = lib
            .get::<GetErr>(b"pcap_geterr\0")
            .map_err(|e| symbol_error("pcap_geterr", e))?;
        let freecode = lib
            .get::<FreeCode>(b"pcap_freecode\0")
            .map_err(|e| symbol_error("pcap_freecode", e))?;
        let close = lib
            .get::<Close>(b"pcap_close\0")
            .map_err(|e| symbol_error("pcap_close", e))?;
        let handle = open_dead(dlt, SNAPLEN);
        if handle.is_null() {
            return Err(format!(
                "libpcap could not open a handle for link type {dlt}"
            ));
        }
        let mut program = BpfProgram {
            bf_len: 0,
            bf_insns: std::ptr::null_mut(),
        };
        let result = if compile(handle, &mut program, text.as_ptr(), 1, NETMASK_UNKNOWN) != 0 {
            let message = geterr(handle);
            let message = if message.is_null() {
                "syntax error".to_string()
            } else {
                CStr::from_ptr(message).to_string_lossy().into_owned()
            };
            Err(format!("cannot compile `{expr}`: {message}"))
        } else {
            let n = program.bf_len as usize;
            let out = if n == 0 || program.bf_insns.is_null() {
                Err(format!("`{expr}` compiled to an empty program"))
            } else if n > BPF_MAXINSNS {
                Err(format!(
                    "`{expr}` compiles to {n} instructions; the kernel accepts at most {BPF_MAXINSNS}"
                ))
            } else {
                Ok(std::slice::from_raw_parts(program.bf_insns, n).to_vec())
            };
            freecode(&mut program);
            out
        };
        close(handle);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn libpcap_present() -> bool {
        if load().is_ok() {
            return true;
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "CI has libpcap0.8 (tshark depends on it)"
        );
        eprintln!("skipping: libpcap not installed");
        false
    }

    /// The program equals the one Wireshark's capture engine compiles for a live handle on `lo`:
    /// `dumpcap -i lo -f 'tcp port 1883' -d` (dumpcap 4.0.17, libpcap 1.10.3) prints these 20
    /// instructions as text (`ldh [12]`, `jeq #0x86dd jt 2 jf 8` …); here as (code, jt, jf, k)
    /// with BPF opcodes (ldh 0x28, ldb 0x30, jeq 0x15, jset 0x45, ldxb 4*([k]&0xf) 0xb1,
    /// ldh [x + k] 0x48, ret 0x06) and jumps relative to the next instruction.
    #[test]
    fn tcp_port_compiles_as_tcpdump_does() {
        if !libpcap_present() {
            return;
        }
        let p = compile("tcp port 1883", 1).unwrap();
        let got: Vec<(u16, u8, u8, u32)> = p.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect();
        assert_eq!(got, EXPECTED_TCP_PORT_1883.to_vec());
    }

    #[test]
    fn a_bad_expression_says_why() {
        if !libpcap_present() {
            return;
        }
        let e = compile("tcp port", 1).unwrap_err();
        assert!(e.contains("cannot compile `tcp port`"), "{e}");
        assert!(compile("a\0b", 1).unwrap_err().contains("NUL"));
    }

    #[rustfmt::skip]
    const EXPECTED_TCP_PORT_1883: [(u16, u8, u8, u32); 20] = [
        (0x28, 0, 0, 0xc), (0x15, 0, 6, 0x86dd), (0x30, 0, 0, 0x14), (0x15, 0, 15, 0x6),
        (0x28, 0, 0, 0x36), (0x15, 12, 0, 0x75b), (0x28, 0, 0, 0x38), (0x15, 10, 11, 0x75b),
        (0x15, 0, 10, 0x800), (0x30, 0, 0, 0x17), (0x15, 0, 8, 0x6), (0x28, 0, 0, 0x14),
        (0x45, 6, 0, 0x1fff), (0xb1, 0, 0, 0xe), (0x48, 0, 0, 0xe), (0x15, 2, 0, 0x75b),
        (0x48, 0, 0, 0x10), (0x15, 0, 1, 0x75b), (0x06, 0, 0, 0x40000), (0x06, 0, 0, 0x0),
    ];
}
