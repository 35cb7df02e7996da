// A C++17 program using goro.hpp as an installed library would.
#include <goro.hpp>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>

int main() {
    go::mutex mu;
    std::map<std::string, int> counts;
    go::waitgroup wg;
    for (int i = 0; i < 100; i++) {
        wg.go([&, key = std::make_unique<std::string>(i % 2 ? "odd" : "even")] {
            go::sleep(std::chrono::milliseconds(1));
            std::lock_guard lk(mu);
            counts[*key]++;
        });
    }
    wg.wait();
    std::printf("goro C++ app: even=%d odd=%d\n", counts["even"], counts["odd"]);
    return counts["even"] == 50 && counts["odd"] == 50 ? 0 : 1;
}
