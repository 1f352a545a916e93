/* SPDX-License-Identifier: Apache-2.0 */
#include "userdata.h"

#include <ctype.h>
#include <strings.h>

/* A view of one line of the input, without its line ending. */
typedef struct Line {
        const char *start;
        size_t len;
        const char *next; /* first byte after the line ending */
} Line;

static bool next_line(const char *p, const char *end, Line *ret)
{
        if (p >= end)
                return false;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        ret->start = p;
        ret->len = (size_t)(stop - p);
        if (ret->len > 0 && p[ret->len - 1] == '\r')
                ret->len--;
        ret->next = nl ? nl + 1 : end;
        return true;
}

static bool line_starts_no_case(const Line *l, const char *prefix)
{
        size_t n = strlen(prefix);
        return l->len >= n && strncasecmp(l->start, prefix, n) == 0;
}

static bool line_is_blank(const Line *l)
{
        for (size_t i = 0; i < l->len; i++)
                if (!isspace((unsigned char)l->start[i]))
                        return false;
        return true;
}

/* Headers of a MIME entity up to the blank line; folded lines joined.
 * Returns the Content-Type and Content-Transfer-Encoding values. */
static int parse_headers(const char **p, const char *end, char **ret_type, char **ret_encoding)
{
        _cleanup_buf_ Buf current = { 0 };
        char *type = NULL, *encoding = NULL;
        Line l;
        bool done = false;

        while (!done) {
                bool have = next_line(*p, end, &l);
                bool folded = have && l.len > 0 && (l.start[0] == ' ' || l.start[0] == '\t');
                if (folded) {
                        buf_append(&current, l.start, l.len);
                        *p = l.next;
                        continue;
                }
                /* Flush the header collected so far. */
                if (current.len > 0) {
                        if (startswith_no_case(current.data, "content-type:"))
                                free_and_strdup(&type, strip(current.data + strlen("content-type:")));
                        else if (startswith_no_case(current.data, "content-transfer-encoding:"))
                                free_and_strdup(&encoding,
                                                strip(current.data + strlen("content-transfer-encoding:")));
                        buf_done(&current);
                }
                if (!have || line_is_blank(&l)) {
                        if (have)
                                *p = l.next;
                        done = true;
                        continue;
                }
                if (!memchr(l.start, ':', l.len)) {
                        free(type);
                        free(encoding);
                        return -EBADMSG;
                }
                buf_append(&current, l.start, l.len);
                *p = l.next;
        }
        *ret_type = type;
        *ret_encoding = encoding;
        return 0;
}

/* "multipart/mixed; boundary=\"abc\"" → "abc". */
static char *content_type_param(const char *type, const char *param)
{
        const char *p = type;
        size_t n = strlen(param);

        while ((p = strchr(p, ';'))) {
                p++;
                while (isspace((unsigned char)*p))
                        p++;
                if (strncasecmp(p, param, n) == 0 && p[n] == '=') {
                        p += n + 1;
                        if (*p == '"') {
                                const char *q = strchr(p + 1, '"');
                                return q ? xstrndup(p + 1, (size_t)(q - p - 1)) : NULL;
                        }
                        return xstrndup(p, strcspn(p, "; \t"));
                }
        }
        return NULL;
}

static bool media_type_is(const char *type, const char *want)
{
        size_t n = strlen(want);
        return type && strncasecmp(type, want, n) == 0 &&
               (type[n] == '\0' || type[n] == ';' || isspace((unsigned char)type[n]));
}

static int decode_body(const char *body, size_t len, const char *encoding, char **ret, Error *err,
                       const char *origin)
{
        Buf out = { 0 };

        if (!encoding || strcasecmp(encoding, "7bit") == 0 || strcasecmp(encoding, "8bit") == 0 ||
            strcasecmp(encoding, "binary") == 0)
                buf_append(&out, body, len);
        else if (strcasecmp(encoding, "base64") == 0) {
                if (base64_decode(body, len, &out) < 0) {
                        buf_done(&out);
                        return error_set(err, -EBADMSG, "%s: the base64 body is malformed", origin);
                }
        } else {
                _cleanup_free_ char *shown = sanitize_for_log(encoding, 40);
                return error_set(err, -EBADMSG,
                                 "%s: Content-Transfer-Encoding '%s' is not supported (use 7bit or base64)",
                                 origin, shown);
        }
        /* Our text is read up to its NUL: a NUL inside would silently
         * drop the lines after it. */
        if (memchr(out.data ? out.data : "", '\0', out.len)) {
                buf_done(&out);
                return error_set(err, -EBADMSG,
                                 "%s: the decoded text holds a NUL byte; refused rather than read up to it",
                                 origin);
        }
        *ret = buf_steal(&out);
        return 0;
}

