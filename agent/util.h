/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Small helpers shared by every module: cleanup attributes, secret wiping,
 * a growable buffer, string vectors, checked number parsing, monotonic time
 * and the one error type every module fills in.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define _cleanup_(f)     __attribute__((cleanup(f)))
#define _printf_(a, b)   __attribute__((format(printf, a, b)))
#define _unused_         __attribute__((unused))
#define _nonnull_result_ __attribute__((returns_nonnull))
#define _cleanup_free_   _cleanup_(freep)
#define _cleanup_secret_ _cleanup_(secret_freep)
#define _cleanup_strv_   _cleanup_(strv_freep)
#define ELEMENTSOF(x)    (sizeof(x) / sizeof((x)[0]))
#define streq(a, b)      (strcmp((a), (b)) == 0)
#define strneq(a, b, n)  (strncmp((a), (b), (n)) == 0)
#define isempty(s)       (!(s) || (s)[0] == '\0')
#define STRV_FOREACH(s, l) \
        for (char **s = (l); s && *s; s++) // NOLINT(bugprone-macro-parentheses): s names the variable

typedef uint64_t usec_t;
#define USEC_PER_SEC  ((usec_t)1000000ULL)
#define USEC_PER_MSEC ((usec_t)1000ULL)
#define USEC_INFINITY ((usec_t)UINT64_MAX)

static inline void freep(void *p)
{
        free(*(void **)p);
}

/* Frees a NUL-terminated string after overwriting it. Accepts NULL. */
char *secret_free(char *s);
static inline void secret_freep(char **s)
{
        secret_free(*s);
}

/* Copies s, or returns NULL for NULL. Aborts on OOM: this agent cannot do
 * anything useful without memory, and every caller would only exit. */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
_nonnull_result_ void *xmalloc(size_t n);
_nonnull_result_ void *xcalloc(size_t n, size_t size);
_nonnull_result_ void *xrealloc(void *p, size_t n);
_printf_(1, 2) _nonnull_result_ char *xasprintf(const char *fmt, ...);

/* Replaces *dst with a copy of src, freeing the old value. */
void free_and_strdup(char **dst, const char *src);

/* NULL-terminated string vectors. */
char **strv_free(char **l);
static inline void strv_freep(char ***l)
{
        strv_free(*l);
}
size_t strv_length(char *const *l);
void strv_push(char ***l, char *value); /* takes ownership */
_nonnull_result_ char *strv_join(char *const *l, const char *sep);
bool strv_contains(char *const *l, const char *s);

/* A growable byte buffer, always NUL-terminated. When 'secret' is set the
 * memory is wiped on every reallocation and on free. */
typedef struct Buf {
        char *data;
        size_t len;
        size_t cap;
        bool secret;
} Buf;

void buf_append(Buf *b, const void *data, size_t n);
void buf_puts(Buf *b, const char *s);
_printf_(2, 3) void buf_printf(Buf *b, const char *fmt, ...);
void buf_done(Buf *b);
_nonnull_result_ char *buf_steal(Buf *b);
static inline void buf_donep(Buf *b)
{
        buf_done(b);
}
#define _cleanup_buf_ _cleanup_(buf_donep)

/* Every module reports failures by filling an Error and returning a
 * negative errno-style code; the orchestrating layer (boot.c, command-*.c) logs it once,
 * with context, and maps the stage to an exit code. Messages never contain
 * secrets. */
typedef struct Error {
        char msg[1024];
} Error;

int error_setv(Error *e, const char *fmt, va_list ap);
/* Inline so that analysers see it always returns a negative value. */
_printf_(3, 4) static inline int error_set(Error *e, int r, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        (void)error_setv(e, fmt, ap);
        va_end(ap);
        return r < 0 ? r : -EINVAL;
}
/* Prefixes the existing message: "context: old message". */
_printf_(2, 3) void error_prefix(Error *e, const char *fmt, ...);

/* Checked parsing: the whole string must be a number in range. */
int parse_uint64(const char *s, uint64_t *ret);
int parse_port(const char *s, uint16_t *ret);
int parse_seconds(const char *s, usec_t *ret);

usec_t now_usec(void);
void sleep_usec(usec_t usec);

/* Uniformly distributed in [0, n), from the kernel's CSPRNG when it can. */
uint64_t random_below(uint64_t n);

char *strip(char *s);
bool startswith(const char *s, const char *prefix);
/* Lines a peer sends us are printed; this keeps control characters out. */
_nonnull_result_ char *sanitize_for_log(const char *s, size_t max);
/* A copy of s with every occurrence of needle replaced (needle may be
 * empty or NULL: plain copy). */
_nonnull_result_ char *str_replace_all(const char *s, const char *needle, const char *replacement);

/* Standard base64 (RFC 4648), padding optional, whitespace skipped (MIME
 * wraps lines). Appends to 'out'; -EBADMSG on any other character. */
int base64_decode(const char *in, size_t len, Buf *out);

/* ASCII case-insensitive prefix test. */
bool startswith_no_case(const char *s, const char *prefix);
