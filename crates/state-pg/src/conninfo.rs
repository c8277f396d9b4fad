//! The connection string: a libpq URL (`postgres://…`) or `key=value` string, made into the
//! client's configuration, with the password found where libpq finds it — the string itself,
//! `PGPASSWORD`, then the password file (`PGPASSFILE`, else `~/.pgpass`).
//!
//! It owns keeping the password secret: what it returns for messages (the public URL, the
//! parse error) never holds it — nor any part of it, as a URL with an unencoded `@` in its
//! password would otherwise make into a host name. The environment comes in as a function, so
//! that nothing here reads or changes the process's. It connects to nothing.

use std::path::Path;
use std::time::Duration;

use super::tls::SslMode;

/// A parsed connection string.
pub(super) struct ConnInfo {
    /// The client's configuration, password included.
    pub config: postgres::Config,
    pub sslmode: SslMode,
    /// Where the server is, e.g. `127.0.0.1:5432`: for telling the user what is unreachable.
    pub address: String,
    /// The connection string as messages show it: `postgres://user@host:port/dbname`.
    pub public: String,
    /// Where the password came from: whether the user needs to be told to set one.
    pub password_source: PasswordSource,
    /// How long the whole start-up may take — TCP, TLS, authentication and the schema check:
    /// `connect_timeout` if the string gives one, else [`CONNECT_TIMEOUT`].
    pub startup_timeout: Duration,
}

/// Where a connection's password came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PasswordSource {
    ConnStr,
    Environment,
    PassFile,
    None,
}

/// How long to wait for the server to answer a connection, unless `connect_timeout` says (a
/// `connect_timeout` of 0, libpq's "forever", is taken as not given: nothing may hang).
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Parses `conn_str`, filling in libpq's defaults and the password; the error says what is
/// wrong without quoting the string.
pub(super) fn parse(
    conn_str: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ConnInfo, String> {
    refuse_unencoded_at(conn_str)?;
    // The client knows only disable/prefer/require: the verifying modes are ours to implement.
    let (rest, sslmode) = take_sslmode(conn_str);
    let sslmode = match sslmode.as_deref() {
        None => SslMode::Prefer,
        Some(mode) => SslMode::parse(mode).ok_or_else(|| {
            format!(
                "sslmode {mode:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
            )
        })?,
    };
    let mut config: postgres::Config = rest.parse().map_err(|e: postgres::Error| {
        let detail = std::error::Error::source(&e).map(|s| format!(" ({s})")).unwrap_or_default();
        format!("conn_str is not a libpq connection string{}", without_quoted_text(&detail))
    })?;
    if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
        config.host("localhost");
    }
    if config.get_user().is_none() {
        let user = env("USER").or_else(|| env("LOGNAME")).unwrap_or_else(|| "postgres".into());
        config.user(&user);
    }
    if config.get_dbname().is_none() {
        let user = config.get_user().unwrap_or_default().to_owned();
        config.dbname(&user);
    }
    // The client's own timeout bounds the TCP connect alone; the session bounds the rest of the
    // start-up by the same length (`startup_timeout`).
    let startup_timeout = *config.get_connect_timeout().unwrap_or(&CONNECT_TIMEOUT);
    config.connect_timeout(startup_timeout);
    // A network cut must end a command in a minute, not in TCP's two hours: keepalives find a
    // silent peer, the user timeout a peer that stopped acknowledging.
    if config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
        config.keepalives_idle(Duration::from_secs(30));
    }
    if config.get_keepalives_interval().is_none() {
        config.keepalives_interval(Duration::from_secs(10));
    }
    if config.get_keepalives_retries().is_none() {
        config.keepalives_retries(3);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(Duration::from_secs(60));
    }
    if config.get_application_name().is_none() {
        config.application_name("certplan");
    }

    let host = first_host(&config);
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or_default().to_owned();
    let dbname = config.get_dbname().unwrap_or_default().to_owned();
    let password_source = if config.get_password().is_some() {
        PasswordSource::ConnStr
    } else if let Some(password) = env("PGPASSWORD") {
        config.password(password);
        PasswordSource::Environment
    } else if let Some(password) =
        pgpass_file(env).and_then(|file| lookup_pgpass(&file, &host, port, &dbname, &user))
    {
        config.password(password);
        PasswordSource::PassFile
    } else {
        PasswordSource::None
    };
    let hosts = display_hosts(&config);
    let address = format!("{hosts}:{port}");
    let public = format!("postgres://{user}@{hosts}:{port}/{dbname}");
    Ok(ConnInfo { config, sslmode, address, public, password_source, startup_timeout })
}

