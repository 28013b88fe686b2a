#pragma once

// What every harness uses to state an invariant. A broken invariant aborts, so libFuzzer
// records the input as a crash (same as a sanitizer report) and scripts/fuzz.sh fails.

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                     \
        }                                                                                     \
    } while (0)
