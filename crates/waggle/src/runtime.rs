//! The async runtime `[server] threads` asks for.

use anyhow::Context;
use tokio::runtime::{Builder, Runtime};

/// A runtime with `threads` workers: one runs everything on the calling thread,
/// zero means one per core.
pub fn build(threads: usize) -> anyhow::Result<Runtime> {
    let mut builder = if threads == 1 {
        Builder::new_current_thread()
    } else {
        let mut builder = Builder::new_multi_thread();
        if threads > 1 {
            builder.worker_threads(threads);
        }
        builder
    };
    builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

#[cfg(test)]
mod tests {
    use super::build;
    use tokio::runtime::RuntimeFlavor;

    #[test]
    fn one_thread_is_the_calling_thread_and_more_are_workers() -> anyhow::Result<()> {
        let one = build(1)?;
        assert_eq!(one.handle().runtime_flavor(), RuntimeFlavor::CurrentThread);
        let caller = std::thread::current().id();
        assert_eq!(one.block_on(async { std::thread::current().id() }), caller);

        let three = build(3)?;
        assert_eq!(three.handle().runtime_flavor(), RuntimeFlavor::MultiThread);
        assert_eq!(three.metrics().num_workers(), 3);

        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(build(0)?.metrics().num_workers(), cores);
        Ok(())
    }
}
