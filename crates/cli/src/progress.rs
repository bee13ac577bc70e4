//! Progress bars on a terminal, nothing when standard error is piped.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A byte-progress bar for reading `name` (of `total` bytes, when known). Hidden unless standard
/// error is a terminal.
pub fn bytes(name: &str, total: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template(
                    "{msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{msg:30!} {spinner} {bytes} {bytes_per_sec}")
                .expect("valid template"),
        ),
    };
    bar.set_message(name.to_string());
    bar
}

/// A spinner for work of unknown length. Hidden unless standard error is a terminal.
pub fn spinner(message: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_message(message.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// A bar over a known number of steps (trees, epochs, iterations). Hidden unless standard error is a
/// terminal.
pub fn steps(name: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr())
        .with_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed} eta {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        )
        .with_message(name.to_string())
}

/// A bar showing a fraction of the work done, in percent (a fit spread over several splits).
/// Hidden unless standard error is a terminal.
pub fn fraction(name: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr())
        .with_style(
            ProgressStyle::with_template("{msg:30!} [{bar:30}] {percent:>3}% {elapsed} eta {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        )
        .with_message(name.to_string())
}
