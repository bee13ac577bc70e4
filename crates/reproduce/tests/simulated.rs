//! The default run (`reproduce --quick`, simulated testbeds): every table and figure, numbers
//! equal to the JSON, the same numbers for the same seed, and the HTML rendered by headless
//! Chromium with every figure drawn.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

#[test]
fn quick_simulated_run_reports_everything_and_repeats_exactly() {
    let out = temp_dir("sim");
    let start = std::time::Instant::now();
    let r = quick_run(None, &out, 0);
    let seconds = start.elapsed().as_secs_f64();
    check_report(&out);
    assert_eq!(r.provenance.source, "simulated");
    assert!(!r.provenance.simulation.is_empty());
    assert!(r
        .provenance
        .stages
        .iter()
        .any(|s| s.stage.starts_with("simulate")));
    assert!(r.hindy2020.as_ref().unwrap().levels.len() == 3);
    // Each paper runs on its own testbed: no fallback note, hindy2020 simulated for Hindy.
    let sims = &r.provenance.simulation;
    assert!(sims.iter().all(|s| s.get("note").is_none()), "{sims:?}");
    for (scenario, paper) in [("hindy2020", "hindy2020"), ("mqttset2020", "mqttset2020")] {
        assert!(
            sims.iter()
                .any(|s| s["scenario"] == scenario && s["used_by"] == paper),
            "{sims:?}"
        );
    }
    // Beyond the papers: both protocols on context and session, every classifier.
    let h = r.hindy2020.as_ref().unwrap();
    let sets: Vec<&str> = h.beyond.iter().map(|l| l.level.as_str()).collect();
    assert_eq!(sets, ["context", "session"]);
    assert!(h.beyond.iter().all(|l| l.models.len() == 7));
    let m = r.mqttset2020.as_ref().unwrap();
    assert_eq!(m.beyond.len(), 2);
    assert!(m
        .beyond
        .iter()
        .all(|s| s.variants.len() == 2 && s.variants.iter().all(|v| v.models.len() == 6)));
    // The hold-out of Hindy's protocol is run in the quick run too.
    assert!(h.levels.iter().all(|l| l
        .models
        .iter()
        .all(|x| x.splits.iter().any(|s| s.split == "hold-out"))));
    // Within the budget for --quick (3 minutes on this 2-core machine), with margin.
    assert!(seconds < 150.0, "quick run took {seconds:.0} s");
    let out2 = temp_dir("sim-again");
    let r2 = quick_run(None, &out2, 0);
    assert_eq!(scores(&r), scores(&r2), "same seed, different numbers");
    // The captures themselves are byte-identical too.
    let a = std::fs::read(out.join("data/mqttset2020/dos.pcap")).unwrap();
    let b = std::fs::read(out2.join("data/mqttset2020/dos.pcap")).unwrap();
    assert!(a == b);
    chromium_renders_every_figure(&out);
    remove_dirs(&[&out, &out2]);
}

/// Opens a copy of report.html with a script that records, after load, each image's natural
/// size, in headless Chromium, and reads the DOM it dumps.
fn chromium_renders_every_figure(out: &Path) {
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let n_img = html.matches("<img ").count();
    assert!(n_img >= 17, "{n_img} images");
    let probe = "<script>window.addEventListener('load',()=>{const r=[...document.images].map(i=>i.complete&&i.naturalWidth>0&&i.naturalHeight>0?'ok:'+i.naturalWidth+'x'+i.naturalHeight:'broken:'+i.alt);const p=document.createElement('pre');p.id='render-check';p.textContent=r.join('\\n');document.body.appendChild(p);});</script>";
    let page = out.join("render-check.html");
    std::fs::write(&page, html.replace("</body>", &format!("{probe}</body>"))).unwrap();
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("headless Chromium is needed for this test (Debian: apt-get install chromium)");
    let profile = out.join("chromium-profile");
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&output.stdout);
    let start = dom.find("<pre id=\"render-check\">").unwrap_or_else(|| {
        panic!(
            "no render check in the DOM; chromium stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let text = &dom[start..dom[start..].find("</pre>").map_or(dom.len(), |e| start + e)];
    let ok = text.matches("ok:").count();
    assert_eq!(ok, n_img, "images not rendered: {text}");
    assert!(!text.contains("broken:"), "{text}");
    // A screenshot of the page's top, for a person to look at.
    let shot = out.join("report-screenshot.png");
    let status = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", out.join("report.html").display()))
        .output()
        .unwrap();
    assert!(
        status.status.success() && shot.is_file(),
        "screenshot failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}
