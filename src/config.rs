//! Settings read once from the environment, and the default worker count.
//!
//! | variable            | meaning                                                        |
//! |---------------------|----------------------------------------------------------------|
//! | `GOMAXPROCS`        | worker threads (default: usable CPUs, see [`default_procs`])   |
//! | `GORO_STACK_SIZE`   | default goroutine stack size: bytes, or with K/M/G suffix       |
//! | `GORO_STACK_GUARD`  | `auto` (default), `mprotect` or `none`: how stacks are guarded |
//!
//! An invalid value is reported once on stderr (`goro: ignoring ...`) and the
//! default is used, so a typo never silently changes behaviour.

use crate::sys;

/// Smallest stack goro accepts: the entry frame, the user's function and a
/// parking call must fit, with room for libc calls such as printf.
pub(crate) const MIN_STACK: usize = 16 << 10;
/// Largest stack goro accepts (Go's maximum goroutine stack is 1 GB).
pub(crate) const MAX_STACK: usize = 1 << 30;
/// Default usable stack size of a goroutine (excluding its guard pages).
pub(crate) const DEFAULT_STACK: usize = 128 << 10;
/// Bytes of guard pages below every stack.
pub(crate) const GUARD_BYTES: usize = 16 << 10;
/// Most worker threads goro runs; larger `GOMAXPROCS` values are clamped.
pub(crate) const MAX_PROCS: usize = 1024;

/// How stacks are protected against overflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GuardMode {
    /// `MADV_GUARD_INSTALL` where the kernel has it (Linux >= 6.13), else
    /// `mprotect` guards while the mapping budget lasts, then canaries.
    Auto,
    /// Act as on a kernel without `MADV_GUARD_INSTALL`.
    Mprotect,
    /// No guard pages: a canary word checked at every switch only.
    None,
}

pub(crate) struct Config {
    pub stack_size: usize,
    pub guard: GuardMode,
    pub procs_env: Option<usize>,
}

fn warn(var: &str, val: &str, why: &str) {
    let msg = format!("goro: ignoring {var}={val:?}: {why}\n");
    sys::write_all(2, msg.as_bytes());
}

/// Parses a byte size: digits with an optional K, M or G suffix (powers of 1024).
pub(crate) fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (num, mult) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 1usize << 10),
        b'm' | b'M' => (&s[..s.len() - 1], 1 << 20),
        b'g' | b'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.trim().parse::<usize>().ok()?.checked_mul(mult)
}

impl Config {
    pub(crate) fn from_env() -> Config {
        let mut c = Config {
            stack_size: DEFAULT_STACK,
            guard: GuardMode::Auto,
            procs_env: None,
        };
        if let Ok(v) = std::env::var("GORO_STACK_SIZE") {
            match parse_size(&v) {
                Some(n) if (MIN_STACK..=MAX_STACK).contains(&n) => c.stack_size = round_stack(n),
                _ => warn(
                    "GORO_STACK_SIZE",
                    &v,
                    "want a size from 16K to 1G, e.g. 256K",
                ),
            }
        }
        if let Ok(v) = std::env::var("GORO_STACK_GUARD") {
            match v.trim() {
                "auto" | "" => {}
                "mprotect" => c.guard = GuardMode::Mprotect,
                "none" => c.guard = GuardMode::None,
                _ => warn("GORO_STACK_GUARD", &v, "want auto, mprotect or none"),
            }
        }
        if let Ok(v) = std::env::var("GOMAXPROCS") {
            match v.trim().parse::<usize>() {
                Ok(n) if n >= 1 => c.procs_env = Some(n.min(MAX_PROCS)),
                _ => warn("GOMAXPROCS", &v, "want a positive integer"),
            }
        }
        c
    }
}

/// Rounds a stack size up to whole pages.
pub(crate) fn round_stack(n: usize) -> usize {
    let p = sys::page_size();
    n.div_ceil(p) * p
}

