//! The ZIP that `DownloadCertificate` answers with: an issued certificate laid out for the
//! servers people install it on, as Tencent's downloads are. It packs what it is given and
//! mints nothing ([`crate::x509`] does).
//!
//! For `www.example.com` the archive holds:
//!
//! | file | content |
//! |---|---|
//! | `Nginx/www.example.com_bundle.crt` | the certificate followed by its chain |
//! | `Nginx/www.example.com_bundle.pem` | the same, for servers that want `.pem` |
//! | `Nginx/www.example.com.key` | the private key (PKCS#8 PEM) |
//! | `Nginx/www.example.com.csr` | the signing request |
//! | `Apache/www.example.com.crt` | the certificate alone |
//! | `Apache/root_bundle.crt` | the chain above it |
//! | `Apache/www.example.com.key` | the private key |
//!
//! Tencent's archives also hold `IIS/` and `Tomcat/` folders with PFX and JKS keystores; the
//! sandbox builds no keystores. A `*` in a domain becomes `_` in file names. A file with nothing
//! to hold is left out: an uploaded certificate has no signing request, an uploaded CA
//! certificate no key.

use std::io::Write;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use zip::write::SimpleFileOptions;

use crate::x509::Issued;

/// Packs `issued`, a certificate for `domain` with its signing request, with every file
/// dated `modified` (shown in GMT+8, as the API shows its times; a ZIP stores local times
/// without a zone).
pub(crate) fn zip(
    domain: &str,
    issued: &Issued,
    modified: DateTime<Utc>,
) -> Result<Vec<u8>, zip::result::ZipError> {
    let name = domain.replace('*', "_");
    let chain = issued.chain();
    let files = [
        (format!("Nginx/{name}_bundle.crt"), chain.as_str()),
        (format!("Nginx/{name}_bundle.pem"), chain.as_str()),
        (format!("Nginx/{name}.key"), issued.key.as_str()),
        (format!("Nginx/{name}.csr"), issued.csr.as_str()),
        (format!("Apache/{name}.crt"), issued.leaf.as_str()),
        ("Apache/root_bundle.crt".to_owned(), issued.ca.as_str()),
        (format!("Apache/{name}.key"), issued.key.as_str()),
    ];
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(dos_time(modified));
    let mut archive = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, content) in files.into_iter().filter(|(_, content)| !content.is_empty()) {
        archive.start_file(path, options)?;
        archive.write_all(content.as_bytes())?;
    }
    Ok(archive.finish()?.into_inner())
}

fn dos_time(t: DateTime<Utc>) -> zip::DateTime {
    let local = t + Duration::hours(8);
    let narrow = |n: u32| u8::try_from(n).unwrap_or(0);
    zip::DateTime::from_date_and_time(
        u16::try_from(local.year()).unwrap_or(0),
        narrow(local.month()),
        narrow(local.day()),
        narrow(local.hour()),
        narrow(local.minute()),
        narrow(local.second()),
    )
    // Outside 1980..=2107 a ZIP cannot say when; its epoch is as good as any date there.
    .unwrap_or_default()
}
