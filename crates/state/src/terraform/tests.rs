use serde_json::json;

use super::*;

const STATE: &str = include_str!("../../../cli/tests/it/fixtures/terraform.tfstate.template");
const SHOW: &str = include_str!("../../../cli/tests/it/fixtures/terraform-show.json.template");
const IDS: [(&str, &str); 6] = [
    ("${WWW_ID}", "wWw00001"),
    ("${API0_ID}", "aPi00000"),
    ("${API1_ID}", "aPi00001"),
    ("${SHOP_ID}", "sHop0001"),
    ("${BLOG_ID}", "bLog0001"),
    ("${CDN_ID}", "cDn00001"),
];

fn read(text: &str) -> Result<TerraformState, TerraformStateError> {
    read_terraform_state(text.as_bytes())
}

fn substituted(template: &str) -> String {
    IDS.iter().fold(template.to_owned(), |text, (placeholder, id)| text.replace(placeholder, id))
}

/// A v4 state of one certificate instance with these attributes and sensitive paths.
fn v4(attributes: Value, sensitive: Value) -> String {
    json!({
        "version": 4,
        "resources": [{
            "mode": "managed",
            "type": RESOURCE_TYPE,
            "name": "www",
            "instances": [{"attributes": attributes, "sensitive_attributes": sensitive}],
        }],
    })
    .to_string()
}

#[test]
fn both_fixtures_read_as_the_same_certificates_and_nothing_sensitive() {
    let t = RESOURCE_TYPE;
    let expected = [
        (format!("{t}.api[0]"), "aPi00000", "api0.example.com"),
        (format!("{t}.api[1]"), "aPi00001", "api1.example.com"),
        (format!("{t}.site[\"blog.example.com\"]"), "bLog0001", "blog.example.com"),
        (format!("{t}.site[\"shop.example.com\"]"), "sHop0001", "shop.example.com"),
        (format!("{t}.www"), "wWw00001", "www.example.com"),
        (format!("module.edge.{t}.cdn"), "cDn00001", "cdn.example.com"),
    ];
    for (file, template) in [("terraform.tfstate", STATE), ("terraform-show.json", SHOW)] {
        let state = read(&substituted(template)).unwrap_or_else(|e| panic!("{file} {e}"));
        let found: Vec<(String, &str, Option<&Value>)> = state
            .certificates
            .iter()
            .map(|c| {
                let domain = c.arguments.iter().find(|(n, _)| *n == "domain").map(|(_, v)| v);
                (c.address.to_string(), c.id.as_str(), domain)
            })
            .collect();
        let domains: Vec<Value> = expected.iter().map(|(_, _, d)| json!(d)).collect();
        let expected: Vec<(String, &str, Option<&Value>)> = expected
            .iter()
            .zip(&domains)
            .map(|((a, id, _), d)| (a.clone(), *id, Some(d)))
            .collect();
        assert_eq!(found, expected, "{file}");
        assert_eq!(state.ignored, 7, "{file}: 6 resource instances of other types, 1 data source");

        let shown = format!("{state:?}");
        for secret in ["PRIVATE KEY", "FAKEKEYMATERIAL", "FAKEPASSWORD", "CERTIFICATE-----"] {
            assert!(!shown.contains(secret), "{file}: {secret} in {shown}");
        }
        let with_password: Vec<String> = state
            .certificates
            .iter()
            .filter(|c| c.password_set)
            .map(|c| c.address.to_string())
            .collect();
        assert_eq!(with_password, [format!("{t}.www")], "{file}");

        let www = &state.certificates[4];
        let names: Vec<&str> = www.arguments.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "domain",
                "dv_auth_method",
                "package_type",
                "contact_email",
                "contact_phone",
                "validity_period",
                "csr_encrypt_algo",
                "csr_key_parameter",
                "alias",
            ],
            "{file}: project_id 0 is the default project, not set"
        );
        assert!(www.left_out.is_empty() && www.withheld.is_empty(), "{file}");
    }
}

