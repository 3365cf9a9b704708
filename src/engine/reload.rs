//! `POST /admin/reload` and SIGHUP: the config file read again and applied.

use std::path::PathBuf;
use std::sync::Arc;

use super::{ChangeError, Engine};
use crate::config::Config;

/// Re-reads the config file and applies what may change while running (SPEC §5.3): an invalid
/// file is refused with every problem listed, and the settings in force stay.
pub struct Reloader {
    /// `None` on the embedded default: nothing to re-read.
    path: Option<PathBuf>,
    engine: Arc<Engine>,
}

impl Reloader {
    pub fn new(path: Option<PathBuf>, engine: Arc<Engine>) -> Reloader {
        Reloader { path, engine }
    }

    pub fn reload(&self) -> Result<(), ChangeError> {
        let Some(path) = &self.path else {
            return Err(ChangeError::Invalid(
                "omnigate runs on its embedded default: there is no config file to reload"
                    .to_owned(),
            ));
        };
        match Config::load(path) {
            Ok(config) => match self.engine.reload(&config) {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "config reloaded");
                    Ok(())
                }
                Err(problem) => {
                    tracing::error!("config reload refused; the previous config stays:\n{problem}");
                    Err(ChangeError::Invalid(problem))
                }
            },
            Err(error) => {
                tracing::error!("config reload refused; the previous config stays:\n{error}");
                Err(ChangeError::Invalid(error.to_string()))
            }
        }
    }
}
