//! `jiralink-vault`: named Jira credentials on disk, their secrets sealed with XChaCha20-Poly1305
//! under a master key. The vault file and the key file are mode 0600; plaintext secrets live only
//! in zeroized buffers and `SecretString`s, whose `Debug` prints nothing.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The vault file's format; bump with a migration when the layout changes.
pub const FORMAT_VERSION: u32 = 1;
const VAULT_FILE: &str = "vault.json";
const KEY_FILE: &str = "vault.key";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the vault file {path} is damaged ({message}); restore it from a backup")]
    Corrupt { path: PathBuf, message: String },
    #[error("the vault file {path} has format {found}, newer than this jiralink ({FORMAT_VERSION}); upgrade jiralink")]
    TooNew { path: PathBuf, found: u32 },
    #[error("JIRALINK_MASTER_KEY must be 32 random bytes in base64 (make one with `openssl rand -base64 32`)")]
    BadMasterKey,
    #[error("the secrets of '{0}' cannot be decrypted: the master key is not the one they were sealed with")]
    WrongKey(String),
    #[error("no credential named '{0}'; `jiralink credential list` shows the names")]
    NotFound(String),
    #[error("a credential named '{0}' exists already; remove it first or pick another name")]
    Exists(String),
    #[error(
        "'{0}' is not a valid credential name: use letters, digits, '-', '_' and '.', up to 64"
    )]
    BadName(String),
}

/// Where the master key comes from.
pub enum MasterKey {
    /// `JIRALINK_MASTER_KEY`: 32 bytes, base64.
    Env(SecretString),
    /// A key file beside the vault, created (mode 0600) on first use.
    KeyFile,
}

/// TLS and proxy settings of a credential.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_url: Option<String>,
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// Seconds to wait for an answer (`--timeout`); the client's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

/// A credential's description: everything but its secrets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credential {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub url: String,
    pub auth: String,
    /// Email (Cloud) or username (Data Center), where the auth kind has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Extra public parameters (OAuth consumer key, client id).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// The local user the credential belongs to.
    pub owner: String,
    pub created: chrono::DateTime<chrono::Utc>,
    pub rotated: chrono::DateTime<chrono::Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    pub connection: Connection,
}

/// Named secrets of one credential (`secret`, `private_key_pem`, `refresh_token` ...).
#[derive(Default)]
pub struct Secrets(pub BTreeMap<String, SecretString>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.keys().map(|k| format!("{k}: [redacted]")))
            .finish()
    }
}

impl Secrets {
    pub fn one(name: &str, value: SecretString) -> Secrets {
        let mut m = BTreeMap::new();
        m.insert(name.to_owned(), value);
        Secrets(m)
    }
    pub fn get(&self, name: &str) -> Option<&SecretString> {
        self.0.get(name)
    }
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    nonce: String,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    #[serde(flatten)]
    credential: Credential,
    sealed: Sealed,
}

#[derive(Serialize, Deserialize)]
struct VaultFile {
    format_version: u32,
    credentials: Vec<Entry>,
}

/// The vault in a directory: `vault.json` and, without `JIRALINK_MASTER_KEY`, `vault.key` beside it.
pub struct Vault {
    path: PathBuf,
    key: Zeroizing<[u8; 32]>,
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> VaultError + 'a {
    move |source| VaultError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Writes a file readable by its owner only, crash-safely (temp file, fsync, rename).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    let tmp = path.with_extension("tmp");
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(io("create", &tmp))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io("protect", &tmp))?;
    }
    f.write_all(bytes).map_err(io("write", &tmp))?;
    f.sync_all().map_err(io("sync", &tmp))?;
    fs::rename(&tmp, path).map_err(io("replace", path))?;
    Ok(())
}

/// Whether `name` can name a credential (checked before anything is sent, and again at `add`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

