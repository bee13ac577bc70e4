//! `mqtt-ids extract` as a user runs it: file names, exact header lines, sidecars and Parquet
//! metadata, labels, one pass for all sets, bad input among good input, usage errors.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::Array;
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mqtt-ids"))
}

fn shared(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel);
    if p.exists() {
        Some(p)
    } else if std::env::var_os("CI").is_some() {
        panic!("{} missing in CI", p.display());
    } else {
        None
    }
}

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mqtt-ids-extract-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_string)
        .collect()
}

// The header lines exactly as issue 4 lists them (the published datasets' columns).
const PACKET_HEADER: &str = "timestamp,src_ip,dst_ip,protocol,ttl,ip_len,ip_flag_df,ip_flag_mf,\
ip_flag_rb,src_port,dst_port,tcp_flag_res,tcp_flag_ns,tcp_flag_cwr,tcp_flag_ecn,tcp_flag_urg,\
tcp_flag_ack,tcp_flag_push,tcp_flag_reset,tcp_flag_syn,tcp_flag_fin,mqtt_messagetype,\
mqtt_messagelength,mqtt_flag_uname,mqtt_flag_passwd,mqtt_flag_retain,mqtt_flag_qos,\
mqtt_flag_willflag,mqtt_flag_clean,mqtt_flag_reserved,is_attack";
const UNIFLOW_HEADER: &str = "ip_src,ip_dst,prt_src,prt_dst,proto,num_pkts,mean_iat,std_iat,\
min_iat,max_iat,mean_pkt_len,num_bytes,num_psh_flags,num_rst_flags,num_urg_flags,std_pkt_len,\
min_pkt_len,max_pkt_len,is_attack";
const BIFLOW_HEADER: &str = "ip_src,ip_dst,prt_src,prt_dst,proto,fwd_num_pkts,bwd_num_pkts,\
fwd_mean_iat,bwd_mean_iat,fwd_std_iat,bwd_std_iat,fwd_min_iat,bwd_min_iat,fwd_max_iat,\
bwd_max_iat,fwd_mean_pkt_len,bwd_mean_pkt_len,fwd_std_pkt_len,bwd_std_pkt_len,fwd_min_pkt_len,\
bwd_min_pkt_len,fwd_max_pkt_len,bwd_max_pkt_len,fwd_num_bytes,bwd_num_bytes,fwd_num_psh_flags,\
bwd_num_psh_flags,fwd_num_rst_flags,bwd_num_rst_flags,fwd_num_urg_flags,bwd_num_urg_flags,\
is_attack";
const MQTTSET_HEADER: &str = "tcp.flags,tcp.time_delta,tcp.len,mqtt.conack.flags,\
mqtt.conack.flags.reserved,mqtt.conack.flags.sp,mqtt.conack.val,mqtt.conflag.cleansess,\
mqtt.conflag.passwd,mqtt.conflag.qos,mqtt.conflag.reserved,mqtt.conflag.retain,\
mqtt.conflag.uname,mqtt.conflag.willflag,mqtt.conflags,mqtt.dupflag,mqtt.hdrflags,mqtt.kalive,\
mqtt.len,mqtt.msg,mqtt.msgid,mqtt.msgtype,mqtt.proto_len,mqtt.protoname,mqtt.qos,mqtt.retain,\
mqtt.sub.qos,mqtt.suback.qos,mqtt.ver,mqtt.willmsg,mqtt.willmsg_len,mqtt.willtopic,\
mqtt.willtopic_len,target";

