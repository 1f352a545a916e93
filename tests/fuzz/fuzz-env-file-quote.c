/* SPDX-License-Identifier: Apache-2.0 */
/*
 * env_file_quote() and env_file_quote_lines() (PEM content of several
 * lines, kong_secret.*): whatever they accept, systemd's EnvironmentFile=
 * must load and pass to kong exactly. The model follows systemd's env-file.c
 * (parse_env_file_internal() from the '=' on, load_env_file_push()'s UTF-8
 * check, and strv_env_clean() in exec, which drops values with control
 * characters other than '\n').
 */

#include "fuzz.h"
#include "render.h"

/* systemd's utf8_is_valid(): no overlong forms, no surrogates, nothing
 * past U+10FFFF, no U+FDD0..U+FDEF, no U+xFFFE/U+xFFFF (unichar_is_valid). */
static bool systemd_utf8_is_valid(const unsigned char *s)
{
        while (*s) {
                int len;
                uint32_t ch;

                if (*s < 0x80) {
                        s++;
                        continue;
                }
                if ((*s & 0xe0) == 0xc0)
                        len = 2, ch = *s & 0x1f;
                else if ((*s & 0xf0) == 0xe0)
                        len = 3, ch = *s & 0x0f;
                else if ((*s & 0xf8) == 0xf0)
                        len = 4, ch = *s & 0x07;
                else
                        return false; /* 5- and 6-byte forms are past U+10FFFF */
                for (int i = 1; i < len; i++) {
                        if ((s[i] & 0xc0) != 0x80)
                                return false;
                        ch = (ch << 6) | (s[i] & 0x3f);
                }
                int shortest = ch < 0x80 ? 1 : ch < 0x800 ? 2 : ch < 0x10000 ? 3 : 4;
                if (shortest != len)
                        return false;
                if (ch >= 0x110000 || (ch & 0xfffff800) == 0xd800 || (ch >= 0xfdd0 && ch <= 0xfdef) ||
                    (ch & 0xfffe) == 0xfffe)
                        return false;
                s += len;
        }
        return true;
}

static bool systemd_env_value_is_valid(const char *s)
{
        if (!systemd_utf8_is_valid((const unsigned char *)s))
                return false;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if ((*p < 0x20 && *p != '\n') || *p == 0x7f)
                        return false;
        return true;
}

/* The value systemd reads from "KEY=<quoted>\n"; aborts when the line
 * would not end where it does (an unterminated quote eats the next line). */
static char *systemd_read_value(const char *quoted)
{
        enum { PRE_VALUE, VALUE, VALUE_ESCAPE, SQUOTE, DQUOTE, DQUOTE_ESCAPE, DONE } state = PRE_VALUE;
        size_t n = strlen(quoted), o = 0, last_ws = SIZE_MAX;
        char *out = malloc(2 * n + 2);

        if (!out)
                abort();
        for (size_t i = 0; i <= n && state != DONE; i++) {
                char c = i < n ? quoted[i] : '\n'; /* the line ending render_env_file() adds */
                switch (state) {
                case PRE_VALUE:
                        if (c == '\n' || c == '\r')
                                state = DONE;
                        else if (c == '\'')
                                state = SQUOTE;
                        else if (c == '"')
                                state = DQUOTE;
                        else if (c == '\\')
                                state = VALUE_ESCAPE;
                        else if (!strchr(" \t", c)) {
                                state = VALUE;
                                out[o++] = c;
                        }
                        break;
                case VALUE:
                        if (c == '\n' || c == '\r') {
                                if (last_ws != SIZE_MAX)
                                        o = last_ws;
                                state = DONE;
                        } else if (c == '\\') {
                                state = VALUE_ESCAPE;
                                last_ws = SIZE_MAX;
                        } else {
                                if (!strchr(" \t", c))
                                        last_ws = SIZE_MAX;
                                else if (last_ws == SIZE_MAX)
                                        last_ws = o;
                                out[o++] = c;
                        }
                        break;
                case VALUE_ESCAPE:
                        state = VALUE;
                        if (c != '\n' && c != '\r')
                                out[o++] = c;
                        break;
                case SQUOTE:
                        if (c == '\'')
                                state = VALUE;
                        else
                                out[o++] = c;
                        break;
                case DQUOTE:
                        if (c == '"')
                                state = VALUE;
                        else if (c == '\\')
                                state = DQUOTE_ESCAPE;
                        else
                                out[o++] = c;
                        break;
                case DQUOTE_ESCAPE:
                        state = DQUOTE;
                        if (strchr("\"\\`$", c))
                                out[o++] = c;
                        else if (c != '\n') {
                                out[o++] = '\\';
                                out[o++] = c;
                        }
                        break;
                case DONE: break;
                }
        }
        FUZZ_ASSERT(state == DONE);
        out[o] = '\0';
        return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > FUZZ_MAX_INPUT)
                return 0;
        char *value = fuzz_strndup(data, size);
        int (*const quote[])(const char *, Buf *) = { env_file_quote, env_file_quote_lines };

        for (size_t q = 0; q < 2; q++) {
                Buf out = { 0 };
                buf_puts(&out, "");
                if (quote[q](value, &out) >= 0) {
                        if (!systemd_env_value_is_valid(value) || (q == 0 && strchr(value, '\n'))) {
                                fprintf(stderr,
                                        "%s accepted a value systemd refuses (not UTF-8 by systemd's "
                                        "rules, or a control character)\n",
                                        q ? "env_file_quote_lines()" : "env_file_quote()");
                                abort();
                        }
                        char *back = systemd_read_value(out.data);
                        if (strcmp(back, value) != 0) {
                                fprintf(stderr, "value:  '%s'\nquoted: '%s'\nread:   '%s'\n", value,
                                        out.data, back);
                                abort();
                        }
                        free(back);
                }
                buf_done(&out);
        }
        free(value);
        return 0;
}
