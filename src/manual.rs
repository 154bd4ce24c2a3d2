//! Man pages for `clicom` and each of its subcommands, rendered by `clap_mangen` from the same
//! description of the command line that `--help` and the shell completions use, so the three
//! never disagree.

use std::path::{Path, PathBuf};

/// Writes `clicom.1` and one page per visible subcommand (`clicom-serve.1`, …) into `dir`,
/// creating it if needed; returns the files written.
pub fn write_pages(cmd: clap::Command, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    write(cmd, dir, &mut written)?;
    Ok(written)
}

fn write(cmd: clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write(sub.clone(), dir, written)?;
    }
    written.push(clap_mangen::Man::new(cmd).generate_to(dir)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_per_command_each_a_roff_man_page() {
        let cmd = clap::Command::new("demo")
            .version("1.2.3")
            .about("A demo")
            .subcommand(
                clap::Command::new("run").about("Runs").arg(
                    clap::Arg::new("fast")
                        .long("fast")
                        .help("Quickly")
                        .action(clap::ArgAction::SetTrue),
                ),
            )
            .subcommand(clap::Command::new("secret").hide(true));
        let dir = tempfile::tempdir().unwrap();
        let pages = write_pages(cmd, &dir.path().join("man1")).unwrap();
        let names: Vec<_> = pages
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["demo-run.1", "demo.1"]);
        let run = std::fs::read_to_string(&pages[0]).unwrap();
        assert!(
            run.starts_with(".ie \\n(.g .ds Aq \\(aq") || run.contains(".TH "),
            "{run}"
        );
        assert!(run.contains(".TH demo-run 1"), "{run}");
        assert!(run.contains("\\-\\-fast"), "{run}");
    }
}
