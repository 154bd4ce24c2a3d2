//! Where Clicom keeps its files: the platform config dir (settings) and data dir (history
//! database, stats, logs), from `directories`. `CLICOM_CONFIG` names the settings file and
//! `CLICOM_DATA_DIR` the data dir, so that tests and portable installs can move them.

use std::path::PathBuf;

use directories::ProjectDirs;

fn project_dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("", "", "clicom")
}

/// The settings file: `$CLICOM_CONFIG`, else `config.toml` in the platform config dir.
pub fn config_file() -> PathBuf {
    if let Some(path) = std::env::var_os("CLICOM_CONFIG").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    match project_dirs() {
        Some(dirs) => dirs.config_dir().join("config.toml"),
        None => PathBuf::from("clicom-config.toml"),
    }
}

/// The data dir: `$CLICOM_DATA_DIR`, else the platform data dir, else `./clicom-data`.
pub fn data_dir() -> PathBuf {
    if let Some(path) = std::env::var_os("CLICOM_DATA_DIR").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    match project_dirs() {
        Some(dirs) => dirs.data_dir().to_path_buf(),
        None => PathBuf::from("clicom-data"),
    }
}
