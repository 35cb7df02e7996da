// Command gobench: the side-by-side workloads (W1..W8, see BENCHMARKS.md)
// in Go, stdlib only, printing the same RESULT lines as bench/goro_bench.c.
//
//	gobench W1 N [ROUNDS] | W2 N | W3 N | W4 G OPS | W5 N | W6 G OPS | W7 ROUNDS | W8 N
//
// GOMAXPROCS is 2 (the harness sets it), 1 for W3. main is a goroutine, so
// spawning from main is spawning from a goroutine.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func result(workload, param string, n int64, metric string, value float64) {
	fmt.Printf("RESULT system=go workload=%s param=%s n=%d metric=%s value=%.6g\n",
		workload, param, n, metric, value)
}

func fileKB(path, field string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, field+":") {
			fs := strings.Fields(line[len(field)+1:])
			if len(fs) > 0 {
				v, _ := strconv.ParseInt(fs[0], 10, 64)
				return v
			}
		}
	}
	return -1
}

func statusKB(field string) int64  { return fileKB("/proc/self/status", field) }
func meminfoKB(field string) int64 { return fileKB("/proc/meminfo", field) }

func arg(i int, dflt int64) int64 {
	if len(os.Args) > i {
		v, err := strconv.ParseInt(os.Args[i], 10, 64)
		if err != nil || v <= 0 {
			fmt.Fprintf(os.Stderr, "bad argument: %s\n", os.Args[i])
			os.Exit(2)
		}
		return v
	}
	return dflt
}

func share(ops, g, i int64) int64 {
	k := ops / g
	if i < ops%g {
		k++
	}
	return k
}

// W1: spawn + join N goroutines, ROUNDS times (default: batches up to 1M
// goroutines in all).
func w1(n, rounds int64) {
	var wg sync.WaitGroup
	t0 := time.Now()
	for r := int64(0); r < rounds; r++ {
		wg.Add(int(n))
		for i := int64(0); i < n; i++ {
			go func() { wg.Done() }()
		}
		wg.Wait()
	}
	el := time.Since(t0)
	result("W1", "spawn_from_goroutine", n, "ns_per_goroutine", float64(el.Nanoseconds())/float64(n*rounds))
	result("W1", "spawn_from_goroutine", n, "peak_rss_mib", float64(statusKB("VmHWM"))/1024)
}

// W2: N goroutines parked at a gate (a WaitGroup, as in the C versions).
func w2(n int64) {
	var ready, gate, done sync.WaitGroup
	rss0, pte0, ks0 := statusKB("VmRSS"), statusKB("VmPTE"), meminfoKB("KernelStack")
	ready.Add(int(n))
	gate.Add(1)
	done.Add(int(n))
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		go func() {
			ready.Done()
			gate.Wait()
			done.Done()
		}()
	}
	ready.Wait()
	t1 := time.Now()
	rss1, pte1, ks1 := statusKB("VmRSS"), statusKB("VmPTE"), meminfoKB("KernelStack")
	t2 := time.Now()
	gate.Done()
	done.Wait()
	t3 := time.Now()
	fn := float64(n)
	result("W2", "parked", n, "rss_bytes_per_goroutine", float64(rss1-rss0)*1024/fn)
	result("W2", "parked", n, "pte_bytes_per_goroutine", float64(pte1-pte0)*1024/fn)
	result("W2", "parked", n, "kstack_bytes_per_goroutine", float64(ks1-ks0)*1024/fn)
	result("W2", "parked", n, "spawn_park_s", t1.Sub(t0).Seconds())
	result("W2", "parked", n, "release_join_s", t3.Sub(t2).Seconds())
}

