//! Catching a panic as a message, shared by the test helpers that run Rust
//! closures as goroutines (a panic cannot unwind out of a goroutine: they
//! catch it and report it from the waiting test).

/// Runs `f`; if it panics, the `panic!` message (or "panic" if it is not
/// a string).
pub fn catch_panic(f: impl FnOnce()) -> Option<String> {
    let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).err()?;
    Some(
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into()),
    )
}
