//! `--output table|json`: tables for people, JSON for scripts, both on stdout.

use std::io::Write;

use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;

use crate::error::CliError;

/// The output format (`--output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns with a header row.
    Table,
    /// One JSON document (pretty-printed), with the field names the README lists.
    Json,
}

/// Writes results in the chosen format.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    format: Format,
}

impl Printer {
    /// A printer for `format`.
    pub fn new(format: Format) -> Self {
        Self { format }
    }

    /// True for `--output json`.
    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// Prints `value` as JSON, or the text `table` makes from it.
    pub fn print<T: Serialize>(
        &self,
        value: &T,
        table: impl FnOnce(&T) -> String,
    ) -> Result<(), CliError> {
        let text = match self.format {
            Format::Json => serde_json::to_string_pretty(value).map_err(|e| {
                CliError::Output(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
            })?,
            Format::Table => table(value),
        };
        write_stdout(&text)
    }
}

/// Writes `text` and a line break to stdout. A reader that went away (`| head`) is not a
/// failure of the command.
fn write_stdout(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    let written = if text.is_empty() {
        Ok(())
    } else {
        writeln!(stdout, "{text}")
    };
    match written.and_then(|()| stdout.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::Output(error))
        }
        _ => Ok(()),
    }
}

/// Aligned columns under an upper-case header, without borders (like `kubectl get`), so
/// that people can read them and `awk` can still split them.
pub fn columns<R, C>(header: &[&str], rows: R) -> String
where
    R: IntoIterator<Item = C>,
    C: IntoIterator<Item = String>,
{
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().copied());
    for row in rows {
        table.add_row(row.into_iter().map(|cell| cell_text(&cell)));
    }
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    table.trim_fmt()
}

/// `FIELD  value` lines for one object.
pub fn fields(pairs: &[(&str, String)]) -> String {
    columns(
        &["FIELD", "VALUE"],
        pairs
            .iter()
            .map(|(key, value)| [(*key).to_owned(), value.clone()]),
    )
}

/// An empty cell shows `-`, so that columns never collapse.
fn cell_text(cell: &str) -> String {
    if cell.is_empty() {
        "-".to_owned()
    } else {
        cell.to_owned()
    }
}

/// `Some(text)` or `-`.
pub fn or_dash(value: Option<&str>) -> String {
    value.unwrap_or("-").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_without_borders_or_trailing_spaces() {
        let text = columns(
            &["ID", "NAME"],
            [
                vec!["1".to_owned(), "web-0001".to_owned()],
                vec!["22".to_owned(), String::new()],
            ],
        );
        assert_eq!(text, "ID  NAME\n1   web-0001\n22  -");
    }
}
