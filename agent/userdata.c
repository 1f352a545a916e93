/* SPDX-License-Identifier: Apache-2.0 */
#include "userdata.h"

#include <ctype.h>
#include <strings.h>

#include "gzip.h"

/* The media types cloud-init inflates before it looks at a part
 * (cloudinit/user_data.py DECOMP_TYPES). */
static const char *const gzip_types[] = {
        "application/gzip",       "application/gzip-compressed",   "application/gzipped",
        "application/x-compress", "application/x-compressed",      "application/x-gunzip",
        "application/x-gzip",     "application/x-gzip-compressed",
};

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

/* The body as its Content-Transfer-Encoding says, bytes as they are. */
static int decode_transfer(const char *body, size_t len, const char *encoding, Buf *out, Error *err,
                           const char *origin)
{
        if (!encoding || strcasecmp(encoding, "7bit") == 0 || strcasecmp(encoding, "8bit") == 0 ||
            strcasecmp(encoding, "binary") == 0)
                buf_append(out, body, len);
        else if (strcasecmp(encoding, "base64") == 0) {
                if (base64_decode(body, len, out) < 0)
                        return error_set(err, -EBADMSG, "%s: the base64 body is malformed", origin);
        } else {
                _cleanup_free_ char *shown = sanitize_for_log(encoding, 40);
                return error_set(err, -EBADMSG,
                                 "%s: Content-Transfer-Encoding '%s' is not supported (use 7bit or base64)",
                                 origin, shown);
        }
        return 0;
}

/* Our text is read up to its NUL: a NUL inside would silently drop the
 * lines after it. */
static int steal_text(Buf *out, char **ret, Error *err, const char *origin)
{
        if (memchr(out->data ? out->data : "", '\0', out->len))
                return error_set(err, -EBADMSG,
                                 "%s: the decoded text holds a NUL byte; refused rather than read up to it",
                                 origin);
        buf_append(out, "", 0);
        *ret = buf_steal(out);
        return 0;
}

static int decode_body(const char *body, size_t len, const char *encoding, char **ret, Error *err,
                       const char *origin)
{
        _cleanup_buf_ Buf out = { 0 };
        int r = decode_transfer(body, len, encoding, &out, err, origin);
        return r < 0 ? r : steal_text(&out, ret, err, origin);
}

static bool starts_with_header_line(const char *data, size_t len)
{
        Line first;
        if (!next_line(data, data + len, &first) || first.len < strlen(USERDATA_HEADER) ||
            memcmp(first.start, USERDATA_HEADER, strlen(USERDATA_HEADER)) != 0)
                return false;
        /* "#kong-bootstrap" alone on the line (trailing blanks allowed). */
        for (size_t i = strlen(USERDATA_HEADER); i < first.len; i++)
                if (!isspace((unsigned char)first.start[i]))
                        return false;
        return true;
}

/* A gzip part, as cloud-init inflates it: ours when the inflated text
 * starts with the line "#kong-bootstrap" (cloud-init guesses an inflated
 * part's type from its first line the same way). */
static int decode_gzip_part(const char *body, size_t len, const char *encoding, char **ret, Error *err,
                            const char *origin)
{
        _cleanup_buf_ Buf raw = { 0 }, inflated = { 0 };
        int r = decode_transfer(body, len, encoding, &raw, err, origin);
        if (r < 0)
                return r;
        r = gzip_inflate(raw.data ? raw.data : "", raw.len, USERDATA_INFLATED_MAX, origin, &inflated, err);
        if (r < 0)
                return r;
        if (!starts_with_header_line(inflated.data, inflated.len))
                return USERDATA_NONE;
        r = steal_text(&inflated, ret, err, origin);
        return r < 0 ? r : USERDATA_FOUND;
}

static bool is_gzip_type(const char *type)
{
        for (size_t i = 0; i < ELEMENTSOF(gzip_types); i++)
                if (media_type_is(type, gzip_types[i]))
                        return true;
        return false;
}

