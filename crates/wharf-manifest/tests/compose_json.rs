//! `config --format json` is written straight from the project (`project_json`); the
//! tree form (`project_value`, which the config hash uses) says the same. Every
//! fixture that loads must print identically both ways, with `$` escaped and without;
//! and the name `load_name` finds, without loading, must be the one `load` gives.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use wharf_manifest::{LoadOptions, load, load_name, project_json, project_value, to_go_json};

/// Each fixture's directory, with the options `config` would load it with there.
fn fixtures() -> Vec<(PathBuf, LoadOptions)> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/compose");
    let mut found = Vec::new();
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
        found.push((dir, options));
    }
    found
}

#[test]
fn the_written_json_equals_the_tree_form_on_every_fixture() {
    let mut compared = 0;
    for (dir, options) in fixtures() {
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

#[test]
fn the_name_alone_is_the_loaded_project_s_on_every_fixture() {
    let mut compared = 0;
    for (dir, options) in fixtures() {
        let Ok(loaded) = load(&options) else {
            continue;
        };
        let name = load_name(&options).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
        assert_eq!(name, loaded.project.name, "{}", dir.display());
        compared += 1;
    }
    assert!(compared >= 250, "only {compared} fixtures loaded");
}
