//! docs/reference/cli.md is what `ecs-events reference` makes of the clap definitions: a help
//! text, option or command changed without the page fails here, with the command that rewrites
//! it (`UPDATE_CLI_REFERENCE=1` rewrites it in place). The page covers every command and option
//! `--help` shows, and `reference` itself stays out of `--help`.

use std::path::PathBuf;

use assert_cmd::Command;

/// Rewrites the checked-in page from the definitions.
const REGENERATE: &str = "UPDATE_CLI_REFERENCE=1 cargo test -p ecs-events-cli --test cli_reference";

fn page_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/reference/cli.md")
}

/// The standard output of `ecs-events ARGS`, which must succeed.
fn ecs_events(args: &[&str]) -> String {
    let output =
        Command::cargo_bin("ecs-events").expect("binary built").args(args).output().expect("runs");
    assert!(output.status.success(), "ecs-events {args:?}: {output:?}");
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

fn generated() -> String {
    ecs_events(&["reference"])
}

#[test]
fn given_the_clap_definitions_then_the_checked_in_reference_is_what_they_generate() {
    let generated = generated();
    let path = page_path();
    if std::env::var_os("UPDATE_CLI_REFERENCE").is_some_and(|value| !value.is_empty()) {
        std::fs::create_dir_all(path.parent().expect("docs/reference")).expect("folder");
        std::fs::write(&path, &generated).expect("page written");
        eprintln!("wrote {}", path.display());
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != generated {
        let diff = similar::TextDiff::from_lines(&checked_in, &generated)
            .unified_diff()
            .context_radius(2)
            .header("docs/reference/cli.md (checked in)", "ecs-events reference (generated)")
            .to_string();
        panic!(
            "docs/reference/cli.md is not what the CLI's clap definitions (cli/src/main/args.rs) \
             generate: a help text, option or command changed without it. Regenerate it with\n\n    \
             {REGENERATE}\n\n(or: cargo run -q -p ecs-events-cli -- reference > \
             docs/reference/cli.md) and commit it.\n\n{diff}"
        );
    }
}

/// The names at the start of the lines of one section of a `-h` text ("Commands:",
/// "Options:", "Arguments:"): `replay`, `--json`, `PATHS`.
fn listed(help: &str, section: &str) -> Vec<String> {
    help.split("\n\n")
        .filter_map(|block| block.strip_prefix(section))
        .flat_map(str::lines)
        .filter_map(|line| line.split_whitespace().next())
        .map(|first| first.trim_end_matches(',').trim_end_matches("..."))
        .map(|name| name.trim_matches(['<', '>', '[', ']']).to_owned())
        .filter(|name| !name.is_empty())
        .collect()
}

#[test]
fn given_every_command_and_option_in_help_then_the_reference_documents_each_in_its_section() {
    let page = generated();
    let commands: Vec<String> = listed(&ecs_events(&["--help"]), "Commands:")
        .into_iter()
        .filter(|command| command != "help")
        .collect();
    assert!(commands.len() >= 8, "the commands of --help: {commands:?}");
    for command in commands {
        let heading = format!("\n## `ecs-events {command}`\n");
        let start = page.find(&heading).unwrap_or_else(|| panic!("no section {heading:?}"));
        let section = &page[start + heading.len()..];
        let section = &section[..section.find("\n## ").unwrap_or(section.len())];
        assert!(page.contains(&format!("(#ecs-events-{command})")), "{command} in the table");
        let help = ecs_events(&[&command, "-h"]);
        let mut options = listed(&help, "Options:");
        // `-h, --help` is listed as `-h`: clap's own flag, said once at the top of the page.
        options.retain(|option| option.starts_with("--"));
        for option in options {
            assert!(section.contains(&format!("- `{option}")), "{command}: {option} in {section}");
        }
        for argument in listed(&help, "Arguments:") {
            assert!(section.contains(&format!("- `<{argument}>")), "{command}: <{argument}>");
        }
    }
}

#[test]
fn given_help_then_the_reference_command_is_not_listed() {
    let help = ecs_events(&["--help"]);
    assert!(!listed(&help, "Commands:").contains(&"reference".to_owned()), "{help}");
    assert!(listed(&help, "Commands:").contains(&"replay".to_owned()), "{help}");
}