static int extract_multipart(const char *p, const char *end, const char *boundary, const char *label,
                             char **ret_text, char **ret_origin, Error *err)
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
                                return error_set(err, -EBADMSG, "%s MIME part %u has malformed headers",
                                                 label, part);
                        if (body > part_end)
                                body = part_end;
                        bool ours = media_type_is(type, USERDATA_MIME_TYPE), gzipped = is_gzip_type(type);
                        if (ours || gzipped) {
                                _cleanup_free_ char *found = NULL;
                                _cleanup_free_ char *where = xasprintf("%s MIME part %u%s", label, part,
                                                                       gzipped ? " (gzip-compressed)" : "");
                                int r = ours ? decode_body(body, (size_t)(part_end - body), encoding, &found,
                                                           err, where)
                                             : decode_gzip_part(body, (size_t)(part_end - body), encoding,
                                                                &found, err, where);
                                if (r < 0)
                                        return r;
                                if (found && text)
                                        return error_set(err, -EBADMSG,
                                                         "%s has more than one kong-bootstrap part "
                                                         "(" USERDATA_MIME_TYPE
                                                         " or gzip starting with " USERDATA_HEADER ")",
                                                         label);
                                if (found) {
                                        text = found;
                                        origin = where;
                                        found = where = NULL;
                                }
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
        return error_set(err, -EBADMSG, "%s MIME multipart has no closing boundary '--%s--'", label,
                         boundary);
}

/* 'label' names the whole in errors and origins: "user-data", or
 * "gzip-compressed user-data". */
static int extract(const char *data, size_t len, const char *label, char **ret_text, char **ret_origin,
                   Error *err)
{
        const char *end = data + len;
        Line first;

        if (len == 0 || !next_line(data, end, &first))
                return USERDATA_NONE;

        if (first.len >= strlen(USERDATA_HEADER) &&
            memcmp(first.start, USERDATA_HEADER, strlen(USERDATA_HEADER)) == 0) {
                if (!starts_with_header_line(data, len))
                        return USERDATA_NONE;
                /* Ours, so a NUL is an error, not the end of the text. */
                if (memchr(data, '\0', len))
                        return error_set(err, -EBADMSG,
                                         "%s: the text holds a NUL byte; refused rather than read up to it",
                                         label);
                *ret_text = xstrndup(data, len);
                *ret_origin = xstrdup(label);
                return USERDATA_FOUND;
        }

        if (!line_starts_no_case(&first, "content-type:") && !line_starts_no_case(&first, "mime-version:"))
                return USERDATA_NONE; /* cloud-config, scripts, binary: nothing of ours */

        const char *p = data;
        _cleanup_free_ char *type = NULL, *encoding = NULL;
        if (parse_headers(&p, end, &type, &encoding) < 0)
                return error_set(err, -EBADMSG, "%s looks like MIME but its headers are malformed", label);
        if (media_type_is(type, USERDATA_MIME_TYPE)) {
                int r = decode_body(p, (size_t)(end - p), encoding, ret_text, err, label);
                if (r < 0)
                        return r;
                *ret_origin = xstrdup(label);
                return USERDATA_FOUND;
        }
        if (!type || !startswith_no_case(type, "multipart/"))
                return USERDATA_NONE;
        _cleanup_free_ char *boundary = content_type_param(type, "boundary");
        if (isempty(boundary) || strlen(boundary) > 70)
                return error_set(err, -EBADMSG, "%s is MIME multipart without a valid boundary", label);
        return extract_multipart(p, end, boundary, label, ret_text, ret_origin, err);
}

int userdata_extract(const char *data, size_t len, char **ret_text, char **ret_origin, Error *err)
{
        /* cloud-init inflates gzip user-data once, whole, before it looks
         * at it (cloudinit/user_data.py convert_string); Terraform's
         * cloudinit_config gzips its MIME multipart by default. */
        if (gzip_is_compressed(data, len)) {
                _cleanup_buf_ Buf inflated = { 0 };
                int r = gzip_inflate(data, len, USERDATA_INFLATED_MAX, "user-data", &inflated, err);
                if (r < 0)
                        return r;
                return extract(inflated.data, inflated.len, "gzip-compressed user-data", ret_text,
                               ret_origin, err);
        }
        return extract(data, len, "user-data", ret_text, ret_origin, err);
}
