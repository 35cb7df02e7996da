//! Loom models of the sync state machines (filled in below).
