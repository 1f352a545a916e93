/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Shared by the libFuzzer targets. libFuzzer's buffer is only valid for
 * the call and is not NUL-terminated; the agent's parsers get either an
 * exact-size heap copy (so ASan catches any read past 'len') or a
 * NUL-terminated one for the APIs that take a C string.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Inputs beyond this are cut: every parser here has a size cap in front of
 * it in the agent (HTTP max_body, user-data 16 KiB), and long inputs only
 * slow the search down. */
#define FUZZ_MAX_INPUT (64 * 1024)

/* malloc(0) may return NULL; keep at least one byte so the pointer is
 * valid, while ASan still flags reads at data[size]. */
static inline char *fuzz_copy(const uint8_t *data, size_t size)
{
        char *p = malloc(size > 0 ? size : 1);
        if (!p)
                abort();
        if (size > 0)
                memcpy(p, data, size);
        return p;
}

/* A C string: the input up to its first NUL. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
        char *p = strndup((const char *)data, size);
        if (!p)
                abort();
        return p;
}

/* A property check failed: print what is needed to reproduce and crash so
 * libFuzzer saves the input. */
#define FUZZ_ASSERT(expr)                                                                             \
        do {                                                                                          \
                if (!(expr)) {                                                                        \
                        fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                                      \
                }                                                                                     \
        } while (0)