// W3: two goroutines yielding N times each on one P.
func w3(n int64) {
	runtime.GOMAXPROCS(1)
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(2)
	for j := 0; j < 2; j++ {
		go func() {
			for i := int64(0); i < n; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	result("W3", "gomaxprocs1", n, "ns_per_yield", float64(el.Nanoseconds())/float64(2*n))
}

// W4: a mutex contended by G goroutines sharing OPS increments.
func w4(g, ops int64) {
	var mu sync.Mutex
	var counter int64
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(int(g))
	for i := int64(0); i < g; i++ {
		k := share(ops, g, i)
		go func() {
			for j := int64(0); j < k; j++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	if counter != ops {
		fmt.Fprintf(os.Stderr, "W4: counter %d, expected %d\n", counter, ops)
		os.Exit(1)
	}
	result("W4", fmt.Sprintf("g%d", g), ops, "ns_per_op", float64(el.Nanoseconds())/float64(ops))
}

// W5: uncontended Lock+Unlock.
func w5(n int64) {
	var mu sync.Mutex
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		mu.Lock()
		mu.Unlock() //nolint:staticcheck // empty critical section on purpose
	}
	el := time.Since(t0)
	result("W5", "uncontended", n, "ns_per_lock_unlock", float64(el.Nanoseconds())/float64(n))
}

// W6: RWMutex, G goroutines, 1% writes.
func w6(g, ops int64) {
	var rw sync.RWMutex
	var shared int64
	var sink atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(int(g))
	writes := int64(0)
	for i := int64(0); i < g; i++ {
		k := share(ops, g, i)
		writes += (k + 99) / 100
		go func() {
			seen := int64(0)
			for j := int64(0); j < k; j++ {
				if j%100 == 0 {
					rw.Lock()
					shared++
					rw.Unlock()
				} else {
					rw.RLock()
					seen += shared
					rw.RUnlock()
				}
			}
			sink.Add(seen)
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	if shared != writes {
		fmt.Fprintf(os.Stderr, "W6: %d writes seen, expected %d\n", shared, writes)
		os.Exit(1)
	}
	result("W6", fmt.Sprintf("g%d_1pct_writes", g), ops, "ns_per_op", float64(el.Nanoseconds())/float64(ops))
}

// W7: rounds of 64 spawned goroutines + WaitGroup wait.
func w7(rounds int64) {
	var wg sync.WaitGroup
	t0 := time.Now()
	for r := int64(0); r < rounds; r++ {
		wg.Add(64)
		for i := 0; i < 64; i++ {
			go func() { wg.Done() }()
		}
		wg.Wait()
	}
	el := time.Since(t0)
	result("W7", "fanout64", rounds, "us_per_round", float64(el.Nanoseconds())/1e3/float64(rounds))
}

// W8: sync.Once fast path.
func w8(n int64) {
	var once sync.Once
	calls := 0
	f := func() { calls++ }
	once.Do(f)
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		once.Do(f)
	}
	el := time.Since(t0)
	if calls != 1 {
		fmt.Fprintf(os.Stderr, "W8: f ran %d times\n", calls)
		os.Exit(1)
	}
	result("W8", "fast_path", n, "ns_per_call", float64(el.Nanoseconds())/float64(n))
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gobench W1 N [ROUNDS] | W2 N | W3 N | W4 G OPS | W5 N | W6 G OPS | W7 ROUNDS | W8 N")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "W1":
		n := arg(2, 1000000)
		rounds := int64(1)
		if n < 1000000 {
			rounds = 1000000 / n
		}
		w1(n, arg(3, rounds))
	case "W2":
		w2(arg(2, 1000000))
	case "W3":
		w3(arg(2, 2000000))
	case "W4":
		w4(arg(2, 64), arg(3, 10000000))
	case "W5":
		w5(arg(2, 50000000))
	case "W6":
		w6(arg(2, 64), arg(3, 10000000))
	case "W7":
		w7(arg(2, 20000))
	case "W8":
		w8(arg(2, 200000000))
	default:
		fmt.Fprintln(os.Stderr, "unknown workload", os.Args[1])
		os.Exit(2)
	}
}
