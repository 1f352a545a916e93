/* SPDX-License-Identifier: Apache-2.0 */
#include "kongcli.h"

#include <ctype.h>
#include <stdio.h>

#include "kong.h"

int kongcli_run(const char *kong_bin, const char *const *args, const DbParams *db, usec_t timeout,
                int *ret_status, char **ret_output, Error *err)
{
        usec_t now = now_usec();
        KongWatch watch = { .started = now, .deadline = now + timeout };

        return kong_run_quiet(kong_bin, args, db, &watch, ret_status, ret_output, err);
}

char *kong_version_parse(const char *output)
{
        _cleanup_free_ char *copy = xstrdup(output ?: "");
        char *save = NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                line = strip(line);
                if (startswith(line, "Kong:"))
                        line += strlen("Kong:");
                else if (startswith(line, "Kong "))
                        line += strlen("Kong ");
                line = strip(line);
                if (!isdigit((unsigned char)line[0]))
                        continue;
                size_t n = strspn(line, "0123456789.-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+");
                if (n == 0 || n > 64 || line[n] != '\0') /* the version alone on its line */
                        continue;
                return xstrndup(line, n);
        }
        return NULL;
}

int kong_version_compare(const char *a, const char *b)
{
        const char *p = a ?: "", *q = b ?: "";
        for (;;) {
                bool pa = isdigit((unsigned char)*p), qa = isdigit((unsigned char)*q);
                if (!pa && !qa)
                        return 0;
                unsigned long long x = 0, y = 0;
                while (isdigit((unsigned char)*p))
                        x = x * 10 + (unsigned long long)(*p++ - '0');
                while (isdigit((unsigned char)*q))
                        y = y * 10 + (unsigned long long)(*q++ - '0');
                if (x != y)
                        return x < y ? -1 : 1;
                p += *p == '.' && isdigit((unsigned char)p[1]);
                q += *q == '.' && isdigit((unsigned char)q[1]);
                if (!isdigit((unsigned char)*p))
                        p = "";
                if (!isdigit((unsigned char)*q))
                        q = "";
        }
}

int kongcli_version(const char *kong_bin, usec_t timeout, char **ret_version, Error *err)
{
        const char *args[] = { "version", NULL };
        _cleanup_free_ char *out = NULL;
        int status = -1;
        int r = kongcli_run(kong_bin, args, NULL, timeout, &status, &out, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *shown = sanitize_for_log(strip(out), 200);
        if (status != 0)
                return error_set(err, -EIO, "'%s version' exited %d: %s", kong_bin, status, shown);
        char *v = kong_version_parse(out);
        if (!v)
                return error_set(err, -EBADMSG, "'%s version' printed no version: '%s'", kong_bin, shown);
        *ret_version = v;
        return 0;
}

char *kong_list_pending(const char *output)
{
        _cleanup_free_ char *copy = xstrdup(output ?: "");
        _cleanup_buf_ Buf b = { 0 };
        bool in = false;
        char *save = NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                line = strip(line);
                if (startswith(line, "Pending migrations:")) {
                        in = true;
                        continue;
                }
                if (!in)
                        continue;
                /* "core: 003_x, 004_y" lines until the next heading */
                if (!strchr(line, ':') || strstr(line, "migrations") || startswith(line, "Run "))
                        break;
                if (b.len > 0)
                        buf_puts(&b, "; ");
                buf_puts(&b, line);
        }
        if (b.len == 0)
                return NULL;
        return xstrndup(b.data, b.len);
}
