/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kong_conf_escape(): whatever it accepts, Kong must read back exactly.
 * The model of how Kong reads the line "name = <escaped>", written from
 * the sources, independent of the agent's own reader:
 *   Penlight pl.config.lines() and read() (Kong passes smart = false,
 *   list_delim = "_blank_"):
 *     - the line ends at '\n'; a line ending in '\' (and blanks) goes on
 *       on the next;
 *     - key and value split at the first '=' with the blanks around it;
 *     - a value containing list_delim becomes a list (Kong then fails);
 *     - convert_numbers: a value starting with a digit, '+' or '-' that
 *       LuaJIT's tonumber() takes becomes a number; failing that, one
 *       ending in " kB" loses every " kB" and is tried again (and keeps
 *       the cut text if it is still not a number);
 *     - strings are trimmed;
 *   kong/conf_loader load_config() strip_comments() (numbers through
 *   tostring(), LuaJIT "%.14g"):
 *     - ngx.re.sub(value, [[\s*(?<!\\)#.*$]], ""): an unescaped '#' and the
 *       blanks before it start a comment;
 *     - gsub(value, "\\#", "#"): every '\#' left is a '#'.
 */

#include <ctype.h>
#include <math.h>
#include <strings.h>

#include "fuzz.h"
#include "render.h"

/* Lua's %s and LuaJIT's lj_char_isspace(): ASCII blanks, C locale. */
static bool lua_isspace(char c)
{
        return c == ' ' || (c >= '\t' && c <= '\r');
}

typedef enum { NOT_NUMBER, NUMBER, UNKNOWN } Scan;

/* LuaJIT's tonumber() (lj_strscan_scan() with STRSCAN_OPT_TONUM). NaN and
 * long binary literals are not modelled. */
static Scan luajit_tonumber(const char *s, double *ret)
{
        const char *p = s;
        bool neg = false;

        if (!isdigit((unsigned char)*p)) {
                while (lua_isspace(*p))
                        p++;
                if (*p == '+' || *p == '-')
                        neg = *p++ == '-';
                if ((unsigned char)*p >= 'A') {
                        if (strncasecmp(p, "inf", 3) == 0) {
                                *ret = neg ? -INFINITY : INFINITY;
                                p += 3;
                                if (strncasecmp(p, "inity", 5) == 0)
                                        p += 5;
                        } else if (strncasecmp(p, "nan", 3) == 0)
                                return UNKNOWN;
                        else
                                return NOT_NUMBER;
                        while (lua_isspace(*p))
                                p++;
                        return *p ? NOT_NUMBER : NUMBER;
                }
        }
        if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
                double v = 0;
                const char *q = p + 2;
                for (; *q == '0' || *q == '1'; q++)
                        v = v * 2 + (*q - '0');
                const char *digits_end = q;
                while (lua_isspace(*q))
                        q++;
                if (*q || digits_end == p + 2)
                        return *q && (isdigit((unsigned char)*q) || *q == '.') ? UNKNOWN : NOT_NUMBER;
                if (digits_end - (p + 2) > 53)
                        return UNKNOWN;
                *ret = neg ? -v : v;
                return NUMBER;
        }
        if (!isdigit((unsigned char)*p) && *p != '.')
                return NOT_NUMBER;
        char *end;
        double d = strtod(p, &end);
        if (end == p)
                return NOT_NUMBER;
        while (lua_isspace(*end))
                end++;
        if (*end)
                return NOT_NUMBER;
        *ret = neg ? -d : d;
        return NUMBER;
}

/* LuaJIT's tostring() of a number. */
static Scan luajit_tostring(double d, char *buf, size_t size)
{
        if (isnan(d))
                return UNKNOWN;
        if (isinf(d))
                snprintf(buf, size, "%s", d < 0 ? "-inf" : "inf");
        else
                snprintf(buf, size, "%.14g", d);
        return NUMBER;
}

static char *remove_all(const char *s, const char *needle)
{
        size_t n = strlen(needle);
        char *out = strdup(s), *o = out;
        if (!out)
                abort();
        for (const char *p = s; *p;) {
                if (strncmp(p, needle, n) == 0)
                        p += n;
                else
                        *o++ = *p++;
        }
        *o = '\0';
        return out;
}

/* What Kong's configuration holds for "name = <line_value>"; NULL when
 * the model cannot tell. Aborts when the line would not stand alone. */
static char *kong_read_value(const char *line_value)
{
        FUZZ_ASSERT(!strchr(line_value, '\n')); /* would end the line */
        size_t n = strlen(line_value);
        while (n > 0 && lua_isspace(line_value[n - 1]))
                n--;
        FUZZ_ASSERT(!(n > 0 && line_value[n - 1] == '\\')); /* would join the next line */

        const char *start = line_value;
        while (lua_isspace(*start))
                start++;
        FUZZ_ASSERT(!strstr(start, "_blank_")); /* a list: Kong's strip_comments() fails */

        char *value = strdup(start);
        if (!value)
                abort();
        if (isdigit((unsigned char)value[0]) || value[0] == '+' || value[0] == '-') {
                double d;
                Scan s = luajit_tonumber(value, &d);
                size_t len = strlen(value);
                if (s == NOT_NUMBER && len >= 3 && strcmp(value + len - 3, " kB") == 0) {
                        char *cut = remove_all(value, " kB");
                        free(value);
                        value = cut;
                        s = luajit_tonumber(value, &d);
                }
                if (s == UNKNOWN) {
                        free(value);
                        return NULL;
                }
                if (s == NUMBER) {
                        char text[64];
                        free(value);
                        if (luajit_tostring(d, text, sizeof(text)) == UNKNOWN)
                                return NULL;
                        value = strdup(text);
                        if (!value)
                                abort();
                }
        }

        /* trim, then strip_comments() */
        char *b = value, *e = value + strlen(value);
        while (b < e && lua_isspace(*b))
                b++;
        while (e > b && lua_isspace(e[-1]))
                e--;
        for (char *p = b; p < e; p++)
                if (*p == '#' && (p == b || p[-1] != '\\')) {
                        e = p;
                        while (e > b && lua_isspace(e[-1]))
                                e--;
                        break;
                }
        char *out = malloc((size_t)(e - b) + 1), *o = out;
        if (!out)
                abort();
        for (const char *p = b; p < e; p++) {
                if (p[0] == '\\' && p + 1 < e && p[1] == '#') {
                        *o++ = '#';
                        p++;
                } else
                        *o++ = *p;
        }
        *o = '\0';
        free(value);
        return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > FUZZ_MAX_INPUT)
                return 0;
        char *value = fuzz_strndup(data, size);
        Buf out = { 0 };

        buf_puts(&out, "");
        if (kong_conf_escape(value, &out) >= 0) {
                char *back = kong_read_value(out.data);
                if (back && strcmp(back, value) != 0) {
                        fprintf(stderr, "value:   '%s'\nescaped: '%s'\nread:    '%s'\n", value, out.data,
                                back);
                        abort();
                }
                free(back);
        } else
                FUZZ_ASSERT(out.len == 0); /* nothing appended on failure */
        buf_done(&out);
        free(value);
        return 0;
}
