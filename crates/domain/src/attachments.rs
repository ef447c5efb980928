//! Files agents attach to a reply: which ones are accepted, judged by their bytes (a name or a
//! declared type can lie), and how a bot is told of them.

use crate::validation::ValidationError;
use serde::{Deserialize, Serialize};

/// Largest file an agent may attach (Messenger takes up to 25 MB; a reply's photo or price list is
/// far smaller, and the file is kept in the database).
pub const MAX_ATTACHMENT_BYTES: usize = 8 * 1024 * 1024;
/// Most files on one reply.
pub const MAX_ATTACHMENTS_PER_REPLY: usize = 5;
/// Longest file name kept (characters).
pub const MAX_FILE_NAME_CHARS: usize = 200;

crate::named_enum! {
    /// How Messenger sends a file: as a picture, or as a document to download.
    pub enum AttachmentKind {
        Image = "image",
        File = "file",
    }
}

/// What an accepted file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    pub kind: AttachmentKind,
    pub content_type: &'static str,
}

/// The types accepted, by their first bytes: pictures Messenger shows inline, and the documents a shop
/// sends (PDF; Word, Excel and PowerPoint, which are ZIP files named so; plain text and CSV).
pub fn sniff(bytes: &[u8], file_name: &str) -> Result<Sniffed, ValidationError> {
    let image = |content_type| Sniffed {
        kind: AttachmentKind::Image,
        content_type,
    };
    let file = |content_type| Sniffed {
        kind: AttachmentKind::File,
        content_type,
    };
    if bytes.is_empty() {
        return Err(ValidationError::new("file", "is empty"));
    }
    if bytes.len() > MAX_ATTACHMENT_BYTES {
        return Err(ValidationError::new(
            "file",
            format!("is larger than {} MB", MAX_ATTACHMENT_BYTES / (1024 * 1024)),
        ));
    }
    let extension = file_name
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .unwrap_or_default();
    let sniffed = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        image("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        image("image/png")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        image("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        image("image/webp")
    } else if bytes.starts_with(b"%PDF-") {
        file("application/pdf")
    } else if bytes.starts_with(b"PK\x03\x04") {
        match extension.as_str() {
            "docx" => {
                file("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
            }
            "xlsx" => file("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            "pptx" => {
                file("application/vnd.openxmlformats-officedocument.presentationml.presentation")
            }
            _ => {
                return Err(ValidationError::new(
                    "file",
                    "a ZIP file is accepted only as a Word, Excel or PowerPoint document (.docx, .xlsx, .pptx)",
                ));
            }
        }
    } else if matches!(extension.as_str(), "txt" | "csv")
        && std::str::from_utf8(bytes).is_ok_and(|text| !text.contains('\0'))
    {
        file(if extension == "csv" {
            "text/csv; charset=utf-8"
        } else {
            "text/plain; charset=utf-8"
        })
    } else {
        return Err(ValidationError::new(
            "file",
            "must be a picture (JPEG, PNG, GIF, WebP) or a document (PDF, .docx, .xlsx, .pptx, .txt, .csv)",
        ));
    };
    Ok(sniffed)
}

/// A file name as it is kept and shown: its last path segment, without control characters, at most
/// [`MAX_FILE_NAME_CHARS`]; `tệp` when nothing is left.
pub fn clean_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_FILE_NAME_CHARS)
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "tệp".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// A file of a `send_message_command`, as the bot receives it: it downloads `url` (a path on the
/// sender) with its bot token, then sends the bytes to the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommandAttachment {
    /// `image` or `file`, as Messenger's attachment `type`.
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "image")]
    pub kind: AttachmentKind,
    /// The sender's path to download it from (`/api/attachments/{id}`), with the bot's token.
    #[schema(example = "/api/attachments/12")]
    pub url: String,
    #[schema(example = "bang-gia.pdf")]
    pub name: String,
    #[schema(example = "application/pdf")]
    pub content_type: String,
    pub size: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_judged_by_their_bytes_not_their_names() {
        let png = b"\x89PNG\r\n\x1a\n rest";
        assert_eq!(
            sniff(png, "anh.jpg").expect("png").content_type,
            "image/png"
        );
        assert_eq!(
            sniff(b"\xFF\xD8\xFF\xE0", "x").expect("jpeg").kind,
            AttachmentKind::Image
        );
        assert_eq!(
            sniff(b"RIFF\0\0\0\0WEBPVP8 ", "a.webp")
                .expect("webp")
                .content_type,
            "image/webp"
        );
        assert_eq!(
            sniff(b"%PDF-1.7", "bang-gia.pdf").expect("pdf").kind,
            AttachmentKind::File
        );
        assert!(sniff(b"PK\x03\x04", "don-hang.xlsx").is_ok());
        assert_eq!(
            sniff(b"PK\x03\x04", "virus.zip").expect_err("zip").field,
            "file"
        );
        assert!(sniff("Tên,Giá\nÁo,100000\n".as_bytes(), "gia.csv").is_ok());
        for (bytes, name) in [
            (&b"MZ\x90\0"[..], "setup.exe"),
            (b"<html><script>", "trang.html"),
            (b"MZ\x90\0", "anh.png"),
            (b"a\0b", "x.txt"),
            (b"", "rong.png"),
        ] {
            assert_eq!(sniff(bytes, name).expect_err(name).field, "file", "{name}");
        }
        let huge = vec![0xFF; MAX_ATTACHMENT_BYTES + 1];
        assert!(sniff(&huge, "to.jpg").is_err());
    }

    #[test]
    fn file_names_keep_their_last_segment_and_no_control_characters() {
        assert_eq!(clean_file_name("C:\\Users\\lan\\Ảnh áo.png"), "Ảnh áo.png");
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("a\nb\r.pdf"), "ab.pdf");
        assert_eq!(clean_file_name(""), "tệp");
        assert_eq!(clean_file_name(".."), "tệp");
        assert_eq!(
            clean_file_name(&"x".repeat(500)).chars().count(),
            MAX_FILE_NAME_CHARS
        );
    }
}
