//! Customers in and out of spreadsheets. Import reads what Excel and Google Sheets write: UTF-8 with or
//! without a byte-order mark, Excel's "Unicode text" (UTF-16, tab-separated), `;` where the decimal
//! comma made Excel pick it, its `sep=` first line; headers in English or Vietnamese, accents optional.
//! Export writes UTF-8 with a byte-order mark (so Excel shows Vietnamese right) and guards cells a
//! spreadsheet would run as a formula.

use crate::custom_fields::FieldDefinition;
use crate::customer::{CustomerFields, CustomerIn};
pub use crate::spreadsheet::Writer;
use crate::spreadsheet::unguard;
use crate::validation::{ValidationError, clip};
use serde_json::Value;
use std::collections::BTreeMap;

/// The most rows one file imports (a bigger list is imported in several files).
pub const MAX_ROWS: usize = 50_000;
/// The most columns a file has.
pub const MAX_COLUMNS: usize = 100;

/// A file read into rows of text, each with the line it starts on (as a spreadsheet numbers them:
/// the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<(u64, Vec<String>)>,
}

/// What a column of the file fills in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    FullName,
    Phones,
    Emails,
    Cif,
    Notes,
    /// A field an admin defined, by its key.
    Custom(String),
    /// Not a customer's field (an exported `id`, a column of the business's own): left out, named in
    /// the report.
    Ignored,
}

fn file_error(problem: impl Into<String>) -> ValidationError {
    ValidationError::new("file", problem)
}

/// The text of a file, from the encodings spreadsheets save in.
fn decode(bytes: &[u8]) -> Result<String, ValidationError> {
    let utf16 = |bytes: &[u8], pair: fn([u8; 2]) -> u16| {
        let units: Vec<u16> = bytes
            .chunks(2)
            .map(|c| pair([c[0], c.get(1).copied().unwrap_or(0)]))
            .collect();
        String::from_utf16(&units).map_err(|_| file_error("the file says it is UTF-16 but is not"))
    };
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => utf8(rest),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes),
        _ => utf8(bytes),
    }
}

