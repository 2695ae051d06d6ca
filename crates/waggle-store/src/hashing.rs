//! A bounded pool for Argon2id work with reusable working memory.
//!
//! Every password hash needs 19 MiB of working memory. Run on tokio's blocking pool
//! as is, each of up to 512 threads allocates its own, and glibc keeps the freed
//! blocks resident in per-thread arenas: a login storm grows the process by gigabytes
//! and it never shrinks back. Here at most `workers` hashes run at once, each in one
//! of at most `workers` memory buffers that are allocated once, wiped after every
//! use and kept for the next, so the memory cost is `workers × 19 MiB` whatever the
//! load.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use argon2::Block;
use tokio::sync::Semaphore;
use waggle_core::StoreError;
use zeroize::Zeroize;

use crate::crypto;

/// Argon2 working memory, sized for the login parameters and grown on demand.
pub(crate) struct Memory {
    blocks: Vec<Block>,
    /// Argon2 runs since the pool last counted (one per [`Memory::blocks`] call).
    runs: u64,
}

/// The address space a buffer is allocated with. Above glibc's largest mmap
/// threshold (32 MiB) its `malloc` maps such a block on its own and unmaps it
/// when freed; a 19 MiB block would land in an arena after the first one and stay
/// resident for good. Only the pages used count: the rest is never touched.
const RESERVE_BYTES: usize = 40 << 20;

fn reserve_blocks() -> usize {
    RESERVE_BYTES / std::mem::size_of::<Block>()
}

impl Memory {
    /// Memory for the default login parameters.
    pub(crate) fn new() -> Memory {
        let count = crypto::login_params().block_count();
        let mut blocks = Vec::with_capacity(reserve_blocks().max(count));
        blocks.resize(count, Block::new());
        Memory { blocks, runs: 0 }
    }

    /// The first `count` blocks for one Argon2 run, growing the buffer if needed.
    pub(crate) fn blocks(&mut self, count: usize) -> Result<&mut [Block], StoreError> {
        self.runs += 1;
        if self.blocks.len() < count {
            self.blocks.resize(count, Block::new());
        }
        self.blocks
            .get_mut(..count)
            .ok_or_else(|| StoreError::Crypto("argon2 memory".into()))
    }

    /// Wipe what the last hash left, and give back what a larger one added.
    fn wipe(&mut self) {
        self.blocks.iter_mut().for_each(Zeroize::zeroize);
        let normal = crypto::login_params().block_count();
        if self.blocks.len() > normal {
            self.blocks.truncate(normal);
            self.blocks.shrink_to(reserve_blocks().max(normal));
        }
    }
}

/// At most `workers` Argon2 runs at once, each in memory reused while busy.
#[derive(Debug)]
pub(crate) struct HashPool {
    permits: Arc<Semaphore>,
    spare: Arc<Mutex<Vec<Memory>>>,
    runs: Arc<AtomicU64>,
    /// Hashes asked for and not yet done (running or waiting for a permit).
    busy: Arc<AtomicUsize>,
    /// Memory buffers allocated so far.
    #[cfg(test)]
    made: Arc<AtomicUsize>,
}

/// One hash counted in [`HashPool::busy`] until it is dropped (also when the
/// caller gives up waiting for a permit).
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn enter(count: &Arc<AtomicUsize>) -> Busy {
        count.fetch_add(1, Ordering::SeqCst);
        Busy(Arc::clone(count))
    }

    /// Stop counting this hash; whether it was the last one.
    fn leave(self) -> bool {
        let last = self.0.fetch_sub(1, Ordering::SeqCst) == 1;
        std::mem::forget(self);
        last
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Memory({} blocks)", self.blocks.len())
    }
}