/// Refuses a URL with an `@` after the one that ends its user and password, before its
/// parameters: a password (or user name) holding an unencoded `@`. The client takes the
/// credentials up to the first `@` and the rest as host and database, so
/// `postgres://u:S3cr@tPW@host/db` would connect to a host `tPW@host` and every message would
/// name it — part of the password. The error names no part of the string.
fn refuse_unencoded_at(conn_str: &str) -> Result<(), String> {
    let trimmed = conn_str.trim();
    let Some(rest) =
        trimmed.strip_prefix("postgres://").or_else(|| trimmed.strip_prefix("postgresql://"))
    else {
        return Ok(());
    };
    let Some((_, after)) = rest.split_once('@') else { return Ok(()) };
    let host_and_path = after.split('?').next().unwrap_or_default();
    if host_and_path.contains('@') {
        return Err(concat!(
            "conn_str is a URL with more than one `@` before its parameters: a password or user name ",
            "that contains `@` must be percent-encoded in a URL, `@` as `%40` ",
            "(postgres://user:p%40ss@host/db), or given as PGPASSWORD or in ~/.pgpass"
        )
        .to_owned());
    }
    Ok(())
}

/// Splits the `sslmode` setting off `conn_str`, in either syntax, returning the rest and the
/// mode. A string it cannot tokenise is returned whole, for the client's parser to refuse.
fn take_sslmode(conn_str: &str) -> (String, Option<String>) {
    let trimmed = conn_str.trim();
    if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
        let Some((base, query)) = trimmed.split_once('?') else {
            return (trimmed.to_owned(), None);
        };
        let mut mode = None;
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| match pair.split_once('=') {
                Some(("sslmode", value)) => {
                    mode = Some(value.to_owned());
                    false
                }
                _ => true,
            })
            .collect();
        let rest =
            if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
        return (rest, mode);
    }
    let Some(pairs) = key_value_spans(conn_str) else { return (conn_str.to_owned(), None) };
    let mut rest = String::new();
    let mut mode = None;
    let mut last = 0;
    for (key, value, span) in pairs {
        if key == "sslmode" {
            rest.push_str(&conn_str[last..span.start]);
            last = span.end;
            mode = Some(value);
        }
    }
    rest.push_str(&conn_str[last..]);
    (rest, mode)
}

/// Tokenises a `key=value` connection string as libpq does (values quoted with `'`, `\`
/// escaping), returning each key, unescaped value and byte span; `None` when malformed.
fn key_value_spans(s: &str) -> Option<Vec<(String, String, std::ops::Range<usize>)>> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut pairs = Vec::new();
    let skip_space = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    loop {
        i = skip_space(i);
        if i >= bytes.len() {
            return Some(pairs);
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b'=' && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = s[start..i].to_owned();
        i = skip_space(i);
        if bytes.get(i) != Some(&b'=') {
            return None;
        }
        i = skip_space(i + 1);
        let mut value = Vec::new();
        let quoted = bytes.get(i) == Some(&b'\'');
        if quoted {
            i += 1;
        }
        loop {
            match bytes.get(i) {
                None if quoted => return None,
                None => break,
                Some(b'\'') if quoted => {
                    i += 1;
                    break;
                }
                Some(c) if !quoted && c.is_ascii_whitespace() => break,
                Some(b'\\') => {
                    value.push(*bytes.get(i + 1)?);
                    i += 2;
                }
                Some(c) => {
                    value.push(*c);
                    i += 1;
                }
            }
        }
        pairs.push((key, String::from_utf8(value).ok()?, start..i));
    }
}

/// Cuts what a parse error quotes of the string (`…: expected '=' but got 'x'`): it may be a
/// character of the password.
fn without_quoted_text(message: &str) -> String {
    match message.find(": expected") {
        Some(at) => format!("{})", &message[..at]),
        None => message.to_owned(),
    }
}

/// Returns the first host as the password file matches it: a socket directory counts as
/// `localhost`, as in libpq.
fn first_host(config: &postgres::Config) -> String {
    match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(_)) => "localhost".to_owned(),
        None => config.get_hostaddrs().first().map(|a| a.to_string()).unwrap_or_default(),
    }
}

