/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "test.h"

static bool exists(const char *dir, const char *name)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
        return access(p, F_OK) == 0;
}

static void touch(const char *dir, const char *name)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
        int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        if (fd >= 0)
                close(fd);
}

static void test_remove_stale_temp_files(void)
{
        char dir[] = "/tmp/kb-fileio-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        _cleanup_free_ char *path = xasprintf("%s/kong.env", dir);
        Error err = { "" };
        unsigned removed = 99;
        bool changed;

        /* What write_file_atomic() leaves when killed before its rename. */
        touch(dir, ".kong.env.0123456789abcdef.tmp");
        touch(dir, ".kong.env.fedcba9876543210.tmp");
        /* Not ours: other files, other targets, near misses. */
        static const char *const keep[] = { "kong.env",
                                            ".kong.conf.0123456789abcdef.tmp",
                                            ".kong.env.0123456789abcde.tmp",
                                            ".kong.env.0123456789abcdeg.tmp",
                                            ".kong.env.0123456789abcdef.tmp.bak",
                                            "kong.env.0123456789abcdef.tmp" };
        for (size_t i = 0; i < ELEMENTSOF(keep); i++)
                touch(dir, keep[i]);

        CHECK(remove_stale_temp_files(path, &removed, &err) == 0);
        CHECK(removed == 2);
        CHECK(!exists(dir, ".kong.env.0123456789abcdef.tmp"));
        CHECK(!exists(dir, ".kong.env.fedcba9876543210.tmp"));
        for (size_t i = 0; i < ELEMENTSOF(keep); i++)
                CHECK(exists(dir, keep[i]));
        CHECK(remove_stale_temp_files(path, &removed, &err) == 0 && removed == 0);

        /* The name it matches is the name write_file_atomic() uses: a
         * write leaves none behind, and a made-up leftover of that shape
         * goes. */
        for (size_t i = 0; i < ELEMENTSOF(keep); i++) {
                _cleanup_free_ char *p = xasprintf("%s/%s", dir, keep[i]);
                unlink(p);
        }
        CHECK(write_file_atomic(path, "A=1\n", 4, 0600, 0700, &changed, &err) == 0);
        CHECK(remove_stale_temp_files(path, &removed, &err) == 0 && removed == 0);

        _cleanup_free_ char *missing = xasprintf("%s/nope/kong.env", dir);
        CHECK(remove_stale_temp_files(missing, &removed, &err) == 0 && removed == 0);
        unlink(path);
        rmdir(dir);
}

int main(void)
{
        RUN(test_remove_stale_temp_files);
        return TEST_EXIT();
}