#[test]
fn arguments_keep_their_json_values_and_unset_ones_are_left_out() {
    let state = read(&v4(
        json!({
            "id": "abcd1234",
            "project_id": 1001,
            "alias": "",
            "contact_email": null,
            "validity_period": "3",
            "domain": "www.example.com",
            "old_certificate_id": "oLd00001",
            "certificate_private_key": "-----BEGIN PRIVATE KEY-----\nK\n-----END PRIVATE KEY-----",
        }),
        json!([]),
    ))
    .expect("reads");
    let certificate = &state.certificates[0];
    assert_eq!(
        certificate.arguments,
        [
            ("domain", json!("www.example.com")),
            ("validity_period", json!("3")),
            ("project_id", json!(1001))
        ]
    );
    assert_eq!(certificate.left_out, [("old_certificate_id", json!("oLd00001"))]);
    assert!(!certificate.password_set);

    // A state upgraded from Terraform 0.11 holds flat strings until its next refresh.
    let flat = json!({"version": 4, "resources": [{"mode": "managed", "type": RESOURCE_TYPE, "name": "a",
        "instances": [{"attributes_flat": {"id": "abcd1234", "project_id": "0", "domain": "a.example.com"}}]}]});
    let state = read(&flat.to_string()).expect("reads");
    assert_eq!(state.certificates[0].arguments, [("domain", json!("a.example.com"))]);
}

#[test]
fn values_the_state_marks_sensitive_are_withheld() {
    let attributes = json!({
        "id": "abcd1234",
        "domain": "www.example.com",
        "contact_phone": "SECRET-PHONE",
        "alias": "SECRET-ALIAS",
        "csr_key_password": "SECRET-PASSWORD",
    });
    let paths = json!([
        [{"type": "get_attr", "value": "contact_phone"}],
        [{"type": "get_attr", "value": "alias"}, {"type": "index", "value": {"value": 0, "type": "number"}}],
        [{"type": "get_attr", "value": "csr_key_password"}],
    ]);
    let from_state = read(&v4(attributes.clone(), paths)).expect("reads");
    let show = json!({
        "format_version": "1.0",
        "values": {"root_module": {"resources": [{
            "address": format!("{RESOURCE_TYPE}.www"), "mode": "managed", "type": RESOURCE_TYPE,
            "name": "www", "values": attributes,
            "sensitive_values": {"contact_phone": true, "alias": true, "csr_key_password": true, "dv_auths": []},
        }]}},
    });
    let from_show = read(&show.to_string()).expect("reads");
    for state in [from_state, from_show] {
        let certificate = &state.certificates[0];
        assert_eq!(certificate.arguments, [("domain", json!("www.example.com"))]);
        assert_eq!(certificate.withheld, ["contact_phone", "alias"]);
        assert!(certificate.password_set);
        assert!(!format!("{state:?}").contains("SECRET"), "{state:?}");
    }

    // A path certplan cannot read could mark anything: the state is refused, not guessed at.
    let unreadable = read(&v4(attributes, json!([[{"type": "index", "value": 0}]])));
    assert!(matches!(unreadable, Err(TerraformStateError::Invalid(_))), "{unreadable:?}");
}

#[test]
fn addresses_are_built_from_modules_and_instance_keys() {
    let state = json!({"version": 4, "resources": [{
        "module": "module.edge.module.cdn", "mode": "managed", "type": RESOURCE_TYPE, "name": "site",
        "instances": [
            {"index_key": "a\"b", "attributes": {"id": "id1"}},
            {"index_key": 3, "attributes": {"id": "id2"}},
            {"index_key": 4, "deposed": "00000001", "attributes": {"id": "old"}},
        ],
    }]});
    let state = read(&state.to_string()).expect("reads");
    let addresses: Vec<String> = state.certificates.iter().map(|c| c.address.to_string()).collect();
    assert_eq!(
        addresses,
        [
            format!("module.edge.module.cdn.{RESOURCE_TYPE}.site[\"a\\\"b\"]"),
            format!("module.edge.module.cdn.{RESOURCE_TYPE}.site[3]"),
        ]
    );
    assert_eq!(state.ignored, 1, "the deposed object is on its way out");
}

