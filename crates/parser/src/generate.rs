//! Writes configuration: `tencentcloud_ssl_free_certificate` resource blocks for certificates
//! that are adopted rather than declared (`certplan import --generate-config`), formatted as
//! `certplan fmt` writes them.
//!
//! Values are written as HCL literals that read back as exactly the value given: a string is
//! never a template, whatever `${` it holds. What the blocks say is the caller's business; this
//! module writes text and reads no file.

use certplan_core::{ProviderRef, RESOURCE_TYPE};
use serde_json::Value;

use crate::{Source, format_source};

/// One resource block to write.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedBlock {
    /// The resource name (the block's second label).
    pub name: String,
    /// The provider configuration whose account holds the certificate: written as `provider =
    /// tencentcloud.ALIAS` unless it is the default one.
    pub provider: ProviderRef,
    /// Lines of the comment above the block, without the `#`.
    pub comments: Vec<String>,
    /// The arguments, in order: names are HCL identifiers, values strings, numbers, booleans,
    /// or lists and objects of them.
    pub arguments: Vec<(String, Value)>,
    /// The certificate to import as this resource: written as an `import` block after it, so
    /// that the block never plans a new certificate while the import is not recorded.
    pub import_id: Option<String>,
}

/// Writes resource blocks of type tencentcloud_ssl_free_certificate, formatted as `certplan fmt`
/// writes them, under `header` (lines of a comment, without the `#`) at the top of the file.
pub fn generate_config(header: &str, blocks: &[GeneratedBlock]) -> String {
    let mut text = String::new();
    push_comment(&mut text, header);
    for block in blocks {
        if !text.is_empty() {
            text.push('\n');
        }
        for line in &block.comments {
            push_comment(&mut text, line);
        }
        text.push_str(&format!("resource {} {} {{\n", quoted(RESOURCE_TYPE), quoted(&block.name)));
        if !block.provider.is_default() {
            text.push_str(&format!("provider = {}\n", block.provider));
        }
        for (name, value) in &block.arguments {
            text.push_str(&format!("{name} = {}\n", literal(value)));
        }
        text.push_str("}\n");
        if let Some(id) = &block.import_id {
            let to = format!("{RESOURCE_TYPE}.{}", block.name);
            text.push_str(&format!("\nimport {{\nto = {to}\nid = {}\n}}\n", quoted(id)));
        }
    }
    // The formatter aligns the `=` of each block as `certplan fmt` does. It refuses only text
    // that is not HCL, which an argument name that is not an identifier would make: that text
    // is returned as written, for the caller's parse of it to report.
    format_source(&Source::new("generated.hcl", text.as_str())).unwrap_or(text)
}

/// Appends `comment` as `#` lines; nothing for an empty comment.
fn push_comment(text: &mut String, comment: &str) {
    let comment = comment.trim_end();
    if comment.is_empty() {
        return;
    }
    // A lone carriage return would end the comment for one reader and not for another.
    for line in comment.replace("\r\n", "\n").split(['\n', '\r']) {
        let line = line.trim_end();
        if line.is_empty() {
            text.push_str("#\n");
        } else {
            text.push_str(&format!("# {line}\n"));
        }
    }
}

/// Writes a JSON value as the HCL literal of the same value.
fn literal(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quoted(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(literal).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(entries) if entries.is_empty() => "{}".to_owned(),
        Value::Object(entries) => {
            let entries: Vec<String> =
                entries.iter().map(|(k, v)| format!("{} = {}", quoted(k), literal(v))).collect();
            format!("{{ {} }}", entries.join(", "))
        }
    }
}

