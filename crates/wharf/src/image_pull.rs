//! Pulling images by Compose's `--pull` policy, for `up` and `run`.

use anyhow::bail;
use wharf_engine::BlockingEngine;

use crate::printer::Printer;

/// `--pull`: `always` pulls each image now, `never` insists each is here already;
/// `missing` (the default) leaves it to the daemon, which pulls what is missing.
pub fn pull_by_policy(
    engine: &BlockingEngine,
    images: &[&str],
    policy: Option<&str>,
    printer: &Printer,
) -> anyhow::Result<()> {
    for image in images {
        match policy {
            Some("always") => {
                printer.info(&format!("pulling {image}"));
                engine.pull(image, |line| printer.info(&format!("  {line}")))?;
            }
            Some("never") if engine.inspect_image(image)?.is_none() => {
                bail!("--pull never: image {image} is not on this machine");
            }
            _ => {}
        }
    }
    Ok(())
}