impl Vault {
    /// Opens (or prepares) the vault in `dir`.
    pub fn open(dir: &Path, key: MasterKey) -> Result<Vault, VaultError> {
        if !dir.exists() {
            fs::create_dir_all(dir).map_err(io("create", dir))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                    .map_err(io("protect", dir))?;
            }
        }
        let key = match key {
            MasterKey::Env(s) => {
                let bytes = Zeroizing::new(
                    B64.decode(s.expose_secret().trim())
                        .map_err(|_| VaultError::BadMasterKey)?,
                );
                let arr: [u8; 32] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| VaultError::BadMasterKey)?;
                Zeroizing::new(arr)
            }
            MasterKey::KeyFile => {
                let path = dir.join(KEY_FILE);
                if !path.exists() {
                    let mut k = Zeroizing::new([0u8; 32]);
                    rand::rngs::OsRng.fill_bytes(k.as_mut());
                    let text = Zeroizing::new(B64.encode(k.as_ref()));
                    write_private(&path, text.as_bytes())?;
                }
                let text = Zeroizing::new(fs::read_to_string(&path).map_err(io("read", &path))?);
                let bytes =
                    Zeroizing::new(B64.decode(text.trim()).map_err(|_| VaultError::Corrupt {
                        path: path.clone(),
                        message: "the key is not base64".into(),
                    })?);
                let arr: [u8; 32] =
                    bytes
                        .as_slice()
                        .try_into()
                        .map_err(|_| VaultError::Corrupt {
                            path: path.clone(),
                            message: "the key is not 32 bytes".into(),
                        })?;
                Zeroizing::new(arr)
            }
        };
        Ok(Vault {
            path: dir.join(VAULT_FILE),
            key,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn load(&self) -> Result<VaultFile, VaultError> {
        if !self.path.exists() {
            return Ok(VaultFile {
                format_version: FORMAT_VERSION,
                credentials: Vec::new(),
            });
        }
        let text = fs::read_to_string(&self.path).map_err(io("read", &self.path))?;
        let file: VaultFile = serde_json::from_str(&text).map_err(|e| VaultError::Corrupt {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        if file.format_version > FORMAT_VERSION {
            return Err(VaultError::TooNew {
                path: self.path.clone(),
                found: file.format_version,
            });
        }
        Ok(file)
    }

    fn save(&self, file: &VaultFile) -> Result<(), VaultError> {
        let text = serde_json::to_vec_pretty(file).map_err(|e| VaultError::Corrupt {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        write_private(&self.path, &text)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.key.as_ref().into())
    }

    fn seal(&self, name: &str, secrets: &Secrets) -> Sealed {
        let plain: BTreeMap<&str, &str> = secrets
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose_secret()))
            .collect();
        let json = Zeroizing::new(serde_json::to_vec(&plain).expect("a map of strings serializes"));
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = format!("jiralink-vault/{FORMAT_VERSION}/{name}");
        let ciphertext = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &json,
                    aad: aad.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption of a small buffer cannot fail");
        Sealed {
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(ciphertext),
        }
    }

    fn unseal(&self, name: &str, sealed: &Sealed) -> Result<Secrets, VaultError> {
        let corrupt = |m: &str| VaultError::Corrupt {
            path: self.path.clone(),
            message: format!("{name}: {m}"),
        };
        let nonce = B64
            .decode(&sealed.nonce)
            .map_err(|_| corrupt("bad nonce"))?;
        if nonce.len() != 24 {
            return Err(corrupt("bad nonce"));
        }
        let ct = B64
            .decode(&sealed.ciphertext)
            .map_err(|_| corrupt("bad ciphertext"))?;
        let aad = format!("jiralink-vault/{FORMAT_VERSION}/{name}");
        let plain = Zeroizing::new(
            self.cipher()
                .decrypt(
                    XNonce::from_slice(&nonce),
                    Payload {
                        msg: &ct,
                        aad: aad.as_bytes(),
                    },
                )
                .map_err(|_| VaultError::WrongKey(name.to_owned()))?,
        );
        let map: BTreeMap<String, String> =
            serde_json::from_slice(&plain).map_err(|_| corrupt("bad secrets"))?;
        Ok(Secrets(
            map.into_iter()
                .map(|(k, v)| (k, SecretString::from(v)))
                .collect(),
        ))
    }

    pub fn list(&self) -> Result<Vec<Credential>, VaultError> {
        Ok(self
            .load()?
            .credentials
            .into_iter()
            .map(|e| e.credential)
            .collect())
    }

    /// Every credential with its secrets, from one read of the file (the web app's list).
    pub fn all(&self) -> Result<Vec<(Credential, Secrets)>, VaultError> {
        self.load()?
            .credentials
            .into_iter()
            .map(|e| {
                let secrets = self.unseal(&e.credential.name, &e.sealed)?;
                Ok((e.credential, secrets))
            })
            .collect()
    }

    pub fn get(&self, name: &str) -> Result<(Credential, Secrets), VaultError> {
        let file = self.load()?;
        let entry = file
            .credentials
            .iter()
            .find(|e| e.credential.name == name)
            .ok_or_else(|| VaultError::NotFound(name.to_owned()))?;
        Ok((entry.credential.clone(), self.unseal(name, &entry.sealed)?))
    }

    /// Adds a new credential; refuses to overwrite one of the same name.
    pub fn add(&self, credential: Credential, secrets: &Secrets) -> Result<(), VaultError> {
        if !valid_name(&credential.name) {
            return Err(VaultError::BadName(credential.name));
        }
        let mut file = self.load()?;
        if file
            .credentials
            .iter()
            .any(|e| e.credential.name == credential.name)
        {
            return Err(VaultError::Exists(credential.name));
        }
        let sealed = self.seal(&credential.name, secrets);
        file.credentials.push(Entry { credential, sealed });
        self.save(&file)
    }

    /// Replaces a credential's description and secrets (used by rotation once the new ones work).
    pub fn replace(&self, credential: Credential, secrets: &Secrets) -> Result<(), VaultError> {
        let mut file = self.load()?;
        let entry = file
            .credentials
            .iter_mut()
            .find(|e| e.credential.name == credential.name)
            .ok_or_else(|| VaultError::NotFound(credential.name.clone()))?;
        entry.sealed = self.seal(&credential.name, secrets);
        entry.credential = credential;
        self.save(&file)
    }

    pub fn remove(&self, name: &str) -> Result<(), VaultError> {
        let mut file = self.load()?;
        let before = file.credentials.len();
        file.credentials.retain(|e| e.credential.name != name);
        if file.credentials.len() == before {
            return Err(VaultError::NotFound(name.to_owned()));
        }
        self.save(&file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("jiralink-vault-{tag}-{}", rand::random::<u64>()));
        fs::create_dir_all(&d).expect("temp dir");
        d
    }

    fn cred(name: &str) -> Credential {
        let now = chrono::Utc::now();
        Credential {
            name: name.into(),
            description: "test".into(),
            url: "https://example.atlassian.net".into(),
            auth: "cloud-token".into(),
            identity: Some("me@example.com".into()),
            params: BTreeMap::new(),
            owner: "tester".into(),
            created: now,
            rotated: now,
            expires_at: None,
            connection: Connection::default(),
        }
    }

    const CANARY: &str = "canary-ATATT3xFfGF0-never-in-plaintext";

    #[test]
    fn secrets_are_sealed_on_disk_and_files_are_private() {
        let dir = temp_dir("seal");
        let v = Vault::open(&dir, MasterKey::KeyFile).expect("open");
        v.add(
            cred("prod"),
            &Secrets::one("secret", SecretString::from(CANARY)),
        )
        .expect("add");
        let (c, s) = v.get("prod").expect("get");
        assert_eq!(c.identity.as_deref(), Some("me@example.com"));
        assert_eq!(
            s.get("secret").map(|x| x.expose_secret().to_owned()),
            Some(CANARY.to_owned())
        );
        assert!(!format!("{s:?}").contains(CANARY));
        for f in [VAULT_FILE, KEY_FILE] {
            let bytes = fs::read(dir.join(f)).expect("file");
            assert!(
                !String::from_utf8_lossy(&bytes).contains(CANARY),
                "{f} holds the secret in plaintext"
            );
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                assert_eq!(
                    fs::metadata(dir.join(f))
                        .expect("meta")
                        .permissions()
                        .mode()
                        & 0o777,
                    0o600,
                    "{f}"
                );
            }
        }
        assert!(matches!(
            v.add(cred("prod"), &Secrets::default()),
            Err(VaultError::Exists(_))
        ));
        assert!(matches!(
            v.add(cred("bad name"), &Secrets::default()),
            Err(VaultError::BadName(_))
        ));
        v.remove("prod").expect("remove");
        assert!(matches!(v.get("prod"), Err(VaultError::NotFound(_))));
    }

    #[test]
    fn another_key_cannot_open_the_secrets_and_tampering_is_detected() {
        let dir = temp_dir("keys");
        let key = B64.encode([7u8; 32]);
        let v = Vault::open(&dir, MasterKey::Env(SecretString::from(key))).expect("open");
        v.add(
            cred("a"),
            &Secrets::one("secret", SecretString::from(CANARY)),
        )
        .expect("add");
        let other = Vault::open(
            &dir,
            MasterKey::Env(SecretString::from(B64.encode([8u8; 32]))),
        )
        .expect("open");
        assert!(matches!(other.get("a"), Err(VaultError::WrongKey(_))));
        assert!(matches!(
            Vault::open(&dir, MasterKey::Env(SecretString::from("short".to_owned()))),
            Err(VaultError::BadMasterKey)
        ));
        // A ciphertext moved to another name does not decrypt (the name is authenticated).
        let text = fs::read_to_string(dir.join(VAULT_FILE))
            .expect("read")
            .replace("\"name\": \"a\"", "\"name\": \"b\"");
        fs::write(dir.join(VAULT_FILE), text).expect("write");
        assert!(matches!(v.get("b"), Err(VaultError::WrongKey(_))));
    }
}
