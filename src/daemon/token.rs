//! The admin token `serve` makes for itself when none is configured: `STATE_DIR/admin.token`,
//! mode 0600, one random token named `local`, created on first start and read on the next.
//! The CLI finds it there by default, so one machine works with no setup.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::config::{NamedToken, read_admin_tokens};

/// File name of the generated token in the state directory.
pub const TOKEN_FILE: &str = "admin.token";

/// Read `dir/admin.token`, creating it first if it does not exist.
pub fn local_token(dir: &Path) -> Result<(PathBuf, Vec<NamedToken>), String> {
    let path = dir.join(TOKEN_FILE);
    if !path.exists() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create state directory {}: {e}", dir.display()))?;
        let mut bytes = [0u8; 24];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .map_err(|e| format!("cannot read /dev/urandom for an admin token: {e}"))?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("cannot create admin token file {}: {e}", path.display()))?;
        file.write_all(format!("# cdnsteer admin token: NAME TOKEN, one per line\nlocal {hex}\n").as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| format!("cannot write admin token file {}: {e}", path.display()))?;
    }
    let tokens = read_admin_tokens(&path)?;
    Ok((path, tokens))
}