/// Writes `s` as an HCL quoted string that is only text: quotes, backslashes and control
/// characters escaped, and `${` / `%{` written `$${` / `%%{` so that they start no template.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use certplan_core::{Address, CsrEncryptAlgo, DvAuthMethod};
    use serde_json::json;

    use super::*;
    use crate::parse_sources;

    fn block(name: &str, arguments: Vec<(&str, Value)>) -> GeneratedBlock {
        GeneratedBlock {
            name: name.to_owned(),
            provider: ProviderRef::DEFAULT,
            comments: vec![format!("Imported from Terraform: {RESOURCE_TYPE}.{name}")],
            arguments: arguments.into_iter().map(|(n, v)| (n.to_owned(), v)).collect(),
            import_id: None,
        }
    }

    fn www() -> GeneratedBlock {
        let mut www = block(
            "www",
            vec![
                ("domain", json!("www.example.com")),
                ("dv_auth_method", json!("DNS_AUTO")),
                ("package_type", json!("83")),
                ("contact_email", json!("ops@example.com")),
                ("contact_phone", json!("+86 755 8601 3388")),
                ("validity_period", json!("3")),
                ("csr_encrypt_algo", json!("RSA")),
                ("csr_key_parameter", json!("2048")),
                ("alias", json!("www-prod")),
                ("project_id", json!(1001)),
            ],
        );
        www.comments.push("csr_key_password was set in Terraform: set it here too.".to_owned());
        www
    }

    fn parse(text: &str) -> crate::Config {
        parse_sources(vec![Source::new("imported.hcl", text)])
            .unwrap_or_else(|e| panic!("{}\n{text}", e.render(false)))
    }

    fn format(text: &str) -> String {
        format_source(&Source::new("again.hcl", text))
            .unwrap_or_else(|e| panic!("{}", e.render(false)))
    }

    #[test]
    fn generated_blocks_read_back_as_the_certificates_they_describe() {
        let mut api = block(
            "api_0",
            vec![("domain", json!("api0.example.com")), ("dv_auth_method", json!("DNS"))],
        );
        api.import_id = Some("imp00001".into());
        api.provider = ProviderRef::aliased("prod");
        let text = generate_config("Generated by certplan import.\n\nReview it.", &[www(), api]);
        assert!(
            text.starts_with(
                "# Generated by certplan import.\n#\n# Review it.\n\n# Imported from Terraform: "
            ),
            "{text}"
        );
        let prod = "provider \"tencentcloud\" {\n  alias   = \"prod\"\n  profile = \"prod\"\n}\n";
        let config = parse(&format!("{prod}{text}"));
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        let www = &config.resources[&Address::certificate("www")].args;
        assert!(www.provider.is_default());
        assert_eq!(
            (www.domain.as_str(), www.dv_auth_method, www.csr_encrypt_algo),
            ("www.example.com", Some(DvAuthMethod::DnsAuto), Some(CsrEncryptAlgo::Rsa))
        );
        assert_eq!((www.alias.as_deref(), www.project_id), (Some("www-prod"), Some(1001)));
        assert_eq!(www.contact_phone.as_deref(), Some("+86 755 8601 3388"));
        let api = &config.resources[&Address::certificate("api_0")].args;
        assert_eq!(
            (api.domain.as_str(), api.dv_auth_method),
            ("api0.example.com", Some(DvAuthMethod::Dns))
        );
        assert_eq!(api.provider, ProviderRef::aliased("prod"));
        let imports: Vec<(String, &str)> =
            config.imports.iter().map(|i| (i.to.to_string(), i.id.as_str())).collect();
        assert_eq!(imports, [("tencentcloud_ssl_free_certificate.api_0".to_owned(), "imp00001")]);
        assert_eq!(format(&text), text);
    }

    #[test]
    fn strings_read_back_as_written_whatever_they_hold() {
        for alias in [
            "say \"hi\" \\ back\\slash",
            "${var.x} and %{ if true }y%{ endif }",
            "$${already} %%{escaped} $ % { } $$ %%",
            "trailing $",
            "line\nbreak\r\ttab \u{1} é 证书",
        ] {
            let text = generate_config(
                "",
                &[block(
                    "www",
                    vec![
                        ("domain", json!("www.example.com")),
                        ("dv_auth_method", json!("DNS_AUTO")),
                        ("alias", json!(alias)),
                    ],
                )],
            );
            let config = parse(&text);
            let args = &config.resources[&Address::certificate("www")].args;
            assert_eq!(args.alias.as_deref(), Some(alias), "{text}");
        }
    }

    #[test]
    fn the_output_is_formatted() {
        let odd = block(
            "odd",
            vec![
                ("a", json!(null)),
                ("long_argument_name", json!([1, -2.5, "x", true])),
                ("m", json!({"k": {"nested": [1]}, "with space": "v", "empty": {}})),
            ],
        );
        let header = "certplan import --from-terraform terraform.tfstate\r\nline two \r\n";
        let text = generate_config(header, &[www(), odd]);
        assert_eq!(format(&text), text);
        assert!(text.contains("\n  domain            = \"www.example.com\"\n"), "{text}");
        assert!(text.contains("\n  long_argument_name = [1, -2.5, \"x\", true]\n"), "{text}");
        assert!(text.contains("\n# line two\n\n# Imported"), "{text}");
        assert_eq!(generate_config("", &[]), "");
    }
}