static int extract_multipart(const char *p, const char *end, const char *boundary, char **ret_text,
                             char **ret_origin, Error *err)
{
        _cleanup_free_ char *delimiter = xasprintf("--%s", boundary);
        size_t dlen = strlen(delimiter);
        _cleanup_free_ char *text = NULL, *origin = NULL;
        const char *part_start = NULL;
        unsigned part = 0;
        Line l;

        for (const char *q = p; next_line(q, end, &l); q = l.next) {
                bool is_delim = l.len >= dlen && memcmp(l.start, delimiter, dlen) == 0;
                if (!is_delim)
                        continue;
                bool closing = l.len >= dlen + 2 && l.start[dlen] == '-' && l.start[dlen + 1] == '-';
                if (part_start) {
                        /* The line ending before the delimiter belongs to it. */
                        const char *part_end = l.start;
                        if (part_end > part_start && part_end[-1] == '\n')
                                part_end--;
                        if (part_end > part_start && part_end[-1] == '\r')
                                part_end--;
                        _cleanup_free_ char *type = NULL, *encoding = NULL;
                        const char *body = part_start;
                        if (parse_headers(&body, part_end, &type, &encoding) < 0)
                                return error_set(err, -EBADMSG,
                                                 "user-data MIME part %u has malformed headers", part);
                        if (body > part_end)
                                body = part_end;
                        if (media_type_is(type, USERDATA_MIME_TYPE)) {
                                if (text)
                                        return error_set(err, -EBADMSG,
                                                         "user-data has more than one " USERDATA_MIME_TYPE
                                                         " part");
                                origin = xasprintf("user-data MIME part %u", part);
                                int r = decode_body(body, (size_t)(part_end - body), encoding, &text, err,
                                                    origin);
                                if (r < 0)
                                        return r;
                        }
                }
                if (closing) {
                        if (!text)
                                return USERDATA_NONE;
                        *ret_text = text;
                        *ret_origin = origin;
                        text = origin = NULL;
                        return USERDATA_FOUND;
                }
                part++;
                part_start = l.next;
        }
        return error_set(err, -EBADMSG, "user-data MIME multipart has no closing boundary '--%s--'",
                         boundary);
}

int userdata_extract(const char *data, size_t len, char **ret_text, char **ret_origin, Error *err)
{
        const char *end = data + len;
        Line first;

        if (len == 0 || !next_line(data, end, &first))
                return USERDATA_NONE;

        if (first.len >= strlen(USERDATA_HEADER) &&
            memcmp(first.start, USERDATA_HEADER, strlen(USERDATA_HEADER)) == 0) {
                /* "#kong-bootstrap" alone on the line (trailing blanks allowed). */
                for (size_t i = strlen(USERDATA_HEADER); i < first.len; i++)
                        if (!isspace((unsigned char)first.start[i]))
                                return USERDATA_NONE;
                /* Ours, so a NUL is an error, not the end of the text. */
                if (memchr(data, '\0', len))
                        return error_set(err, -EBADMSG,
                                         "user-data: the text holds a NUL byte; refused rather than read "
                                         "up to it");
                *ret_text = xstrndup(data, len);
                *ret_origin = xstrdup("user-data");
                return USERDATA_FOUND;
        }

        if (!line_starts_no_case(&first, "content-type:") && !line_starts_no_case(&first, "mime-version:"))
                return USERDATA_NONE; /* cloud-config, scripts, binary (gzip, …): nothing of ours */

        const char *p = data;
        _cleanup_free_ char *type = NULL, *encoding = NULL;
        if (parse_headers(&p, end, &type, &encoding) < 0)
                return error_set(err, -EBADMSG, "user-data looks like MIME but its headers are malformed");
        if (media_type_is(type, USERDATA_MIME_TYPE)) {
                int r = decode_body(p, (size_t)(end - p), encoding, ret_text, err, "user-data");
                if (r < 0)
                        return r;
                *ret_origin = xstrdup("user-data");
                return USERDATA_FOUND;
        }
        if (!type || !startswith_no_case(type, "multipart/"))
                return USERDATA_NONE;
        _cleanup_free_ char *boundary = content_type_param(type, "boundary");
        if (isempty(boundary) || strlen(boundary) > 70)
                return error_set(err, -EBADMSG, "user-data is MIME multipart without a valid boundary");
        return extract_multipart(p, end, boundary, ret_text, ret_origin, err);
}
