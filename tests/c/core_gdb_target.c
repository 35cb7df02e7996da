/* A goroutine stops in goroutine_leaf(); core_gdb.sh checks gdb's `bt`. */
#include <goro.h>
#include <stdatomic.h>
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
    (void)arg;
    go_yield();
    goroutine_middle(1);
    atomic_store(&done, 1);
}

int main(void) {
    go_spawn(goroutine_entry, NULL);
    while (!atomic_load(&done)) usleep(1000);
    return 0;
}
