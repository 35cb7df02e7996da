//! The `sync` part of goro.h: WaitGroup, Mutex, RWMutex, Once.
//! (Filled in by the sync work; see ../sync/.)
