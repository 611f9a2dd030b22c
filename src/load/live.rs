//! The live line of a running command: one line on stderr, redrawn in place, only when stderr
//! is a terminal and the user did not ask for `--quiet` (a pipe or a CI log gets nothing).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Live(Option<ProgressBar>);

impl Live {
    pub fn new(quiet: bool) -> Live {
        Live(Live::wanted(quiet).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4));
            bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        }))
    }

    /// Whether a live line is drawn at all.
    pub fn wanted(quiet: bool) -> bool {
        !quiet && std::io::stderr().is_terminal()
    }

    pub fn set(&self, msg: String) {
        if let Some(bar) = &self.0 {
            bar.set_message(msg);
        }
    }

    /// Removes the line, leaving the terminal as it was.
    pub fn clear(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.clear();
    }
}