/// Names the hosts for messages, comma-separated, IPv6 addresses in brackets.
fn display_hosts(config: &postgres::Config) -> String {
    let bracket = |h: String| if h.contains(':') { format!("[{h}]") } else { h };
    let hosts: Vec<String> = if config.get_hosts().is_empty() {
        config.get_hostaddrs().iter().map(|a| bracket(a.to_string())).collect()
    } else {
        config
            .get_hosts()
            .iter()
            .map(|h| match h {
                postgres::config::Host::Tcp(host) => bracket(host.clone()),
                #[cfg(unix)]
                postgres::config::Host::Unix(dir) => dir.display().to_string(),
            })
            .collect()
    };
    hosts.join(",")
}

/// Returns the password file libpq would read: `PGPASSFILE`, else `~/.pgpass`.
fn pgpass_file(env: &dyn Fn(&str) -> Option<String>) -> Option<std::path::PathBuf> {
    env("PGPASSFILE")
        .map(Into::into)
        .or_else(|| env("HOME").map(|home| Path::new(&home).join(".pgpass")))
}

/// Returns the password of the first line of the password file at `file` that matches —
/// `hostname:port:database:username:password`, `*` matching anything, `\:` and `\\` escaped.
/// A file that others may read or write is ignored, as libpq does.
pub(super) fn lookup_pgpass(
    file: &Path,
    host: &str,
    port: u16,
    dbname: &str,
    user: &str,
) -> Option<String> {
    let meta = std::fs::metadata(file).ok()?;
    if !meta.is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                "password file {} has group or world access; ignoring it (chmod 0600 it)",
                file.display()
            );
            return None;
        }
    }
    let text = std::fs::read_to_string(file).ok()?;
    let port = port.to_string();
    let wanted = [host, port.as_str(), dbname, user];
    text.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let fields = split_pgpass_line(line)?;
        let matches = fields[..4].iter().zip(wanted).all(|(f, w)| f == "*" || f == w);
        matches.then(|| fields[4].clone())
    })
}

