use switchboard_storage::{KeyError, StorageError};
use switchboard_web::BindError;

/// Why a test system (or a benchmark's server) could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    #[error("cannot make a temporary directory: {0}")]
    TempDir(#[source] std::io::Error),
    #[error("cannot make the encryption key: {0}")]
    Key(#[from] KeyError),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("cannot bind: {0}")]
    Bind(#[from] BindError),
    #[error("cannot read the bound address: {0}")]
    Address(#[source] std::io::Error),
}
