/* SPDX-License-Identifier: Apache-2.0 */
#include "fileio.h"

#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define COMPARE_MAX (4 * 1024 * 1024)

int read_file_limited(const char *path, size_t max, Buf *ret, Error *err)
{
        Buf b = { .secret = true };
        char chunk[4096];
        ssize_t n;

        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return error_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));
        buf_puts(&b, "");
        while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 || b.len + (size_t)n > max) {
                        int r = n < 0 ? -errno : -EFBIG;
                        close(fd);
                        buf_done(&b);
                        explicit_bzero(chunk, sizeof(chunk));
                        return error_set(err, r, "cannot read '%s': %s", path, strerror(-r));
                }
                buf_append(&b, chunk, (size_t)n);
        }
        explicit_bzero(chunk, sizeof(chunk));
        close(fd);
        *ret = b;
        return 0;
}

static bool file_has_content(const char *path, const char *data, size_t len, mode_t mode)
{
        struct stat st;
        Buf old = { 0 };
        bool same;

        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != mode ||
            (size_t)st.st_size != len)
                return false;
        if (read_file_limited(path, COMPARE_MAX, &old, NULL) < 0)
                return false;
        same = old.data && old.len == len && memcmp(old.data, data, len) == 0;
        buf_done(&old);
        return same;
}

static int write_all(int fd, const char *data, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, data, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                data += n;
                len -= (size_t)n;
        }
        return 0;
}

int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode, mode_t dir_mode,
                      bool *ret_changed, Error *err)
{
        _cleanup_free_ char *dir_copy = xstrdup(path), *base_copy = xstrdup(path);
        const char *dir = dirname(dir_copy), *base = basename(base_copy);
        _cleanup_free_ char *tmp = NULL;
        int fd = -1, dfd = -1, r;

        if (file_has_content(path, data, len, mode)) {
                if (ret_changed)
                        *ret_changed = false;
                return 0;
        }
        if (mkdir(dir, dir_mode) < 0 && errno != EEXIST)
                return error_set(err, -errno, "cannot create directory '%s' for '%s': %s", dir, path,
                                 strerror(errno));

        /* O_EXCL on a fresh random name: never follows a planted symlink,
         * never opens someone else's file. */
        for (int tries = 0; fd < 0 && tries < 16; tries++) {
                free(tmp);
                /* remove_stale_temp_files() knows this name. */
                tmp = xasprintf("%s/.%s.%016llx.tmp", dir, base,
                                (unsigned long long)random_below(UINT64_MAX));
                fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
                if (fd < 0 && errno != EEXIST)
                        break;
        }
        if (fd < 0)
                return error_set(
                        err, -errno,
                        "cannot create a temporary file beside '%s' (the previous file is left as it "
                        "was): %s",
                        path, strerror(errno));

        r = write_all(fd, data, len);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return error_set(err, r, "cannot write '%s' (the previous file is left as it was): %s", path,
                                 strerror(-r));
        }
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
                (void)fsync(dfd);
                close(dfd);
        }
        if (ret_changed)
                *ret_changed = true;
        return 0;
}

/* ".BASE.<16 hex digits>.tmp", the name write_file_atomic() gives its
 * temp file. */
static bool is_temp_name_of(const char *name, const char *base)
{
        size_t n = strlen(base);

        if (name[0] != '.' || strncmp(name + 1, base, n) != 0 || name[1 + n] != '.')
                return false;
        const char *hex = name + 2 + n;
        for (size_t i = 0; i < 16; i++)
                if (!strchr("0123456789abcdef", hex[i]) || hex[i] == '\0')
                        return false;
        return streq(hex + 16, ".tmp");
}

int remove_stale_temp_files(const char *path, unsigned *ret_removed, Error *err)
{
        _cleanup_free_ char *dir_copy = xstrdup(path), *base_copy = xstrdup(path);
        const char *dir = dirname(dir_copy), *base = basename(base_copy);
        unsigned removed = 0;
        struct dirent *de;

        DIR *d = opendir(dir);
        if (!d) {
                if (errno == ENOENT) {
                        *ret_removed = 0;
                        return 0;
                }
                return error_set(err, -errno, "cannot read directory '%s': %s", dir, strerror(errno));
        }
        while ((de = readdir(d))) {
                if (!is_temp_name_of(de->d_name, base))
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
                        int r = -errno;
                        closedir(d);
                        return error_set(err, r, "cannot remove the leftover '%s/%s': %s", dir, de->d_name,
                                         strerror(-r));
                }
                removed++;
        }
        closedir(d);
        *ret_removed = removed;
        return 0;
}