/// Splits a password file line into its five fields, unescaping `\:` and `\\`; `None` for a
/// line with fewer fields.
fn split_pgpass_line(line: &str) -> Option<[String; 5]> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut()?.push(chars.next().unwrap_or('\\')),
            // The password is the rest of the line, colons included.
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut()?.push(c),
        }
    }
    fields.try_into().ok()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: BTreeMap<String, String> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| vars.get(name).cloned()
    }

    fn private_file(dir: &Path, text: &str) -> std::path::PathBuf {
        let file = dir.join("pgpass");
        std::fs::write(&file, text).expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        file
    }

    #[test]
    fn the_password_file_matches_fields_wildcards_and_escapes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = private_file(
            dir.path(),
            "# comment line\n\
             other.host:5432:*:certplan:not-this-one\n\
             db.internal:5432:certs:certplan:first\\:match\n\
             db.internal:*:*:certplan:second\n\
             *:*:*:*:pass:with:colons\n\
             short:line\n",
        );
        let look = |host, port, db, user| lookup_pgpass(&file, host, port, db, user);
        assert_eq!(look("db.internal", 5432, "certs", "certplan").as_deref(), Some("first:match"));
        assert_eq!(look("db.internal", 6543, "certs", "certplan").as_deref(), Some("second"));
        assert_eq!(look("elsewhere", 1, "x", "y").as_deref(), Some("pass:with:colons"));
        assert_eq!(split_pgpass_line("a\\\\b:1:d:u:p").map(|f| f[0].clone()), Some("a\\b".into()));
        assert_eq!(split_pgpass_line("short:line"), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_password_file_others_can_read_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = private_file(dir.path(), "*:*:*:*:secret\n");
        assert_eq!(lookup_pgpass(&file, "h", 5432, "d", "u").as_deref(), Some("secret"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(lookup_pgpass(&file, "h", 5432, "d", "u"), None);
    }

    #[test]
    fn the_password_comes_from_the_string_then_pgpassword_then_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = private_file(dir.path(), "db:5432:certs:certplan:from-file\n");
        let file = file.to_str().expect("utf8");
        let password = |conn: &str, env: &[(&str, &str)]| {
            let info = parse(conn, &env_of(env)).expect("parses");
            let password =
                info.config.get_password().map(|p| String::from_utf8_lossy(p).into_owned());
            (password, info.password_source)
        };
        let url = "postgres://certplan@db/certs";
        assert_eq!(
            password("postgres://certplan:in-url@db/certs", &[("PGPASSWORD", "env")]),
            (Some("in-url".into()), PasswordSource::ConnStr)
        );
        assert_eq!(
            password(url, &[("PGPASSWORD", "env"), ("PGPASSFILE", file)]),
            (Some("env".into()), PasswordSource::Environment)
        );
        assert_eq!(
            password(url, &[("PGPASSFILE", file)]),
            (Some("from-file".into()), PasswordSource::PassFile)
        );
        assert_eq!(
            password("host=db dbname=certs user=certplan", &[("HOME", "/nonexistent")]),
            (None, PasswordSource::None)
        );
        let home = dir.path().to_str().expect("utf8");
        std::fs::rename(file, dir.path().join(".pgpass")).expect("move");
        assert_eq!(password(url, &[("HOME", home)]).0.as_deref(), Some("from-file"));
    }

    #[test]
    fn sslmode_is_taken_from_either_syntax_and_the_rest_kept() {
        let cases = [
            ("postgres://u@h/db?sslmode=verify-full", "postgres://u@h/db", Some("verify-full")),
            (
                "postgresql://u@h/db?application_name=x&sslmode=require&connect_timeout=3",
                "postgresql://u@h/db?application_name=x&connect_timeout=3",
                Some("require"),
            ),
            ("host=h sslmode=verify-ca user=u", "host=h  user=u", Some("verify-ca")),
            ("host=h sslmode = 'disable'", "host=h ", Some("disable")),
            ("host=h password='a b\\'c' user=u", "host=h password='a b\\'c' user=u", None),
        ];
        for (given, rest, mode) in cases {
            assert_eq!(take_sslmode(given), (rest.to_owned(), mode.map(Into::into)), "{given}");
        }
    }

    #[test]
    fn messages_show_where_the_server_is_but_never_the_password() {
        let env = env_of(&[("USER", "alice")]);
        let info = parse("postgres://certplan:hunter2@db.internal/certs?sslmode=require", &env)
            .expect("parses");
        assert_eq!(info.public, "postgres://certplan@db.internal:5432/certs");
        assert_eq!(info.address, "db.internal:5432");
        assert_eq!(info.sslmode, SslMode::Require);
        let info = parse("host=::1 port=6000", &env).expect("parses");
        assert_eq!(info.public, "postgres://alice@[::1]:6000/alice");
        for bad in ["host=h password hunter2", "postgres://u:hunter2@h/db?sslmode=bogus"] {
            let err = parse(bad, &env).err().expect("refused");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn the_start_up_is_bounded_by_connect_timeout_else_ten_seconds() {
        let env = env_of(&[]);
        let timeout = |conn_str| parse(conn_str, &env).expect("parses").startup_timeout;
        assert_eq!(timeout("postgres://u@h/db"), CONNECT_TIMEOUT);
        assert_eq!(CONNECT_TIMEOUT, Duration::from_secs(10));
        assert_eq!(timeout("postgres://u@h/db?connect_timeout=3"), Duration::from_secs(3));
        assert_eq!(timeout("host=h connect_timeout=4"), Duration::from_secs(4));
        assert_eq!(timeout("host=h connect_timeout=0"), CONNECT_TIMEOUT, "never forever");
    }

    #[test]
    fn an_unencoded_at_in_the_password_is_refused_naming_no_part_of_it() {
        let env = env_of(&[]);
        for conn_str in [
            "postgres://dbadmin:S3cr@tPW@db.internal/certs",
            "postgresql://dbadmin:S3cr@tPW@db.internal:5433/certs?sslmode=require",
            // A `/` in the password too: the client would take `tPW` as the host.
            "postgres://dbadmin:S3cr@tPW/x@db.internal/certs",
            // An `@` in the user name.
            "postgres://dbadmin@corp.example:pw@db.internal/certs",
        ] {
            let err = parse(conn_str, &env).err().expect("refused");
            assert!(err.contains("percent-encoded") && err.contains("%40"), "{err}");
            for part in ["dbadmin", "S3cr", "tPW", "db.internal", "corp.example", "certs"] {
                assert!(!err.contains(part), "{conn_str}: {err}");
            }
        }
        // Encoded, it is the password; and `@` elsewhere is not taken for one.
        let info = parse("postgres://dbadmin:S3cr%40tPW@db.internal/certs", &env).expect("parses");
        assert_eq!(info.config.get_password(), Some(&b"S3cr@tPW"[..]));
        assert_eq!(info.address, "db.internal:5432");
        let info = parse("postgres://dbadmin@db.internal/certs?application_name=a@b", &env)
            .expect("an `@` in a parameter");
        assert_eq!(info.address, "db.internal:5432");
        let info = parse("host=db.internal user=dbadmin password=S3cr@tPW", &env)
            .expect("a key=value string needs no encoding");
        assert_eq!(info.config.get_password(), Some(&b"S3cr@tPW"[..]));
    }
}
