//! The message of a caught panic, shared by the test helpers that run
//! Rust closures as goroutines (a panic cannot unwind out of a goroutine:
//! they catch it and report it from the waiting test).

/// The `panic!` message carried by `e`, or "panic" if it is not a string.
pub fn panic_message(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}
