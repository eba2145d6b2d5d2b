/* fuzz_common.h - what the libFuzzer targets in tests/fuzz share. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>

/** Check an invariant; a broken one aborts, which libFuzzer reports as a crash (with
 *  the input that broke it). */
#define REQUIRE(cond)                                                              \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "invariant broken at %s:%d: %s\n", __FILE__, __LINE__, \
                    #cond);                                                        \
            abort();                                                               \
        }                                                                          \
    } while (0)

#endif /* FUZZ_COMMON_H */
