//! Capturing what `tracing` logs.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::subscriber::DefaultGuard;
use tracing_subscriber::EnvFilter;

/// A shared buffer that log lines are written to; clones share the buffer.
#[derive(Debug, Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Captures every log line of this thread that `filter` lets through (plain text, no
    /// colours) until the guard is dropped. A current-thread test runtime has one thread,
    /// so every task it runs logs here.
    pub fn start(filter: EnvFilter) -> (Self, DefaultGuard) {
        let captured = Self::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    /// The log text so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_through_the_filter_are_kept() {
        let (logs, guard) = LogCapture::start(EnvFilter::new("info"));
        tracing::info!(answer = 42, "kept");
        tracing::debug!("dropped");
        drop(guard);
        let text = logs.text();
        assert!(text.contains("kept answer=42"), "{text}");
        assert!(!text.contains("dropped"), "{text}");
    }
}
