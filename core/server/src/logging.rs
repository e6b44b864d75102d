//! Logs on standard error, as text or JSON lines. Text logs escape every
//! control character of every field (a line break in a path, a terminal
//! escape in a header), so nothing a client sends can forge a log line or
//! drive the operator's terminal; JSON quotes its strings already.

use std::fmt;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{Writer, debug_fn};

/// How log lines are written.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Logs at `RUST_LOG`'s levels (info by default) in `format`.
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours for a person at a terminal; none in a file or a collector.
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.fmt_fields(escaping_fields()).init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Text fields as `name=value`, the message bare, control characters
/// escaped (`\n`, `\u{1b}`).
fn escaping_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> {
    debug_fn(
        |writer: &mut Writer<'_>, field: &tracing::field::Field, value: &dyn fmt::Debug| {
            let text = escape_controls(&format!("{value:?}"));
            match field.name() {
                "message" => writer.write_str(&text),
                name => write!(writer, "{name}={text}"),
            }
        },
    )
    .delimited(" ")
}

/// `text` with each control character written as its escape.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || is_bidi_control(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters that reorder what a terminal shows (a right-to-left override
/// can make a log line read as something else).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_a_client_sends_can_start_a_line_or_drive_a_terminal() {
        assert_eq!(
            escape_controls("demo\nINFO forged\u{1b}[31m\u{202e}x"),
            "demo\\nINFO forged\\u{1b}[31m\\u{202e}x"
        );
        assert_eq!(escape_controls("plain text, é"), "plain text, é");
    }

    #[test]
    fn a_text_log_line_stays_one_line() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                if let Ok(mut written) = self.0.lock() {
                    written.extend_from_slice(buf);
                }
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let written = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .fmt_fields(escaping_fields())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let workspace = "demo\nINFO forged line";
            tracing::info!(%workspace, "denied {}", "x\ny");
        });
        let text = String::from_utf8(written.0.lock().map(|b| b.clone()).unwrap_or_default())
            .unwrap_or_default();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains("denied x\\ny workspace=demo\\nINFO forged line"),
            "{text}"
        );
    }
}
