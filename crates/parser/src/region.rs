//! Tencent Cloud's regions: a region named in a `deploy` block or the provider block is checked
//! against them, so that a typo (`ap-guangzho`) is caught by `validate` rather than by a
//! renewal that finds nothing to deploy and leaves the listener on the old certificate.

use crate::diagnostic::{Diagnostic, Span};

/// The regions of Tencent Cloud's public API (the SDKs' region list, with the financial,
/// retired and special-purpose regions that still answer).
pub const REGIONS: &[&str] = &[
    "ap-bangkok",
    "ap-beijing",
    "ap-beijing-fsi",
    "ap-chengdu",
    "ap-chongqing",
    "ap-guangzhou",
    "ap-guangzhou-open",
    "ap-hongkong",
    "ap-jakarta",
    "ap-mumbai",
    "ap-nanjing",
    "ap-seoul",
    "ap-shanghai",
    "ap-shanghai-adc",
    "ap-shanghai-fsi",
    "ap-shenzhen-fsi",
    "ap-singapore",
    "ap-taipei",
    "ap-tokyo",
    "eu-frankfurt",
    "eu-moscow",
    "na-ashburn",
    "na-siliconvalley",
    "na-toronto",
    "sa-saopaulo",
];

/// Checks a region name of Tencent Cloud's form (see `is_region_name`) against [`REGIONS`]:
/// one within two edits of a known region is a typo, an error that suggests it; any other may
/// be a region opened since (every region shares a prefix such as `ap-`, so only a near miss
/// is taken for a typo), a warning.
pub(crate) fn check(name: &str, span: Span) -> Option<Diagnostic> {
    if REGIONS.contains(&name) {
        return None;
    }
    let known = format!("the regions are {}", REGIONS.join(", "));
    let typo = REGIONS
        .iter()
        .map(|r| (strsim::levenshtein(name, r), *r))
        .filter(|(edits, _)| *edits <= 2)
        .min()
        .map(|(_, r)| r);
    Some(match typo {
        Some(meant) => Diagnostic::error(format!("unknown region \"{name}\""))
            .at(span, "not a Tencent Cloud region")
            .help(format!("did you mean \"{meant}\"? ({known})")),
        None => Diagnostic::warning(format!("region \"{name}\" is not one certplan knows"))
            .at(span, "not in Tencent Cloud's region list")
            .help(format!("{known}; if Tencent Cloud opened it since, ignore this")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Severity;

    #[test]
    fn a_typo_is_an_error_that_names_the_region_meant() {
        let span = Span { file: 0, range: 0..1 };
        assert!(check("ap-guangzhou", span.clone()).is_none());
        let typo = check("ap-guangzho", span.clone()).expect("a typo");
        assert_eq!(typo.severity, Severity::Error);
        assert!(typo.help.unwrap_or_default().starts_with("did you mean \"ap-guangzhou\"?"));
        let far = check("xx-nowhere", span.clone()).expect("unknown");
        assert_eq!(far.severity, Severity::Warning);
        // Regions opened since share the prefix of every region: not typos.
        for new in ["ap-shenzhen", "ap-tianjin", "ap-hangzhou-ec", "ap-qingyuan"] {
            let opened = check(new, span.clone()).expect("unknown");
            assert_eq!(opened.severity, Severity::Warning, "{new}");
        }
    }
}