#[test]
fn data_sources_and_other_types_are_counted_not_read() {
    let state = json!({"version": 4, "resources": [
        {"mode": "data", "type": RESOURCE_TYPE, "name": "d", "instances": [{"attributes": {}}]},
        {"mode": "managed", "type": "random_id", "name": "r", "instances": [{}, {}]},
    ]});
    assert_eq!(read(&state.to_string()), Ok(TerraformState { certificates: vec![], ignored: 3 }));
    let show = json!({"format_version": "1.2", "values": {"root_module": {
        "resources": [{"address": format!("data.{RESOURCE_TYPE}.d"), "mode": "data", "type": RESOURCE_TYPE}],
        "child_modules": [{"address": "module.m", "resources": [
            {"address": "module.m.random_id.r", "mode": "managed", "type": "random_id"}]}],
    }}});
    assert_eq!(read(&show.to_string()), Ok(TerraformState { certificates: vec![], ignored: 2 }));
    for empty in [r#"{"format_version": "1.0"}"#, r#"{"version": 4, "resources": []}"#] {
        assert_eq!(read(empty), Ok(TerraformState::default()), "{empty}");
    }
}

#[test]
fn what_is_not_a_readable_state_says_why_and_what_to_do() {
    let truncated = &STATE[..STATE[..STATE.len() / 2].rfind('\n').unwrap_or_default()];
    let cases: [(&str, &str); 11] = [
        ("", "is empty"),
        ("  \n", "is empty"),
        ("resource \"x\" {}", "is not JSON"),
        ("{\"version\": 4} trailing", "is not JSON"),
        (truncated, "ends early (line "),
        ("[1, 2]", "is not a Terraform state"),
        (r#"{"format_version": 1, "lineage": "x", "resources": {}}"#, "is not a Terraform state"),
        (
            r#"{"version": 3, "modules": []}"#,
            "has state format version 3: certplan reads version 4",
        ),
        (r#"{"format_version": "2.0"}"#, "format 2.0: certplan reads format 1.x"),
        (r#"{"format_version": "1.2", "planned_values": {}}"#, "is a plan"),
        (&v4(json!({"domain": "a.example.com"}), json!([])), "has no certificate id for"),
    ];
    for (text, message) in cases {
        let error = read(text).expect_err(text);
        assert!(error.to_string().contains(message), "{text:?}: {error}");
    }
    let truncated = read(truncated).expect_err("truncated").to_string();
    assert!(truncated.contains("copy it again, or run `terraform state pull > FILE`"));
    let old = read(r#"{"version": 3}"#).expect_err("v3").to_string();
    assert!(old.contains("Terraform 0.12") && old.contains("terraform state pull"), "{old}");
    let missing = read(&v4(json!({"id": ""}), json!([]))).expect_err("no id").to_string();
    assert!(missing.contains(&format!("{RESOURCE_TYPE}.www")), "{missing}");

    let utf16: Vec<u8> =
        [0xFF, 0xFE].into_iter().chain("{}".encode_utf16().flat_map(u16::to_le_bytes)).collect();
    assert_eq!(read_terraform_state(&utf16), Err(TerraformStateError::Utf16));
    let bom = [b"\xEF\xBB\xBF".as_slice(), br#"{"version": 4, "resources": []}"#].concat();
    assert_eq!(read_terraform_state(&bom), Ok(TerraformState::default()));
}

#[test]
fn wrong_types_anywhere_are_errors_not_panics() {
    let certificate = |instance: Value| json!({"version": 4, "resources": [{"mode": "managed", "type": RESOURCE_TYPE, "name": "a", "instances": [instance]}]});
    let show_resource = |resource: Value| json!({"format_version": "1.0", "values": {"root_module": {"resources": [resource]}}});
    let address = format!("{RESOURCE_TYPE}.a");
    let invalid = [
        json!({"version": 4, "resources": {}}),
        json!({"version": 4, "resources": [3]}),
        json!({"version": 4, "resources": [{"type": 1, "name": "a"}]}),
        json!({"version": 4, "resources": [{"type": RESOURCE_TYPE, "name": "a", "instances": 3}]}),
        json!({"version": 4, "resources": [{"type": RESOURCE_TYPE, "name": "a", "module": 7}]}),
        json!({"version": 4, "resources": [{"type": RESOURCE_TYPE, "name": "a", "module": "edge", "instances": []}]}),
        certificate(json!({"index_key": true, "attributes": {"id": "x"}})),
        certificate(json!({"index_key": -1, "attributes": {"id": "x"}})),
        certificate(json!({"index_key": 1.5, "attributes": {"id": "x"}})),
        certificate(json!({"index_key": [], "attributes": {"id": "x"}})),
        certificate(json!({"attributes": [], "sensitive_attributes": []})),
        certificate(json!({"attributes": "x"})),
        certificate(json!({"attributes": {"id": "x"}, "sensitive_attributes": {}})),
        certificate(json!({"attributes": {"id": "x"}, "sensitive_attributes": [3]})),
        certificate(json!({"attributes": {"id": "x"}, "deposed": 1})),
        json!({"format_version": "1.0", "values": {"root_module": 3}}),
        json!({"format_version": "1.0", "values": {"root_module": {"resources": {}}}}),
        json!({"format_version": "1.0", "values": {"root_module": {"child_modules": [3]}}}),
        show_resource(json!({"mode": "managed", "type": RESOURCE_TYPE})),
        show_resource(json!({"address": "junk", "mode": "managed", "type": RESOURCE_TYPE})),
        show_resource(json!({"address": address, "type": RESOURCE_TYPE, "values": 3})),
        show_resource(
            json!({"address": address, "type": RESOURCE_TYPE, "values": {"id": "x"}, "sensitive_values": 3}),
        ),
    ];
    for text in invalid {
        let error = read(&text.to_string()).expect_err(&text.to_string());
        assert!(matches!(error, TerraformStateError::Invalid(_)), "{text}: {error:?}");
    }
    let no_id = [
        certificate(json!({"attributes": {"id": 3}})),
        certificate(json!({"attributes": null})),
        certificate(json!({})),
        certificate(json!({"attributes": {"id": "x"}, "sensitive_attributes": ["id"]})),
        show_resource(json!({"address": address, "type": RESOURCE_TYPE})),
    ];
    for text in no_id {
        let error = read(&text.to_string()).expect_err(&text.to_string());
        assert!(matches!(error, TerraformStateError::MissingId { .. }), "{text}: {error:?}");
    }
    // Odd values of the arguments are the configuration's business: they are kept as they are.
    let odd = certificate(
        json!({"attributes": {"id": "x", "domain": ["a"], "csr_key_password": {"a": 1}, "project_id": -1}}),
    );
    let state = read(&odd.to_string()).expect("reads");
    assert_eq!(
        state.certificates[0].arguments,
        [("domain", json!(["a"])), ("project_id", json!(-1))]
    );
    assert!(state.certificates[0].password_set);
}

/// Every value of both fixtures replaced, one at a time, by a value of each other JSON type:
/// the result is an error or a state, never a panic, and never holds a secret.
#[test]
fn any_value_of_the_wrong_type_is_read_or_refused_without_leaking() {
    fn paths(value: &Value, at: &mut Vec<String>, all: &mut Vec<String>) {
        all.push(at.iter().map(|p| format!("/{p}")).collect());
        let children: Vec<(String, &Value)> = match value {
            Value::Array(items) => {
                items.iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect()
            }
            Value::Object(entries) => {
                entries.iter().map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v)).collect()
            }
            _ => vec![],
        };
        for (step, child) in children {
            at.push(step);
            paths(child, at, all);
            at.pop();
        }
    }
    let replacements =
        [json!(null), json!(true), json!(-1), json!(1.5), json!("x"), json!([]), json!({})];
    let mut reads = 0;
    for template in [STATE, SHOW] {
        let document: Value =
            serde_json::from_str(&substituted(template)).expect("fixture is JSON");
        let mut all = Vec::new();
        paths(&document, &mut Vec::new(), &mut all);
        for path in all {
            for replacement in &replacements {
                let mut mutated = document.clone();
                if let Some(node) = mutated.pointer_mut(&path) {
                    *node = replacement.clone();
                }
                let shown = match read(&mutated.to_string()) {
                    Ok(state) => format!("{state:?}"),
                    Err(e) => format!("{e} {e:?}"),
                };
                for secret in ["FAKEKEYMATERIAL", "FAKEPASSWORD"] {
                    assert!(!shown.contains(secret), "{path} = {replacement}: {shown}");
                }
                reads += 1;
            }
        }
    }
    assert!(reads > 5000, "{reads}");
}
