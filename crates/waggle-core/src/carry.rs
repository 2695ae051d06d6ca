//! What a backend keeps from one run of an account to the next.

use std::any::Any;
use std::fmt;

/// What a backend keeps from one [`crate::Backend::run`] of an account to the
/// next (the supervisor runs it again with the same
/// [`crate::AccountContext`]): e.g. the stanzas a dropped XMPP connection never
/// saw acknowledged, to send them again. Only the backend that put a value there
/// knows its type.
#[derive(Default)]
pub struct Carry(Option<Box<dyn Any + Send + Sync>>);

impl Carry {
    /// Keep `value` for the next run, replacing what was kept.
    pub fn put<T: Any + Send + Sync>(&mut self, value: T) {
        self.0 = Some(Box::new(value));
    }

    /// Take what the previous run kept, if it is a `T` (else it stays).
    pub fn take<T: Any + Send + Sync>(&mut self) -> Option<T> {
        let boxed = self.0.take()?;
        match boxed.downcast::<T>() {
            Ok(value) => Some(*value),
            Err(other) => {
                self.0 = Some(other);
                None
            }
        }
    }
}

impl fmt::Debug for Carry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Carry(..)"
        } else {
            "Carry(empty)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_one_value_of_its_type() {
        let mut c = Carry::default();
        assert_eq!(c.take::<u32>(), None);
        c.put(7u32);
        assert_eq!(c.take::<String>(), None);
        assert_eq!(c.take::<u32>(), Some(7));
        assert_eq!(c.take::<u32>(), None);
    }
}
