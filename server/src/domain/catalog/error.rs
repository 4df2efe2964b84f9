//! Why a catalog was refused: the file, the path inside it, and what is wrong there.

/// Why a catalog file was refused: `<file>: <path in it>: <what is wrong>`.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {at}: {message}")]
pub struct CatalogError {
    file: String,
    at: String,
    message: String,
}

/// A broken part of a file, before the file's name is known to the error.
pub(super) struct Invalid {
    at: String,
    message: String,
}

impl Invalid {
    pub(super) fn new(at: &str, message: impl Into<String>) -> Self {
        Self {
            at: at.to_owned(),
            message: message.into(),
        }
    }

    pub(super) fn in_file(self, file: &str) -> CatalogError {
        CatalogError {
            file: file.to_owned(),
            at: self.at,
            message: self.message,
        }
    }
}