/// CPUs in this process's affinity mask.
fn affinity_cpus() -> usize {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it for the
    // calling process (pid 0) and we pass its exact size.
    unsafe {
        let mut set: libc::cpu_set_t = core::mem::zeroed();
        if libc::sched_getaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            let n = libc::CPU_COUNT(&set);
            if n > 0 {
                return n as usize;
            }
        }
    }
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The tightest CPU bandwidth limit (quota / period, in CPUs) of the cgroup
/// this process is in and of its visible ancestors; cgroup v2 and v1.
fn cgroup_cpu_limit() -> Option<f64> {
    let cgroups = sys::read_small_file("/proc/self/cgroup")?;
    let mountinfo = sys::read_small_file("/proc/self/mountinfo")?;
    let mut best: Option<f64> = None;
    let mut consider = |l: f64| {
        if l > 0.0 && best.is_none_or(|b| l < b) {
            best = Some(l);
        }
    };
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let v2 = controllers.is_empty();
        if !v2 && !controllers.split(',').any(|c| c == "cpu") {
            continue;
        }
        for m in mountinfo.lines() {
            let (pre, post) = match m.split_once(" - ") {
                Some(x) => x,
                None => continue,
            };
            let f: Vec<&str> = pre.split(' ').collect();
            let g: Vec<&str> = post.split(' ').collect();
            if f.len() < 5 || g.len() < 3 {
                continue;
            }
            let ok = if v2 {
                g[0] == "cgroup2"
            } else {
                g[0] == "cgroup" && g[2].split(',').any(|o| o == "cpu")
            };
            if !ok {
                continue;
            }
            let (root, mnt) = (f[3], f[4]);
            let rel = if root == "/" {
                path
            } else {
                path.strip_prefix(root).unwrap_or(path)
            };
            let mut dir = format!("{mnt}{}", rel.trim_end_matches('/'));
            loop {
                if v2 {
                    if let Some(t) = sys::read_small_file(&format!("{dir}/cpu.max")) {
                        let mut it = t.split_whitespace();
                        if let (Some(q), Some(p)) = (it.next(), it.next()) {
                            if let (Ok(q), Ok(p)) = (q.parse::<f64>(), p.parse::<f64>()) {
                                if p > 0.0 {
                                    consider(q / p);
                                }
                            }
                        }
                    }
                } else {
                    let q = sys::read_small_file(&format!("{dir}/cpu.cfs_quota_us"));
                    let p = sys::read_small_file(&format!("{dir}/cpu.cfs_period_us"));
                    if let (Some(q), Some(p)) = (q, p) {
                        if let (Ok(q), Ok(p)) = (q.trim().parse::<f64>(), p.trim().parse::<f64>()) {
                            if q > 0.0 && p > 0.0 {
                                consider(q / p);
                            }
                        }
                    }
                }
                if dir.len() <= mnt.len() {
                    break;
                }
                match dir.rfind('/') {
                    Some(i) if i >= mnt.len() => dir.truncate(i),
                    _ => break,
                }
            }
            break;
        }
    }
    best
}

/// Default worker count, as Go 1.25+: the CPUs in the affinity mask, lowered
/// to the cgroup CPU bandwidth limit rounded up (but not below 2). Unlike
/// Go, ancestors' limits count too (the kernel enforces the tightest).
pub(crate) fn default_procs() -> usize {
    let mut n = affinity_cpus();
    if let Some(limit) = cgroup_cpu_limit() {
        let l = (limit.ceil() as usize).max(2);
        n = n.min(l);
    }
    n.clamp(1, MAX_PROCS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("64K"), Some(65536));
        assert_eq!(parse_size("2m"), Some(2 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("K"), None);
    }

    #[test]
    fn procs_default_is_sane() {
        let n = default_procs();
        assert!(n >= 1 && n <= affinity_cpus());
    }
}
