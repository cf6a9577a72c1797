//! `config --format json` is written straight from the project (`project_json`); the
//! tree form (`project_value`, which the config hash uses) says the same. Every
//! fixture that loads must print identically both ways, with `$` escaped and without.

use std::collections::BTreeMap;
use std::path::Path;

use wharf_manifest::{LoadOptions, load, project_json, project_value, to_go_json};

#[test]
fn the_written_json_equals_the_tree_form_on_every_fixture() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/compose");
    let mut compared = 0;
    for entry in std::fs::read_dir(&fixtures).expect("fixtures exist") {
        let dir = entry.unwrap().path();
        if !dir.join("compose.yaml").is_file() {
            continue;
        }
        let shell: BTreeMap<String, String> = std::fs::read_to_string(dir.join("env"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let options = LoadOptions {
            working_dir: dir.clone(),
            interpolate: true,
            shell,
            ..LoadOptions::default()
        };
        let Ok(loaded) = load(&options) else {
            continue;
        };
        for escape in [true, false] {
            let tree = project_value(&loaded.project, escape).unwrap();
            let expected = to_go_json(&tree).unwrap();
            let written = project_json(&loaded.project, escape).unwrap();
            assert_eq!(written, expected, "{} (escape: {escape})", dir.display());
        }
        compared += 1;
    }
    assert!(compared >= 250, "only {compared} fixtures loaded");
}