#[test]
fn all_sets_from_one_run_with_exact_headers_and_sidecars() {
    let Some(zeek) = shared("corpus/zeek/mqtt.pcap") else {
        return;
    };
    let dir = out_dir("all");
    let out = bin()
        .args(["extract", "--label", "legitimate", "-o"])
        .arg(&dir)
        .arg(&zeek)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    for (set, header) in [
        ("packet", PACKET_HEADER),
        ("uniflow", UNIFLOW_HEADER),
        ("biflow", BIFLOW_HEADER),
        ("mqttset", MQTTSET_HEADER),
    ] {
        let csv = dir.join(format!("{set}_mqtt.csv"));
        let rows = lines(&csv);
        assert_eq!(rows[0], header, "{set}");
        assert!(rows.len() > 1, "{set} has no rows");
        let sidecar: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{set}_mqtt.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(sidecar["tool"], "mqtt-ids");
        assert_eq!(sidecar["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(sidecar["set"], set);
        assert!(sidecar["schema_version"].as_u64().unwrap() >= 1);
        assert_eq!(sidecar["config"]["label"], "legitimate");
        assert_eq!(
            sidecar["run"]["rows"][set].as_u64().unwrap() as usize,
            rows.len() - 1
        );
        assert_eq!(
            sidecar["columns"].as_array().unwrap().len(),
            header.split(',').count()
        );
    }
    // No temporary files are left behind.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".partial")), "{names:?}");
    assert_eq!(names.len(), 8, "{names:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn parquet_has_typed_columns_metadata_and_the_csv_row_counts() {
    let Some(flood) = shared("mqttset-train/flood-train.pcap") else {
        return;
    };
    let dir = out_dir("parquet");
    let run = |format: &str| {
        let out = bin()
            .args([
                "extract",
                "--set",
                "uniflow,mqttset",
                "--label",
                "flood",
                "--format",
                format,
                "-o",
            ])
            .arg(&dir)
            .arg(&flood)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    };
    run("csv");
    run("parquet");
    for set in ["uniflow", "mqttset"] {
        let csv_rows = lines(&dir.join(format!("{set}_flood-train.csv"))).len() - 1;
        let file = File::open(dir.join(format!("{set}_flood-train.parquet"))).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let kv = builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .cloned()
            .unwrap_or_default();
        let get = |k: &str| {
            kv.iter()
                .find(|e| e.key == k)
                .and_then(|e| e.value.clone())
                .unwrap_or_default()
        };
        assert_eq!(get("mqtt-ids.set"), set);
        assert_eq!(get("mqtt-ids.version"), env!("CARGO_PKG_VERSION"));
        assert!(get("mqtt-ids.config").contains("\"label\":\"flood\""));
        let schema = builder.schema().clone();
        let rows: usize = builder
            .build()
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum();
        assert_eq!(rows, csv_rows, "{set}");
        if set == "uniflow" {
            assert_eq!(
                schema.field_with_name("num_pkts").unwrap().data_type(),
                &DataType::UInt64
            );
            assert_eq!(
                schema.field_with_name("mean_iat").unwrap().data_type(),
                &DataType::Float64
            );
            assert_eq!(
                schema.field_with_name("ip_src").unwrap().data_type(),
                &DataType::Utf8
            );
        } else {
            assert_eq!(
                schema.field_with_name("target").unwrap().data_type(),
                &DataType::Utf8
            );
        }
    }
    // Every uni-flow of an attack-class file is an attack.
    let file = File::open(dir.join("uniflow_flood-train.parquet")).unwrap();
    for batch in ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
    {
        let batch = batch.unwrap();
        let col = batch
            .column_by_name("is_attack")
            .unwrap()
            .as_primitive::<UInt64Type>();
        assert_eq!(col.null_count(), 0);
        assert!(col.values().iter().all(|&v| v == 1));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn attacker_addresses_label_rows_both_ways() {
    let Some(benign) = shared("mqttset-train/benign-train.pcap") else {
        return;
    };
    // One of the sensors plays the attacker; the flows of the other hosts are legitimate.
    let dir = out_dir("attacker");
    let out = bin()
        .args([
            "extract",
            "--set",
            "uniflow",
            "--attacker",
            "192.168.0.180",
            "-o",
        ])
        .arg(&dir)
        .arg(&benign)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let rows = lines(&dir.join("uniflow_benign-train.csv"));
    let mut attacks = 0;
    for row in &rows[1..] {
        let f: Vec<&str> = row.split(',').collect();
        let attack = f[0] == "192.168.0.180" || f[1] == "192.168.0.180";
        attacks += usize::from(attack);
        assert_eq!(f[18], if attack { "1" } else { "0" }, "{row}");
    }
    assert!(
        attacks > 0 && attacks < rows.len() - 1,
        "{attacks} of {}",
        rows.len() - 1
    );
    // Unlabelled runs leave the label column empty.
    let out = bin()
        .args(["extract", "--set", "uniflow", "-o"])
        .arg(&dir)
        .arg(&benign)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let rows = lines(&dir.join("uniflow_benign-train.csv"));
    assert!(rows[1..].iter().all(|r| r.ends_with(',')), "{rows:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn threads_change_nothing_in_the_outputs() {
    // `--threads N` runs the sets in parallel passes over the file; files, sidecars included,
    // must be byte for byte what one pass writes (and standard input is read in one pass).
    let Some(capture) = shared("mqttset-train/malformed-train.pcap") else {
        return;
    };
    let run = |name: &str, threads: &str, stdin: bool| {
        let dir = out_dir(name);
        let mut cmd = bin();
        cmd.args(["extract", "--set", "packet,uniflow,biflow,mqttset,session"])
            .args(["--threads", threads, "--label", "malformed", "-o"])
            .arg(&dir);
        let out = if stdin {
            cmd.arg("-")
                .stdin(File::open(&capture).unwrap())
                .output()
                .unwrap()
        } else {
            cmd.arg(&capture).output().unwrap()
        };
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        dir
    };
    let one = run("threads-1", "1", false);
    for (name, threads, stdin) in [("threads-2", "2", false), ("threads-4", "4", false)] {
        let many = run(name, threads, stdin);
        let mut files = 0;
        for entry in std::fs::read_dir(&one).unwrap() {
            let file = entry.unwrap().file_name();
            let a = std::fs::read(one.join(&file)).unwrap();
            let b = std::fs::read(many.join(&file)).unwrap();
            assert!(a == b, "{threads} threads: {file:?} differs");
            files += 1;
        }
        assert_eq!(files, 10, "five sets, CSV and sidecar each");
        std::fs::remove_dir_all(&many).unwrap();
    }
    // Standard input: one pass whatever `--threads` says; the rows are the same.
    let piped = run("threads-stdin", "4", true);
    for set in ["packet", "uniflow", "biflow", "mqttset", "session"] {
        assert_eq!(
            std::fs::read(one.join(format!("{set}_malformed-train.csv"))).unwrap(),
            std::fs::read(piped.join(format!("{set}_stdin.csv"))).unwrap(),
            "{set} from standard input"
        );
    }
    std::fs::remove_dir_all(&piped).unwrap();
    // A FIFO cannot be read twice: one pass too (two would split its bytes between them).
    let fifo_dir = out_dir("threads-fifo-in");
    std::fs::create_dir_all(&fifo_dir).unwrap();
    let fifo = fifo_dir.join("malformed-train.pcap");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let feeder = {
        let (capture, fifo) = (capture.clone(), fifo.clone());
        std::thread::spawn(move || {
            let bytes = std::fs::read(&capture).unwrap();
            // Opened once by the extractor; a second open would wait here forever.
            std::fs::write(&fifo, bytes).unwrap();
        })
    };
    let dir = out_dir("threads-fifo");
    let out = bin()
        .args(["extract", "--set", "packet,uniflow,biflow,mqttset,session"])
        .args(["--threads", "4", "--label", "malformed", "-o"])
        .arg(&dir)
        .arg(&fifo)
        .output()
        .unwrap();
    feeder.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    for set in ["packet", "uniflow", "biflow", "mqttset", "session"] {
        let name = format!("{set}_malformed-train.csv");
        assert!(
            std::fs::read(one.join(&name)).unwrap() == std::fs::read(dir.join(&name)).unwrap(),
            "{set} from a FIFO"
        );
    }
    for d in [&one, &dir, &fifo_dir] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn a_truncated_capture_keeps_the_rows_before_the_fault_and_exits_2() {
    let Some(flood) = shared("mqttset-train/flood-train.pcap") else {
        return;
    };
    let bytes = std::fs::read(&flood).unwrap();
    let dir = out_dir("truncated");
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("cut.pcap");
    // Cut in the middle of a record (58 packets of up to 32 KB: about half come whole first).
    std::fs::write(&cut, &bytes[..bytes.len() / 2 + 7]).unwrap();
    let out = bin()
        .args(["extract", "--set", "packet,uniflow", "-o"])
        .arg(&dir)
        .arg(&cut)
        .arg(&flood)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cut.pcap"), "{stderr}");
    assert!(stderr.contains("packet"), "{stderr}");
    let cut_rows = lines(&dir.join("packet_cut.csv")).len();
    let full_rows = lines(&dir.join("packet_flood-train.csv")).len();
    assert!(
        cut_rows > 10 && cut_rows < full_rows,
        "{cut_rows} vs {full_rows}"
    );
    assert!(lines(&dir.join("uniflow_cut.csv")).len() > 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn usage_errors_exit_64_before_writing() {
    let dir = out_dir("usage");
    for args in [
        vec!["extract", "--set", "packets", "-o", "X", "a.pcap"],
        vec!["extract", "--flow-timeout", "soon", "-o", "X", "a.pcap"],
        vec!["extract", "--attacker", "host", "-o", "X", "a.pcap"],
        vec!["extract", "-o", "X", "a/x.pcap", "b/x.pcapng"],
    ] {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                if *a == "X" {
                    dir.display().to_string()
                } else {
                    a.to_string()
                }
            })
            .collect();
        let out = bin().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(64), "{args:?}: {out:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
    }
    assert!(!dir.exists(), "nothing is written on a usage error");
}
