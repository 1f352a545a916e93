/* SPDX-License-Identifier: Apache-2.0 */
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

static _Noreturn void oom(void)
{
        (void)fputs("kong-bootstrap: out of memory\n", stderr);
        abort();
}

char *secret_free(char *s)
{
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
        return NULL;
}

void *xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (!p)
                oom();
        return p;
}

void *xcalloc(size_t n, size_t size)
{
        void *p = calloc(n ? n : 1, size ? size : 1);
        if (!p)
                oom();
        return p;
}

void *xrealloc(void *p, size_t n)
{
        void *q = realloc(p, n ? n : 1);
        if (!q)
                oom();
        return q;
}

char *xstrdup(const char *s)
{
        if (!s)
                return NULL;
        char *p = strdup(s);
        if (!p)
                oom();
        return p;
}

char *xstrndup(const char *s, size_t n)
{
        if (!s)
                return NULL;
        char *p = strndup(s, n);
        if (!p)
                oom();
        return p;
}

char *xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *p;

        va_start(ap, fmt);
        int r = vasprintf(&p, fmt, ap);
        va_end(ap);
        if (r < 0)
                oom();
        return p;
}

void free_and_strdup(char **dst, const char *src)
{
        char *n = xstrdup(src);
        free(*dst);
        *dst = n;
}

char **strv_free(char **l)
{
        if (l) {
                for (char **i = l; *i; i++)
                        free(*i);
                free(l);
        }
        return NULL;
}

size_t strv_length(char *const *l)
{
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

void strv_push(char ***l, char *value)
{
        size_t n = strv_length(*l);
        *l = xrealloc(*l, (n + 2) * sizeof(char *));
        (*l)[n] = value;
        (*l)[n + 1] = NULL;
}

char *strv_join(char *const *l, const char *sep)
{
        _cleanup_buf_ Buf b = { 0 };
        buf_puts(&b, "");
        for (size_t i = 0; l && l[i]; i++) {
                if (i > 0)
                        buf_puts(&b, sep);
                buf_puts(&b, l[i]);
        }
        return buf_steal(&b);
}

bool strv_contains(char *const *l, const char *s)
{
        for (size_t i = 0; l && l[i]; i++)
                if (streq(l[i], s))
                        return true;
        return false;
}

static void buf_reserve(Buf *b, size_t extra)
{
        if (b->len + extra + 1 <= b->cap)
                return;
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + extra + 1)
                cap *= 2;
        if (b->secret) {
                /* realloc could leave a copy of the secret behind. */
                char *n = xmalloc(cap);
                if (b->data) {
                        memcpy(n, b->data, b->len + 1);
                        explicit_bzero(b->data, b->cap);
                        free(b->data);
                }
                b->data = n;
        } else
                b->data = xrealloc(b->data, cap);
        b->cap = cap;
}

void buf_append(Buf *b, const void *data, size_t n)
{
        buf_reserve(b, n);
        if (n)
                memcpy(b->data + b->len, data, n);
        b->len += n;
        b->data[b->len] = '\0';
}

void buf_puts(Buf *b, const char *s)
{
        buf_append(b, s, strlen(s));
}

