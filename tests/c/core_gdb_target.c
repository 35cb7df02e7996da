/* Goroutines stop in goroutine_leaf(); core_gdb.sh checks gdb's `bt` there.
 * The first goroutine is started by a switch from its worker's scheduler;
 * the second is spawned by the first just before it returns, so it starts
 * in place on the stack of the one that exited (the runtime's restart path,
 * entered by a jump, not by a switch): both must unwind cleanly. */
#include <goro.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

static atomic_int done;

__attribute__((noinline)) void goroutine_leaf(int depth) {
    __asm__ volatile("" ::: "memory");
    (void)depth;
}

__attribute__((noinline)) static void goroutine_middle(int depth) {
    goroutine_leaf(depth + 1);
    __asm__ volatile("" ::: "memory");
}

static void goroutine_entry(void *arg) {
    intptr_t generation = (intptr_t)arg;
    go_yield();
    goroutine_middle(1);
    if (generation == 0)
        go_spawn(goroutine_entry, (void *)1);
    else
        atomic_store(&done, 1);
}

int main(void) {
    go_maxprocs(1); /* the second goroutine runs where the first exited */
    go_spawn(goroutine_entry, NULL);
    while (!atomic_load(&done)) usleep(1000);
    return 0;
}
