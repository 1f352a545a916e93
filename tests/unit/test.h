/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A minimal test runner: each test is a function; a failed check prints
 * file:line and the expression and marks the test failed. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;

#define CHECK(expr)                                                                              \
        do {                                                                                     \
                if (!(expr)) {                                                                   \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
                        test_failures++;                                                         \
                }                                                                                \
        } while (0)

#define CHECK_STREQ(a, b)                                                                                \
        do {                                                                                             \
                const char *_a = (a), *_b = (b);                                                         \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                                                 \
                        fprintf(stderr, "%s:%d: expected \"%s\", got \"%s\" (%s)\n", __FILE__, __LINE__, \
                                _b ? _b : "(null)", _a ? _a : "(null)", #a);                             \
                        test_failures++;                                                                 \
                }                                                                                        \
        } while (0)

#define CHECK_CONTAINS(hay, needle)                                                                    \
        do {                                                                                           \
                const char *_h = (hay), *_n = (needle);                                                \
                if (!_h || !strstr(_h, _n)) {                                                          \
                        fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, \
                                _h ? _h : "(null)", _n);                                               \
                        test_failures++;                                                               \
                }                                                                                      \
        } while (0)

#define RUN(fn)                                                                     \
        do {                                                                        \
                int _before = test_failures;                                        \
                fn();                                                               \
                printf("%s %s\n", test_failures == _before ? "ok  " : "FAIL", #fn); \
        } while (0)

#define TEST_EXIT() (test_failures ? (fprintf(stderr, "%d check(s) failed\n", test_failures), 1) : 0)