void buf_printf(Buf *b, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                oom();
        buf_reserve(b, (size_t)n);
        va_start(ap, fmt);
        (void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
}

void buf_done(Buf *b)
{
        if (b->data && b->secret)
                explicit_bzero(b->data, b->cap);
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}

char *buf_steal(Buf *b)
{
        if (!b->data)
                buf_reserve(b, 0), b->data[0] = '\0';
        char *p = b->data;
        b->data = NULL;
        b->len = b->cap = 0;
        return p;
}

int error_setv(Error *e, const char *fmt, va_list ap)
{
        if (e)
                (void)vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        return -EINVAL;
}

void error_prefix(Error *e, const char *fmt, ...)
{
        va_list ap;

        if (!e)
                return;
        va_start(ap, fmt);
        _cleanup_free_ char *prefix = NULL;
        if (vasprintf(&prefix, fmt, ap) < 0)
                oom();
        va_end(ap);
        _cleanup_free_ char *joined = xasprintf("%s: %s", prefix, e->msg);
        size_t n = strlen(joined);
        if (n >= sizeof(e->msg))
                n = sizeof(e->msg) - 1;
        memcpy(e->msg, joined, n);
        e->msg[n] = '\0';
}

int parse_uint64(const char *s, uint64_t *ret)
{
        char *end;

        if (isempty(s) || !isdigit((unsigned char)s[0]))
                return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_port(const char *s, uint16_t *ret)
{
        uint64_t v;
        int r = parse_uint64(s, &v);
        if (r < 0)
                return r;
        if (v == 0 || v > 65535)
                return -ERANGE;
        *ret = (uint16_t)v;
        return 0;
}

int parse_seconds(const char *s, usec_t *ret)
{
        uint64_t v;
        int r = parse_uint64(s, &v);
        if (r < 0)
                return r;
        if (v > UINT64_MAX / USEC_PER_SEC)
                return -ERANGE;
        *ret = v * USEC_PER_SEC;
        return 0;
}

usec_t now_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
}

void sleep_usec(usec_t usec)
{
        struct timespec ts = { .tv_sec = (time_t)(usec / USEC_PER_SEC),
                               .tv_nsec = (long)(usec % USEC_PER_SEC * 1000) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

uint64_t random_below(uint64_t n)
{
        uint64_t v = 0;

        if (n <= 1)
                return 0;
        if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
                v = (uint64_t)now_usec() * 6364136223846793005ULL + 1442695040888963407ULL;
        return v % n;
}

char *strip(char *s)
{
        while (isspace((unsigned char)*s))
                s++;
        size_t n = strlen(s);
        while (n > 0 && isspace((unsigned char)s[n - 1]))
                s[--n] = '\0';
        return s;
}

bool startswith(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

char *sanitize_for_log(const char *s, size_t max)
{
        _cleanup_buf_ Buf b = { 0 };
        size_t n = 0;

        buf_puts(&b, "");
        for (; s && *s && n < max; s++, n++) {
                unsigned char c = (unsigned char)*s;
                if (c == '\n' || c == '\r' || c == '\t')
                        buf_puts(&b, " ");
                else if (c < 0x20 || c == 0x7f)
                        buf_printf(&b, "\\x%02x", c);
                else
                        buf_append(&b, s, 1);
        }
        if (s && *s)
                buf_puts(&b, "…");
        return buf_steal(&b);
}

char *str_replace_all(const char *s, const char *needle, const char *replacement)
{
        /* Wiped as it grows: callers cut secrets out of text with this. */
        _cleanup_buf_ Buf b = { .secret = true };
        const char *hit;

        buf_puts(&b, "");
        if (isempty(needle))
                return buf_puts(&b, s), buf_steal(&b);
        while ((hit = strstr(s, needle))) {
                buf_append(&b, s, (size_t)(hit - s));
                buf_puts(&b, replacement);
                s = hit + strlen(needle);
        }
        buf_puts(&b, s);
        return buf_steal(&b);
}

int base64_decode(const char *in, size_t len, Buf *out)
{
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        uint32_t acc = 0;
        int bits = 0;
        bool padding = false;

        buf_append(out, "", 0);
        for (size_t i = 0; i < len; i++) {
                char ch = in[i];
                if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
                        continue;
                if (ch == '=') {
                        padding = true;
                        continue;
                }
                const char *pos = ch ? strchr(alphabet, ch) : NULL;
                if (!pos || padding)
                        return -EBADMSG;
                acc = (acc << 6) | (uint32_t)(pos - alphabet);
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        char byte = (char)((acc >> bits) & 0xff);
                        buf_append(out, &byte, 1);
                }
        }
        explicit_bzero(&acc, sizeof(acc));
        return 0;
}

bool startswith_no_case(const char *s, const char *prefix)
{
        return strncasecmp(s, prefix, strlen(prefix)) == 0;
}
