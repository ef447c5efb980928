//! Files for spreadsheets: CSV as Excel opens it with Vietnamese right (UTF-8 with a byte-order mark,
//! CRLF lines), with cells a spreadsheet would run as a formula guarded. Exports of customers and of
//! the call log write through [`Writer`].

/// A cell as exported: text a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR
/// first) gets a leading `'`, which spreadsheets show as text and an import takes off again (`unguard`).
fn guard(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// The reverse of [`guard`], for files that went through an export.
pub(crate) fn unguard(cell: &str) -> String {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest.to_owned(),
        _ => cell.to_owned(),
    }
}

/// Writes rows as a CSV file Excel opens with its accents right: a byte-order mark, CRLF lines.
pub struct Writer {
    inner: csv::Writer<Vec<u8>>,
}

impl Writer {
    pub fn new(headers: &[&str]) -> Self {
        let mut bytes = Vec::with_capacity(64 * 1024);
        bytes.extend_from_slice(&[0xEF, 0xBB, 0xBF]);
        let mut inner = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(bytes);
        // Writing into a Vec cannot fail.
        let _ = inner.write_record(headers);
        Self { inner }
    }

    pub fn row<'a>(&mut self, cells: impl IntoIterator<Item = &'a str>) {
        let _ = self.inner.write_record(cells.into_iter().map(guard));
    }

    pub fn finish(self) -> Vec<u8> {
        // Flushing into a Vec cannot fail.
        self.inner.into_inner().unwrap_or_default()
    }
}