fn utf8(bytes: &[u8]) -> Result<String, ValidationError> {
    String::from_utf8(bytes.to_vec()).map_err(|e| {
        let line = bytes[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        file_error(format!(
            "line {line} is not UTF-8; in Excel, save as \"CSV UTF-8 (Comma delimited)\""
        ))
    })
}

/// The separator: Excel's `sep=` line if there is one (dropped), else whichever of tab, `;` and `,`
/// the header line has most of, outside quotes.
fn separator(text: &str) -> (u8, &str) {
    let first = text.lines().next().unwrap_or_default();
    if let Some(sep) = first.strip_prefix("sep=")
        && let [byte] = sep.trim_end().as_bytes()
    {
        let rest = text.split_once('\n').map_or("", |(_, rest)| rest);
        return (*byte, rest);
    }
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for c in first.chars() {
        match c {
            '"' => quoted = !quoted,
            '\t' if !quoted => counts[0] += 1,
            ';' if !quoted => counts[1] += 1,
            ',' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = [b'\t', b';', b',']
        .into_iter()
        .zip(counts)
        .fold(
            (b',', 0),
            |best, (sep, n)| if n > best.1 { (sep, n) } else { best },
        );
    (best.0, text)
}

/// Reads a file into a [`Table`], refusing what cannot be read at all (with the line).
pub fn read(bytes: &[u8]) -> Result<Table, ValidationError> {
    let text = decode(bytes)?;
    let (sep, text) = separator(&text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sep)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    // Lines counted from the byte each record starts at (the reader's own count lags behind CRLF).
    let (mut counted_to, mut line) = (0usize, 1u64);
    let mut read_next = |reader: &mut csv::Reader<&[u8]>, record: &mut csv::StringRecord| {
        let more = reader
            .read_record(record)
            .map_err(|e| file_error(format!("the line after line {line} cannot be read: {e}")))?;
        // A record after CRLF starts at the LF the previous one left: counted with it.
        let start = record
            .position()
            .map_or(counted_to, |p| p.byte() as usize + 1)
            .min(text.len());
        if start > counted_to {
            line += text.as_bytes()[counted_to..start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            counted_to = start;
        }
        Ok::<_, ValidationError>(more.then_some(line))
    };
    let headers: Vec<String> = match read_next(&mut reader, &mut record)? {
        Some(_) => record.iter().map(|h| h.trim().to_owned()).collect(),
        None => return Err(file_error("the file is empty")),
    };
    if headers.len() > MAX_COLUMNS {
        return Err(file_error(format!("at most {MAX_COLUMNS} columns")));
    }
    let mut rows = Vec::new();
    while let Some(line) = read_next(&mut reader, &mut record)? {
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(file_error(format!(
                "at most {MAX_ROWS} customers per file; split it"
            )));
        }
        rows.push((line, record.iter().map(unguard).collect()));
    }
    Ok(Table { headers, rows })
}

/// A header as compared: accents, case, spaces and punctuation ignored ("Số điện thoại" is
/// "sodienthoai", "phoneNumber" is "phonenumber").
fn header_key(header: &str) -> String {
    crate::search::fold(header)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// The names each column is known by, in English (the export's) and Vietnamese.
const KNOWN_HEADERS: &[(&[&str], Column)] = &[
    (
        &[
            "fullname",
            "name",
            "hoten",
            "hovaten",
            "ten",
            "tenkhachhang",
            "khachhang",
        ],
        Column::FullName,
    ),
    (
        &[
            "phone",
            "phones",
            "phonenumber",
            "phonenumbers",
            "mobile",
            "sodienthoai",
            "dienthoai",
            "sdt",
            "didong",
        ],
        Column::Phones,
    ),
    (&["email", "emails", "thudientu"], Column::Emails),
    (&["cif", "makhachhang", "makh"], Column::Cif),
    (&["notes", "note", "ghichu"], Column::Notes),
];

/// What each header fills in, and the headers left out. A file without a name column, or with one
/// column twice, is refused.
pub fn columns(
    headers: &[String],
    fields: &[FieldDefinition],
) -> Result<(Vec<Column>, Vec<String>), ValidationError> {
    let mut columns = Vec::with_capacity(headers.len());
    let mut ignored = Vec::new();
    for header in headers {
        let key = header_key(header);
        let column = KNOWN_HEADERS
            .iter()
            .find(|(names, _)| names.contains(&key.as_str()))
            .map(|(_, column)| column.clone())
            .or_else(|| {
                fields
                    .iter()
                    .find(|f| header_key(&f.key) == key || header_key(&f.label) == key)
                    .map(|f| Column::Custom(f.key.clone()))
            })
            .unwrap_or(Column::Ignored);
        if column == Column::Ignored {
            ignored.push(clip(header, 64));
        } else if columns.contains(&column) {
            return Err(file_error(format!(
                "two columns fill in the same field (`{}`)",
                clip(header, 64)
            )));
        }
        columns.push(column);
    }
    if !columns.contains(&Column::FullName) {
        return Err(file_error(
            "no column for the customer's name (`fullName` or `Họ tên`)",
        ));
    }
    Ok((columns, ignored))
}

/// One row as a new customer's fields, or the reason it is refused (naming the column).
pub fn customer(
    cells: &[String],
    columns: &[Column],
    headers: &[String],
    fields: &[FieldDefinition],
) -> Result<CustomerFields, String> {
    let named = cells
        .iter()
        .zip(columns)
        .any(|(cell, column)| *column == Column::FullName && !cell.trim().is_empty());
    if !named {
        return Err("the name is empty".to_owned());
    }
    let mut body = CustomerIn::default();
    let mut custom = BTreeMap::new();
    for ((cell, column), header) in cells.iter().zip(columns).zip(headers) {
        let cell = cell.trim();
        let list = || -> Vec<String> {
            cell.split([';', ',', '/', '\n', '|'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        match column {
            Column::FullName => body.full_name = Some(cell.to_owned()),
            Column::Phones => body.phone_numbers = Some(list()),
            Column::Emails => body.emails = Some(list()),
            Column::Cif => body.cif = Some(cell.to_owned()),
            Column::Notes => body.notes = Some(cell.to_owned()),
            Column::Custom(key) => {
                let field = fields.iter().find(|f| &f.key == key);
                if let Some(field) = field {
                    let value = field
                        .value(header, &Value::from(cell))
                        .map_err(|e| format!("column `{}`: {}", clip(header, 64), e.problem))?;
                    if let Some(value) = value {
                        custom.insert(key.clone(), Value::from(value));
                    }
                }
            }
            Column::Ignored => {}
        }
    }
    let mut checked = body.validate().map_err(|e| {
        let column = match e.field.split('[').next().unwrap_or_default() {
            "phoneNumbers" => "phone".to_owned(),
            other => other.to_owned(),
        };
        format!("column `{column}`: {}", e.problem)
    })?;
    checked.custom = custom;
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custom_fields::{FieldIn, FieldKind};

    fn tier() -> FieldDefinition {
        FieldIn {
            key: Some("hang".into()),
            label: Some("Hạng thành viên".into()),
            kind: Some(FieldKind::Choice),
            choices: Some(vec!["Bạc".into(), "Vàng".into()]),
            position: None,
        }
        .definition()
        .expect("valid")
    }

    #[test]
    fn excel_files_of_every_kind_read_the_same() {
        let text = "Họ tên,Số điện thoại,Email\r\nNguyễn Văn An,0912 345 678,an@example.vn\r\n";
        let plain = read(text.as_bytes()).expect("utf-8");
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(text.as_bytes());
        assert_eq!(read(&bom).expect("bom"), plain);
        let semicolons = text.replace(',', ";");
        assert_eq!(read(semicolons.as_bytes()).expect(";"), plain);
        let sep_line = format!("sep=;\r\n{semicolons}");
        let sep = read(sep_line.as_bytes()).expect("sep=");
        assert_eq!(
            (sep.headers.clone(), sep.rows[0].1.clone()),
            (plain.headers.clone(), plain.rows[0].1.clone())
        );
        let tabs = text.replace(',', "\t");
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(tabs.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(read(&utf16).expect("utf-16"), plain);
        assert_eq!(
            plain.rows[0].0, 2,
            "the first row is line 2, as Excel numbers it"
        );
    }

    #[test]
    fn unreadable_files_say_why() {
        let latin1 = b"name\r\nNguy\xea\xf1 V\xe3n An\r\n";
        let error = read(latin1).expect_err("not utf-8");
        assert!(
            error.problem.contains("line 2") && error.problem.contains("CSV UTF-8"),
            "{error}"
        );
        assert!(read(b"").is_err());
        let (headers, fields) = (vec!["Số điện thoại".to_owned()], [tier()]);
        assert!(
            columns(&headers, &fields)
                .expect_err("no name")
                .problem
                .contains("name")
        );
        let twice = vec!["name".to_owned(), "Họ tên".to_owned()];
        assert!(columns(&twice, &fields).is_err());
    }

    #[test]
    fn headers_are_recognised_in_either_language() {
        let headers: Vec<String> = [
            "HỌ VÀ TÊN",
            "SĐT",
            "e-mail",
            "Ghi chú",
            "Hạng thành viên",
            "id",
        ]
        .map(str::to_owned)
        .to_vec();
        let (found, ignored) = columns(&headers, &[tier()]).expect("columns");
        assert_eq!(
            found,
            [
                Column::FullName,
                Column::Phones,
                Column::Emails,
                Column::Notes,
                Column::Custom("hang".into()),
                Column::Ignored
            ]
        );
        assert_eq!(ignored, ["id"]);
        let row: Vec<String> = [
            "Trần Thị Bình",
            "0912345678; 028 3822 1234",
            "binh@x.vn",
            "",
            "vang",
            "7",
        ]
        .map(str::to_owned)
        .to_vec();
        let fields = customer(&row, &found, &headers, &[tier()]).expect("customer");
        assert_eq!(
            fields.phones,
            Some(vec!["+84912345678".into(), "+842838221234".into()])
        );
        assert_eq!(fields.custom.get("hang"), Some(&Value::from("Vàng")));
        let mut bad = row.clone();
        bad[1] = "gọi sau".into();
        assert!(
            customer(&bad, &found, &headers, &[tier()])
                .expect_err("bad")
                .contains("phone")
        );
        bad[1] = String::new();
        bad[4] = "Đồng".into();
        assert!(
            customer(&bad, &found, &headers, &[tier()])
                .expect_err("bad")
                .contains("Hạng thành viên")
        );
        bad[0] = " ".into();
        assert_eq!(
            customer(&bad, &found, &headers, &[tier()]),
            Err("the name is empty".into())
        );
    }

    #[test]
    fn exports_guard_formulas_and_read_back() {
        let mut writer = Writer::new(&["fullName", "phone"]);
        writer.row(["=HYPERLINK(\"x\")", "+84912345678"]);
        writer.row(["Lê \"Hoa\", Q1", "-"]);
        let bytes = writer.finish();
        assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
        let text = String::from_utf8(bytes[3..].to_vec()).expect("utf-8");
        assert!(
            text.contains("'=HYPERLINK") && text.contains("'+84912345678"),
            "{text}"
        );
        let table = read(&bytes).expect("read back");
        assert_eq!(table.rows[0].1, ["=HYPERLINK(\"x\")", "+84912345678"]);
        assert_eq!(table.rows[1].1, ["Lê \"Hoa\", Q1", "-"]);
    }
}
