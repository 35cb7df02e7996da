/*
 * The first program of the Go tour's concurrency chapter, in C:
 *
 *     func say(s string) {
 *         for i := 0; i < 5; i++ {
 *             time.Sleep(100 * time.Millisecond)
 *             fmt.Println(s)
 *         }
 *     }
 *     func main() {
 *         go say("world")
 *         say("hello")
 *     }
 *
 * main() is a plain thread: its go_sleep sleeps the thread, while "world"
 * runs as a goroutine whose go_sleep parks it (its worker stays free).
 */
#include <goro.h>
#include <stdio.h>

static void say(void *arg) {
    const char *s = arg;
    for (int i = 0; i < 5; i++) {
        go_sleep(100 * 1000 * 1000); /* 100 ms */
        printf("%s\n", s);
        fflush(stdout);
    }
}

int main(void) {
    go_spawn(say, "world");
    say("hello");
    /* As in Go, main returning ends the program: give "world" its last line. */
    go_sleep(50 * 1000 * 1000);
    return 0;
}
