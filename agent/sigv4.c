/* SPDX-License-Identifier: Apache-2.0 */
#include "sigv4.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <strings.h>

static void hex(const unsigned char *d, size_t n, char *out)
{
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[d[i] >> 4];
                out[2 * i + 1] = digits[d[i] & 15];
        }
        out[2 * n] = '\0';
}

static void sha256_hex(const void *data, size_t n, char out[2 * SHA256_DIGEST_LENGTH + 1])
{
        unsigned char md[SHA256_DIGEST_LENGTH];
        SHA256(data, n, md);
        hex(md, sizeof(md), out);
}

static void hmac(const void *key, size_t keylen, const char *data, unsigned char out[SHA256_DIGEST_LENGTH])
{
        unsigned int n = SHA256_DIGEST_LENGTH;
        if (!data)
                data = "";
        (void)HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, strlen(data), out, &n);
}

/* The URL's authority (lowercased, without user info) and path. */
static int split_url(const char *url, char **ret_host, char **ret_path, Error *err)
{
        const char *p = strstr(url, "://");
        if (!p)
                return error_set(err, -EINVAL, "'%s' is not a URL", url);
        p += 3;
        size_t n = strcspn(p, "/?#");
        if (p[n] == '?' || strchr(p + n, '?'))
                return error_set(err, -EINVAL, "'%s': AWS requests are sent without a query string", url);
        const char *at = memchr(p, '@', n);
        if (at) {
                n -= (size_t)(at + 1 - p);
                p = at + 1;
        }
        if (n == 0)
                return error_set(err, -EINVAL, "'%s' has no host", url);
        char *host = xasprintf("%.*s", (int)n, p);
        for (char *c = host; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        const char *path = p + n;
        *ret_host = host;
        *ret_path = xstrdup(*path == '/' ? path : "/");
        return 0;
}

typedef struct Header {
        char *name; /* lowercase */
        char *value;
} Header;

static int cmp_header(const void *a, const void *b)
{
        return strcmp(((const Header *)a)->name, ((const Header *)b)->name);
}

/* Name lowercased; value trimmed, inner runs of blanks made one space. */
static void header_parse(const char *line, Header *ret)
{
        size_t colon = strcspn(line, ":");
        ret->name = xasprintf("%.*s", (int)colon, line);
        for (char *c = ret->name; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        const char *v = line[colon] ? line + colon + 1 : "";
        Buf b = { 0 };
        while (*v == ' ' || *v == '\t')
                v++;
        for (; *v; v++) {
                if (*v == ' ' || *v == '\t') {
                        while (v[1] == ' ' || v[1] == '\t')
                                v++;
                        if (v[1] == '\0')
                                break;
                        buf_append(&b, " ", 1);
                } else
                        buf_append(&b, v, 1);
        }
        ret->value = b.data ? buf_steal(&b) : xstrdup("");
}

typedef struct Signing {
        char *host;
        char *path;
        char amz_date[17]; /* 20261201T000000Z */
        char date[9];
        char *signed_headers;
        char *canonical;
        char *string_to_sign;
        char *scope;
} Signing;

static void signing_done(Signing *s)
{
        free(s->host);
        free(s->path);
        free(s->signed_headers);
        free(s->canonical);
        free(s->string_to_sign);
        free(s->scope);
}

static int prepare(const Sigv4Request *req, Signing *s, Error *err)
{
        struct tm tm;
        int r;

        *s = (Signing){ 0 };
        r = split_url(req->url, &s->host, &s->path, err);
        if (r < 0)
                return r;
        if (!gmtime_r(&req->when, &tm) ||
            strftime(s->amz_date, sizeof(s->amz_date), "%Y%m%dT%H%M%SZ", &tm) == 0)
                return error_set(err, -EINVAL, "cannot format the signing time");
        memcpy(s->date, s->amz_date, 8);
        s->date[8] = '\0';

        size_t n = strv_length(req->headers);
        Header *h = calloc(n + 2, sizeof(Header));
        if (!h)
                return error_set(err, -ENOMEM, "out of memory");
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
                header_parse(req->headers[i], &h[m]);
                if (streq(h[m].name, "host") || streq(h[m].name, "x-amz-date") ||
                    streq(h[m].name, "authorization")) {
                        free(h[m].name);
                        free(h[m].value);
                        continue; /* ours to set */
                }
                m++;
        }
        h[m++] = (Header){ xstrdup("host"), xstrdup(s->host) };
        h[m++] = (Header){ xstrdup("x-amz-date"), xstrdup(s->amz_date) };
        qsort(h, m, sizeof(Header), cmp_header);

        Buf canon = { 0 }, names = { 0 };
        char payload[2 * SHA256_DIGEST_LENGTH + 1];
        sha256_hex(req->body ? req->body : "", req->body ? req->body_len : 0, payload);
        buf_printf(&canon, "%s\n%s\n\n", req->method, s->path);
        for (size_t i = 0; i < m; i++) {
                buf_printf(&canon, "%s:%s\n", h[i].name, h[i].value);
                buf_printf(&names, "%s%s", i ? ";" : "", h[i].name);
                free(h[i].name);
                free(h[i].value);
        }
        free(h);
        buf_printf(&canon, "\n%s\n%s", names.data, payload);
        s->signed_headers = buf_steal(&names);
        s->canonical = buf_steal(&canon);

        char canon_hash[2 * SHA256_DIGEST_LENGTH + 1];
        sha256_hex(s->canonical, strlen(s->canonical), canon_hash);
        s->scope = xasprintf("%s/%s/%s/aws4_request", s->date, req->region, req->service);
        s->string_to_sign = xasprintf("AWS4-HMAC-SHA256\n%s\n%s\n%s", s->amz_date, s->scope, canon_hash);
        return 0;
}

int sigv4_canonical(const Sigv4Request *req, char **ret_canonical, char **ret_string_to_sign, Error *err)
{
        Signing s;
        int r = prepare(req, &s, err);
        if (r >= 0) {
                *ret_canonical = s.canonical;
                *ret_string_to_sign = s.string_to_sign;
                s.canonical = s.string_to_sign = NULL;
        }
        signing_done(&s);
        return r;
}

int sigv4_sign(const Sigv4Request *req, char ***ret_headers, Error *err)
{
        unsigned char k1[SHA256_DIGEST_LENGTH], k2[SHA256_DIGEST_LENGTH], k3[SHA256_DIGEST_LENGTH],
                k4[SHA256_DIGEST_LENGTH], sig[SHA256_DIGEST_LENGTH];
        char sig_hex[2 * SHA256_DIGEST_LENGTH + 1];
        Signing s;
        int r;

        if (isempty(req->access_key_id) || isempty(req->secret_access_key))
                return error_set(err, -EINVAL, "no AWS credentials to sign with");
        if (isempty(req->region) || isempty(req->service))
                return error_set(err, -EINVAL, "no region or service to sign for");
        r = prepare(req, &s, err);
        if (r < 0) {
                signing_done(&s);
                return r;
        }
        _cleanup_secret_ char *key0 = xasprintf("AWS4%s", req->secret_access_key);
        hmac(key0, strlen(key0), s.date, k1);
        hmac(k1, sizeof(k1), req->region, k2);
        hmac(k2, sizeof(k2), req->service, k3);
        hmac(k3, sizeof(k3), "aws4_request", k4);
        hmac(k4, sizeof(k4), s.string_to_sign, sig);
        hex(sig, sizeof(sig), sig_hex);
        explicit_bzero(k1, sizeof(k1));
        explicit_bzero(k2, sizeof(k2));
        explicit_bzero(k3, sizeof(k3));
        explicit_bzero(k4, sizeof(k4));

        char **l = NULL;
        strv_push(&l, xasprintf("Host: %s", s.host));
        strv_push(&l, xasprintf("X-Amz-Date: %s", s.amz_date));
        strv_push(
                &l,
                xasprintf("Authorization: AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                          req->access_key_id, s.scope, s.signed_headers, sig_hex));
        signing_done(&s);
        *ret_headers = l;
        return 0;
}
