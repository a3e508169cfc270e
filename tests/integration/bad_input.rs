//! Hostile and broken files: each gets one clear error at its place and
//! exit status 1, never a panic, a hang or an exhausted machine.

use crate::support::{Output, Test};
use crate::validate::{BASE, TENANT};

/// A test dir with the test tenant and `bytes` as `followups/<name>`.
fn with_file(name: &str, bytes: &[u8]) -> Test {
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT)
        .write_bytes(&format!("followups/{name}"), bytes);
    t
}

/// `validate` fails with exactly this stderr and does not panic.
#[track_caller]
fn assert_refused(t: &Test, expected: &str) -> Output {
    let out = t.run(&["validate"]);
    out.assert_status(1).assert_stderr(expected);
    out
}

#[test]
fn an_empty_file() {
    let t = with_file("empty.yaml", b"");
    assert_refused(
        &t,
        "followups/empty.yaml:1:1: error: file is empty: expected a mapping of keys\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
}

#[test]
fn a_file_of_comments_only() {
    let t = with_file("notes.yaml", b"# to do: write this follow-up\n\n# later\n");
    assert_refused(
        &t,
        "followups/notes.yaml:1:1: error: file is empty: expected a mapping of keys\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
}

#[test]
fn binary_garbage() {
    // A PNG saved under the wrong name: not UTF-8 from its first byte.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0\0\0\x01\0\x08\x06\0\0\0";
    let t = with_file("logo.yaml", png);
    assert_refused(
        &t,
        "followups/logo.yaml:1:1: error: file is not UTF-8 text (invalid byte at offset 0)\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
    // Binary that happens to be valid UTF-8: the first NUL byte.
    let t = with_file("dump.yaml", b"id: dump\nname: x\0\0\x01\x02\n");
    assert_refused(
        &t,
        "followups/dump.yaml:2:8: error: file holds a NUL byte: binary data is not YAML\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
}

#[test]
fn non_utf8_text() {
    // Latin-1 `é` in the name.
    let t = with_file("cafe.yaml", b"id: cafe\nname: Caf\xe9 orders\n");
    assert_refused(
        &t,
        "followups/cafe.yaml:2:10: error: file is not UTF-8 text (invalid byte at offset 18)\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
}

#[test]
fn a_10_mb_yaml_file() {
    let line = "- { number: INC0010001, short_description: Printer on fire, state: '3' }\n";
    let big = line.repeat(10 * 1024 * 1024 / line.len() + 1);
    let t = with_file("export.yaml", big.as_bytes());
    assert_refused(
        &t,
        &format!(
            "followups/export.yaml:1:1: error: file is {} bytes; a YAML file here may hold at most 1048576 bytes\n\
             1 follow-up checked: 1 error, 0 warnings\n",
            big.len()
        ),
    );
}

#[test]
fn deeply_nested_block_yaml() {
    let deep: String = (0..1000)
        .map(|i| format!("{}k:\n", " ".repeat(i)))
        .collect();
    let t = with_file("deep.yaml", deep.as_bytes());
    assert_refused(
        &t,
        "followups/deep.yaml:65:66: error: nesting deeper than 64 levels\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
}

#[test]
fn deeply_nested_flow_yaml() {
    // Within the scanner's reach, the parser's own limit: the top mapping
    // and 63 lists, so the 64th `[` is one too many.
    let t = with_file("flow.yaml", format!("a: {}\n", "[".repeat(100)).as_bytes());
    assert_refused(
        &t,
        "followups/flow.yaml:1:67: error: nesting deeper than 64 levels\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
    // Far beyond: the scanner, which reads flow collections ahead, stops first.
    let t = with_file(
        "flow.yaml",
        format!("a: {}\n", "[".repeat(100_000)).as_bytes(),
    );
    assert_refused(
        &t,
        "followups/flow.yaml:1:259: error: nesting deeper than 64 levels\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
    let t = with_file(
        "flow.yaml",
        format!("a: {}\n", "{a: ".repeat(10_000)).as_bytes(),
    );
    assert_refused(
        &t,
        "followups/flow.yaml:1:256: error: nesting deeper than 64 levels\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
}

#[test]
fn a_yaml_bomb_of_aliases() {
    // Billion laughs: nine levels of ten aliases each, 10^9 strings.
    let mut bomb = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in names.windows(2) {
        let refs = vec![format!("*{}", pair[0]); 10].join(", ");
        bomb.push_str(&format!("{}: &{} [{refs}]\n", pair[1], pair[1]));
    }
    let t = with_file("bomb.yaml", bomb.as_bytes());
    assert_refused(
        &t,
        "followups/bomb.yaml:5:36: error: document expands to more than 100000 values (an alias bomb?)\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
}

#[test]
fn too_many_values_without_aliases() {
    let many = format!("a: [{}]\n", vec!["1"; 150_000].join(","));
    let t = with_file("many.yaml", many.as_bytes());
    assert_refused(
        &t,
        "followups/many.yaml:1:199999: error: document expands to more than 100000 values (an alias bomb?)\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
}

#[test]
fn several_documents_in_one_file() {
    let two = format!("{BASE}---\n{BASE}");
    let t = with_file("approvals.yaml", two.as_bytes());
    assert_refused(
        &t,
        "followups/approvals.yaml:18:1: error: file holds several YAML documents; write one per file\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
    // One document with its explicit markers is fine.
    let one = format!("---\n{BASE}...\n");
    let t = with_file("approvals.yaml", one.as_bytes());
    t.write("followups/data.json", "{}");
    t.run(&["validate"])
        .assert_status(0)
        .assert_stderr("1 follow-up checked: 0 errors, 0 warnings\n");
}

#[test]
fn a_file_that_is_not_a_mapping() {
    let t = with_file("list.yaml", b"- id: a\n- id: b\n");
    assert_refused(
        &t,
        "followups/list.yaml:1:1: error: expected a mapping of keys at the top of the file\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
    let t = with_file("word.yaml", b"\n\nhello\n");
    assert_refused(
        &t,
        "followups/word.yaml:3:1: error: expected a mapping of keys at the top of the file\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
}

#[test]
fn yaml_syntax_errors() {
    let t = with_file("approvals.yaml", b"id: approvals\nname: [unclosed\n");
    assert_refused(
        &t,
        "followups/approvals.yaml:3:1: error: while parsing a flow sequence, expected ',' or ']'\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
    let t = with_file("approvals.yaml", b"id: approvals\n\tname: x\n");
    assert_refused(
        &t,
        "followups/approvals.yaml:1:5: error: while scanning a plain scalar, found a tab\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
    let t = with_file("approvals.yaml", b"id: approvals\nname: a\nname: b\n");
    assert_refused(
        &t,
        "followups/approvals.yaml:3:1: error: duplicate key `name` (first at line 2, column 1)\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
    let t = with_file("approvals.yaml", b"id: approvals\nname: *nowhere\n");
    assert_refused(
        &t,
        "followups/approvals.yaml:2:7: error: while parsing node, found unknown anchor\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
}

#[test]
fn a_byte_order_mark_is_allowed() {
    let t = with_file("approvals.yaml", format!("\u{feff}{BASE}").as_bytes());
    t.write("followups/data.json", "{}");
    t.run(&["validate"])
        .assert_status(0)
        .assert_stderr("1 follow-up checked: 0 errors, 0 warnings\n");
}

#[test]
fn an_invalid_tenant() {
    for (bytes, error) in [
        (
            &b""[..],
            "followups/tenant.yaml:1:1: error: file is empty: expected a mapping of keys",
        ),
        (
            &b"\xff\xfe t\0e\0"[..],
            "followups/tenant.yaml:1:1: error: file is not UTF-8 text (invalid byte at offset 0)",
        ),
        (
            &b"- console\n- email\n"[..],
            "followups/tenant.yaml:1:1: error: expected a mapping of keys at the top of the file",
        ),
        (
            &b"tenant: test\nchannels: [console]\n"[..],
            "followups/tenant.yaml:2:11: error: channels: expected a mapping, found a list",
        ),
    ] {
        let t = Test::new();
        t.write_bytes("followups/tenant.yaml", bytes)
            .write("followups/approvals.yaml", BASE)
            .write("followups/data.json", "{}");
        assert_refused(
            &t,
            &format!("{error}\n1 follow-up checked: 1 error, 0 warnings\n"),
        );
    }
}

#[test]
fn every_prefix_of_a_definition_is_an_error_not_a_panic() {
    // A file cut short anywhere (a half-saved editor buffer): 400-odd files
    // in one run, each reported, none crashing the run.
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT);
    let cuts: Vec<usize> = (0..BASE.len())
        .filter(|&i| BASE.is_char_boundary(i))
        .collect();
    for &cut in &cuts {
        t.write(&format!("followups/cut-{cut:04}.yaml"), &BASE[..cut]);
    }
    let out = t.run(&["validate"]);
    out.assert_status(1);
    let summary = format!("{} follow-ups checked: ", cuts.len());
    assert!(out.stderr.contains(&summary), "{}", out.stderr);
    for &cut in &cuts {
        let file = format!("followups/cut-{cut:04}.yaml:");
        assert!(
            out.stderr
                .lines()
                .any(|l| l.starts_with(&file) && l.contains(": error: ")),
            "no error for {file}\n{}",
            out.stderr
        );
    }
}

#[test]
fn scrambled_definitions_are_errors_not_panics() {
    // Bytes of a valid definition replaced by YAML's special characters at
    // pseudo-random places (a fixed seed, so that a failure repeats).
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT);
    let specials = b"{}[]:,-?&*!|>'\"%@`#\n\t \\";
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for n in 0..300 {
        let mut bytes = BASE.as_bytes().to_vec();
        for _ in 0..(1 + next() % 4) {
            let at = (next() % bytes.len() as u64) as usize;
            bytes[at] = specials[(next() % specials.len() as u64) as usize];
        }
        t.write_bytes(&format!("followups/s{n:03}.yaml"), &bytes);
    }
    let out = t.run(&["validate"]);
    assert!(!out.panicked(), "{}", out.stderr);
    // Every file is an error (its id is not its name, if nothing else).
    out.assert_status(1);
    assert!(
        out.stderr.contains("\n300 follow-ups checked: "),
        "{}",
        out.stderr
    );
}

#[test]
fn a_mapping_of_many_keys() {
    // Finding a duplicate among 40,000 keys by comparing each with every
    // other took seconds.
    let mut keys: String = (0..40_000).map(|i| format!("k{i}: 1\n")).collect();
    keys.push_str("k17: 2\n");
    let t = with_file("keys.yaml", keys.as_bytes());
    assert_refused(
        &t,
        "followups/keys.yaml:40001:1: error: duplicate key `k17` (first at line 18, column 1)\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
}

#[test]
fn a_long_chain_of_nested_groups() {
    // Asking for each member whether it leads back took minutes.
    let n = 16_000;
    let mut tenant = String::from(
        "tenant: test\nchannels: { console: { type: console } }\nusers:\n  - { id: alice }\ngroups:\n",
    );
    for i in 0..n - 1 {
        tenant.push_str(&format!("  - {{ id: g{i}, members: [g{}] }}\n", i + 1));
    }
    tenant.push_str(&format!("  - {{ id: g{}, members: [alice, g0] }}\n", n - 1));
    let t = Test::new();
    t.write("followups/tenant.yaml", &tenant)
        .write("followups/data.json", "{}")
        .write("followups/approvals.yaml", BASE);
    // One cycle through all of them: each member that closes it is named.
    let out = t.run(&["validate"]);
    out.assert_status(1);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        n + 1,
        "{}",
        &out.stderr[..2000.min(out.stderr.len())]
    );
    assert_eq!(
        lines[0],
        "followups/tenant.yaml:6:25: error: group `g0` contains itself through `g1`"
    );
    assert_eq!(
        lines[n - 1],
        format!(
            "followups/tenant.yaml:{}:36: error: group `g{}` contains itself through `g0`",
            n + 5,
            n - 1
        )
    );
}

#[test]
fn thousands_of_unknown_members_among_thousands_of_users() {
    // A hint for each compared every name with every other: minutes. A
    // file gets 20 hints; the errors are all there.
    let n = 10_000;
    let mut tenant =
        String::from("tenant: test\nchannels: { console: { type: console } }\nusers:\n");
    for i in 0..n {
        tenant.push_str(&format!("  - {{ id: user{i} }}\n"));
    }
    let members: Vec<String> = (0..n).map(|i| format!("usr{i}")).collect();
    tenant.push_str(&format!(
        "groups:\n  - {{ id: all, members: [{}] }}\n",
        members.join(", ")
    ));
    let t = Test::new();
    t.write("followups/tenant.yaml", &tenant)
        .write("followups/data.json", "{}")
        .write("followups/approvals.yaml", BASE);
    let out = t.run(&["validate"]);
    out.assert_status(1);
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains(": error: "))
        .collect();
    assert_eq!(errors.len(), n);
    assert_eq!(
        errors[0],
        format!(
            "followups/tenant.yaml:{}:26: error: `usr0` is neither a user nor a group; did you mean `user0`?",
            n + 5
        )
    );
    assert_eq!(
        errors.iter().filter(|e| e.contains("did you mean")).count(),
        20
    );
}

#[test]
fn a_deeply_nested_jsonpath() {
    let deep = format!("$[?{}@.a == 1{}]", "(".repeat(5000), ")".repeat(5000));
    let t = with_file(
        "approvals.yaml",
        crate::validate::edit(&[("loop: \"$.result[*]\"", &format!("loop: \"{deep}\""))])
            .as_bytes(),
    );
    t.write("followups/data.json", "{}");
    // The message quotes the start of the path, not all 10,000 characters.
    assert_refused(
        &t,
        &format!(
            "followups/approvals.yaml:8:9: error: `$[?{}…` is not a JSONPath: JSONPath nesting depth exceeds the maximum of 128\n\
             1 follow-up checked: 1 error, 0 warnings\n",
            "(".repeat(57)
        ),
    );
}