impl HashPool {
    /// A pool running `workers` hashes at once; 0 means one per CPU core.
    pub(crate) fn new(workers: usize) -> HashPool {
        let workers = if workers == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            workers
        };
        HashPool {
            permits: Arc::new(Semaphore::new(workers)),
            spare: Arc::new(Mutex::new(Vec::with_capacity(workers))),
            runs: Arc::new(AtomicU64::new(0)),
            busy: Arc::new(AtomicUsize::new(0)),
            #[cfg(test)]
            made: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Run `job` on a blocking thread with a memory buffer, once a permit is free.
    ///
    /// The permit and the buffer travel with the job, so a caller that gives up
    /// waiting neither frees a permit early nor loses a buffer.
    pub(crate) async fn run<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Memory) -> Result<T, StoreError> + Send + 'static,
    {
        let busy = Busy::enter(&self.busy);
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Crypto(format!("hash pool: {e}")))?;
        let spare = Arc::clone(&self.spare);
        let runs = Arc::clone(&self.runs);
        #[cfg(test)]
        let made = Arc::clone(&self.made);
        tokio::task::spawn_blocking(move || {
            let taken = spare.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let mut memory = taken.unwrap_or_else(|| {
                #[cfg(test)]
                made.fetch_add(1, Ordering::SeqCst);
                Memory::new()
            });
            let result = job(&mut memory);
            runs.fetch_add(std::mem::take(&mut memory.runs), Ordering::Relaxed);
            memory.wipe();
            let mut spare = spare.lock().unwrap_or_else(PoisonError::into_inner);
            if busy.leave() {
                // Nobody is waiting: give the memory back.
                spare.clear();
                drop(memory);
            } else {
                spare.push(memory);
            }
            drop(spare);
            drop(permit);
            result
        })
        .await
        .map_err(|e| StoreError::Crypto(format!("hash task failed: {e}")))?
    }

    /// How many Argon2 runs the pool has done.
    #[cfg(test)]
    pub(crate) fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// How many memory buffers are kept for the next hash now.
    #[cfg(test)]
    fn buffers(&self) -> usize {
        self.spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_workers_run_at_once_in_reused_memory_given_back_when_idle()
    -> Result<(), StoreError> {
        let pool = Arc::new(HashPool::new(3));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..24 {
            let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                pool.run(move |memory| {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    // Touch the memory and linger so that runs overlap if they can.
                    memory.blocks(8)?.iter_mut().for_each(|b| *b = Block::new());
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(())
                })
                .await
            }));
        }
        for task in tasks {
            task.await
                .map_err(|e| StoreError::Crypto(e.to_string()))??;
        }
        let peak = peak.load(Ordering::SeqCst);
        assert!(peak <= 3, "{peak} hashes ran at once");
        let made = pool.made.load(Ordering::SeqCst);
        assert!(
            (1..24).contains(&made),
            "{made} buffers were made for 24 hashes"
        );
        assert_eq!(pool.buffers(), 0, "an idle pool keeps no memory");
        assert_eq!(pool.busy.load(Ordering::SeqCst), 0);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_gives_up_waiting_does_not_keep_memory_alive() -> Result<(), StoreError> {
        let pool = Arc::new(HashPool::new(1));
        let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let first = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(move |memory| {
                    memory.blocks(8)?;
                    let _ = started_tx.send(());
                    let _ = released.recv_timeout(std::time::Duration::from_secs(10));
                    Ok(())
                })
                .await
            })
        };
        started
            .await
            .map_err(|e| StoreError::Crypto(e.to_string()))?;
        // The only permit is taken: this one waits, then gives up.
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(20), pool.run(|_| Ok(()))).await;
        assert!(waiting.is_err(), "the second hash should still be waiting");
        assert_eq!(pool.busy.load(Ordering::SeqCst), 1);
        let _ = release.send(());
        first
            .await
            .map_err(|e| StoreError::Crypto(e.to_string()))??;
        assert_eq!(pool.busy.load(Ordering::SeqCst), 0);
        assert_eq!(pool.buffers(), 0);
        Ok(())
    }

    #[test]
    fn zero_workers_means_one_per_core() {
        let pool = HashPool::new(0);
        assert!(pool.permits.available_permits() >= 1);
    }

    #[test]
    fn larger_memory_is_given_back_and_wiped() -> Result<(), StoreError> {
        let mut memory = Memory::new();
        let normal = memory.blocks.len();
        let big = memory.blocks(normal + 10)?;
        big.iter_mut().for_each(|b| b.as_mut().fill(7));
        memory.wipe();
        assert_eq!(memory.blocks.len(), normal);
        assert!(
            memory
                .blocks
                .iter()
                .all(|b| b.as_ref().iter().all(|w| *w == 0))
        );
        Ok(())
    }
}
