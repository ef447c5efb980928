//! Files agents attach to replies: uploaded first, then tied to the message they were sent with (in
//! the send's transaction), served to consoles that see the message's account and to its bot.

use crate::sql::{Tx, args, read_row};
use crate::{Result, StorageError, Store};
use serde::Serialize;
use switchboard_domain::attachments::{AttachmentKind, CommandAttachment, Sniffed};
use switchboard_domain::{UnixMillis, ValidationError};

/// An uploaded file, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AttachmentView {
    pub id: i64,
    #[schema(example = "bang-gia.pdf")]
    pub name: String,
    /// `image` or `file`.
    #[schema(value_type = String, example = "image")]
    pub kind: AttachmentKind,
    #[schema(example = "image/jpeg")]
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// Where it is served (`GET`, with the caller's token).
    #[schema(example = "/api/attachments/12")]
    pub url: String,
}

/// A stored file with its bytes and whose it is, for serving it.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub view: AttachmentView,
    pub bytes: Vec<u8>,
    /// Who uploaded it (`None`: an API token, or a user since deleted).
    pub uploaded_by: Option<i64>,
    /// The account of the message it was sent with; `None` while not sent.
    pub account: Option<String>,
}

/// The path a file is served at.
pub(crate) fn url_of(id: i64) -> String {
    format!("/api/attachments/{id}")
}

struct Row {
    id: i64,
    name: String,
    kind: AttachmentKind,
    content_type: String,
    size: i64,
}

impl Row {
    fn view(self) -> AttachmentView {
        AttachmentView {
            url: url_of(self.id),
            id: self.id,
            name: self.name,
            kind: self.kind,
            content_type: self.content_type,
            size: self.size,
        }
    }
}

/// Ties the files `ids` (in order) to `message_id`: each must exist, be unsent, and have been
/// uploaded by `author` (an API token's files have no uploader). Answers them as the command and the
/// message carry them.
pub(crate) fn attach(
    tx: &Tx<'_>,
    ids: &[i64],
    author: Option<i64>,
    message_id: i64,
) -> Result<Vec<CommandAttachment>> {
    let mut attached = Vec::with_capacity(ids.len());
    for (index, id) in ids.iter().enumerate() {
        let field = || format!("attachment_ids[{index}]");
        let found: Option<(Row, Option<i64>, Option<i64>)> = tx.optional(
            "SELECT id, name, kind, content_type, size, uploaded_by, message_id FROM attachments WHERE id = ?1",
            args![id],
            |r| {
                Ok((
                    Row {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        kind: r.get(2)?,
                        content_type: r.get(3)?,
                        size: r.get(4)?,
                    },
                    r.get(5)?,
                    r.get(6)?,
                ))
            },
        )?;
        let Some((row, uploaded_by, sent_with)) = found else {
            return Err(ValidationError::new(field(), format!("no such file {id}")).into());
        };
        if sent_with.is_some() {
            return Err(
                ValidationError::new(field(), "was already sent with another reply").into(),
            );
        }
        if uploaded_by != author {
            return Err(ValidationError::new(field(), "was uploaded by someone else").into());
        }
        tx.execute(
            "UPDATE attachments SET message_id = ?2 WHERE id = ?1",
            args![id, message_id],
        )?;
        attached.push(CommandAttachment {
            kind: row.kind,
            url: url_of(row.id),
            name: row.name,
            content_type: row.content_type,
            size: row.size,
        });
    }
    Ok(attached)
}

/// How a reply's files are kept in its message's `attachments`: the shape incoming messages use
/// (`type` and `url`), with the file's name, type and size beside; a retry reads them back from there.
pub(crate) fn message_json(attached: &[CommandAttachment]) -> Result<serde_json::Value> {
    Ok(serde_json::to_value(attached)?)
}

impl Store {
    /// Keeps an uploaded file, checked by the caller ([`switchboard_domain::attachments::sniff`]).
    pub async fn upload_attachment(
        &self,
        name: String,
        sniffed: Sniffed,
        bytes: Vec<u8>,
        uploaded_by: Option<i64>,
    ) -> Result<AttachmentView> {
        self.write(move |tx| {
            let size = i64::try_from(bytes.len())
                .map_err(|_| StorageError::Corrupt("a file of more than 2^63 bytes".into()))?;
            let id: i64 = tx.one(
                "INSERT INTO attachments (name, kind, content_type, size, bytes, uploaded_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
                args![
                    name,
                    sniffed.kind,
                    sniffed.content_type,
                    size,
                    bytes,
                    uploaded_by,
                    UnixMillis::now().0
                ],
                |r| r.get(0),
            )?;
            Ok(Row {
                id,
                name,
                kind: sniffed.kind,
                content_type: sniffed.content_type.to_owned(),
                size,
            }
            .view())
        })
        .await
    }

