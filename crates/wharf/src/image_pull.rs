//! Pulling images before anything starts, as Compose's `up` and `run` do: by `--pull`,
//! else by each service's `pull_policy`.

use anyhow::bail;
use wharf_engine::BlockingEngine;

use crate::printer::Printer;

/// Pulls or checks each `(image, pull_policy)` by `--pull` (`flag`) when given, else
/// by the service's own policy: `always` pulls now, `never` insists the image is here,
/// `build` leaves it to the build, and anything else (`missing`, the default;
/// `if_not_present`; `daily` and the like, whose age wharf does not track) pulls an
/// image the engine does not have. Before any container is made, so an image that
/// cannot be had fails the command with the registry's words and changes nothing.
pub fn pull_by_policy(
    engine: &BlockingEngine,
    images: &[(&str, &str)],
    flag: Option<&str>,
    printer: &Printer,
) -> anyhow::Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for &(image, own) in images {
        if !seen.insert(image) {
            continue;
        }
        let pull = |why: &str| -> anyhow::Result<()> {
            printer.info(&format!("pulling {image}{why}"));
            engine
                .pull(image, |line| printer.info(&format!("  {line}")))
                .map_err(|err| anyhow::anyhow!("pulling {image}: {err}"))
        };
        let (policy, said_by) = flag.map_or((own, "pull_policy"), |flag| (flag, "--pull"));
        match policy {
            "always" => pull("")?,
            "build" => {}
            "never" => {
                if engine.inspect_image(image)?.is_none() {
                    bail!("{said_by} never: image {image} is not on this machine");
                }
            }
            _ => {
                if engine.inspect_image(image)?.is_none() {
                    pull(" (not on this machine)")?;
                }
            }
        }
    }
    Ok(())
}