    /// A stored file with its bytes, or `None`.
    pub async fn attachment(&self, id: i64) -> Result<Option<StoredFile>> {
        self.read(move |tx| {
            tx.optional(
                "SELECT f.id, f.name, f.kind, f.content_type, f.size, f.bytes, f.uploaded_by, a.user_id_chat
                 FROM attachments f
                 LEFT JOIN messages m ON m.id = f.message_id
                 LEFT JOIN facebook_accounts a ON a.id = m.account_id
                 WHERE f.id = ?1",
                args![id],
                |r| {
                    let row = read_row!(r => Row { id, name, kind, content_type, size });
                    Ok(StoredFile {
                        view: row.view(),
                        bytes: r.get(5)?,
                        uploaded_by: r.get(6)?,
                        account: r.get(7)?,
                    })
                },
            )
        })
        .await
    }

    /// Deletes files uploaded before `before` and never sent. Answers how many.
    pub async fn forget_unsent_attachments(&self, before: UnixMillis) -> Result<usize> {
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM attachments WHERE message_id IS NULL AND created_at < ?1",
                args![before.0],
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::StorageError;
    use switchboard_domain::AccountView;
    use switchboard_domain::attachments::sniff;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n a small picture";

    #[tokio::test]
    async fn a_file_goes_with_one_reply_of_its_uploader_and_reaches_the_bot_with_it() {
        // Page1 with one conversation; agents Lan and Minh.
        let (_db, store, conversation, [lan, minh, _]) = crate::teamwork_tests::team().await;
        let upload = |who: i64| {
            let store = store.clone();
            async move {
                store
                    .upload_attachment(
                        "áo.png".into(),
                        sniff(PNG, "áo.png").expect("png"),
                        PNG.to_vec(),
                        Some(who),
                    )
                    .await
                    .expect("upload")
            }
        };
        let picture = upload(lan).await;
        assert_eq!(
            (picture.kind.as_str(), picture.size, picture.url.clone()),
            (
                "image",
                PNG.len() as i64,
                format!("/api/attachments/{}", picture.id)
            )
        );
        let stored = store
            .attachment(picture.id)
            .await
            .expect("read")
            .expect("stored");
        assert_eq!((stored.bytes.as_slice(), stored.account), (PNG, None));

        // Someone else's file, or one that does not exist, is refused by its place in the list,
        // and nothing is sent.
        let not_hers = upload(minh).await;
        for (ids, field) in [
            (vec![picture.id, not_hers.id], "attachment_ids[1]"),
            (vec![picture.id + 1000], "attachment_ids[0]"),
        ] {
            let refused = store
                .queue_reply(conversation, "Dạ".into(), ids, Some(lan), AccountView::All)
                .await
                .expect_err("refused");
            assert!(
                matches!(&refused, StorageError::Invalid(e) if e.field == field),
                "{refused:?}"
            );
        }
        assert_eq!(
            store
                .commands_to_deliver("page1", 0, 10)
                .await
                .expect("commands")
                .len(),
            0
        );

        // Her own file goes with her reply: in the message, and in the bot's command.
        let sent = store
            .queue_reply(
                conversation,
                String::new(),
                vec![picture.id],
                Some(lan),
                AccountView::All,
            )
            .await
            .expect("send");
        assert_eq!(sent.message.attachments[0]["url"], picture.url);
        assert_eq!(sent.message.attachments[0]["type"], "image");
        let commands = store
            .commands_to_deliver("page1", 0, 10)
            .await
            .expect("commands");
        let payload: serde_json::Value =
            serde_json::from_str(commands[0].payload.get()).expect("json");
        assert_eq!(payload["attachments"][0]["url"], picture.url);
        assert_eq!(payload["attachments"][0]["name"], "áo.png");
        assert_eq!(payload["text"], "");
        let stored = store
            .attachment(picture.id)
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(stored.account.as_deref(), Some("page1"));

        // Once sent, it cannot go with another reply.
        let again = store
            .queue_reply(
                conversation,
                "lại".into(),
                vec![picture.id],
                Some(lan),
                AccountView::All,
            )
            .await
            .expect_err("sent already");
        assert!(matches!(&again, StorageError::Invalid(e) if e.field == "attachment_ids[0]"));

        // Unsent uploads are forgotten after a while; sent ones stay.
        let later = switchboard_domain::UnixMillis(switchboard_domain::UnixMillis::now().0 + 1);
        assert_eq!(
            store
                .forget_unsent_attachments(later)
                .await
                .expect("forget"),
            1
        );
        assert!(store.attachment(not_hers.id).await.expect("read").is_none());
        assert!(store.attachment(picture.id).await.expect("read").is_some());
    }
}
