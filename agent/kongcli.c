/* SPDX-License-Identifier: Apache-2.0 */
#include "kongcli.h"

#include <ctype.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kong.h"
#include "retry.h"

extern char **environ;

static char **env_free_wiped(char **l)
{
        for (size_t i = 0; l && l[i]; i++)
                explicit_bzero(l[i], strlen(l[i]));
        return strv_free(l);
}

/* Kong's environment without the password: `kong version` needs none. */
static char **environment_for(const DbParams *db)
{
        if (db)
                return kong_child_environment(db, environ);
        DbParams none = { .password = (char *)"" };
        char **env = kong_child_environment(&none, environ);
        /* drop the empty KONG_PG_PASSWORD= */
        size_t n = strv_length(env);
        if (n > 0 && startswith(env[n - 1], "KONG_PG_PASSWORD=")) {
                free(env[n - 1]);
                env[n - 1] = NULL;
        }
        return env;
}

static void kill_group(pid_t pid)
{
        (void)kill(-pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
}

int kongcli_run(const char *kong_bin, const char *const *args, const DbParams *db, usec_t timeout,
                int *ret_status, char **ret_output, Error *err)
{
        _cleanup_strv_ char **argv = NULL;
        _cleanup_buf_ Buf out = { .secret = true };
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        int pipefd[2], status = 0, r;
        pid_t pid;

        strv_push(&argv, xstrdup(kong_bin));
        for (size_t i = 0; args[i]; i++)
                strv_push(&argv, xstrdup(args[i]));
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return error_set(err, -errno, "cannot create a pipe: %s", strerror(errno));
        char **env = environment_for(db);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
        (void)posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
        posix_spawnattr_init(&attr);
        r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
        if (r == 0)
                r = posix_spawnattr_setpgroup(&attr, 0);
        if (r == 0)
                r = posix_spawn(&pid, kong_bin, &fa, &attr, argv, env);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        env_free_wiped(env);
        close(pipefd[1]);
        if (r != 0) {
                close(pipefd[0]);
                return error_set(err, -r, "cannot run '%s' (kong_bin): %s", kong_bin, strerror(r));
        }

        usec_t deadline = now_usec() + timeout;
        for (;;) {
                usec_t now = now_usec();
                if (now >= deadline) {
                        close(pipefd[0]);
                        kill_group(pid);
                        return error_set(err, -ETIME, "'kong %s' did not finish within %llu s",
                                         args[0] ?: "", (unsigned long long)(timeout / USEC_PER_SEC));
                }
                /* A `finish` may run for minutes from the daemon's loop: the
                 * watchdog (and, at boot, the start timeout) is fed every
                 * second, as in every other slow wait. */
                retry_waiting(deadline - now + 10 * USEC_PER_SEC);
                usec_t slice = deadline - now < USEC_PER_SEC ? deadline - now : USEC_PER_SEC;
                struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
                int n = poll(&pfd, 1, (int)((slice + USEC_PER_MSEC - 1) / USEC_PER_MSEC));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        continue;
                char chunk[4096];
                ssize_t got = read(pipefd[0], chunk, sizeof(chunk));
                if (got < 0 && errno == EINTR)
                        continue;
                if (got <= 0)
                        break;
                if (out.len < KONGCLI_OUTPUT_MAX) {
                        size_t room = KONGCLI_OUTPUT_MAX - out.len;
                        buf_append(&out, chunk, (size_t)got < room ? (size_t)got : room);
                }
                explicit_bzero(chunk, sizeof(chunk));
        }
        close(pipefd[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return error_set(err, -errno, "waitpid: %s", strerror(errno));
        (void)kill(-pid, SIGKILL); /* nothing it started outlives it */
        if (WIFSIGNALED(status))
                return error_set(err, -EINTR, "'kong %s' was killed by signal %s", args[0] ?: "",
                                 strsignal(WTERMSIG(status)));
        *ret_status = WEXITSTATUS(status);
        if (ret_output) {
                const char *text = out.data ? out.data : "";
                *ret_output = db && !isempty(db->password)
                                      ? str_replace_all(text, db->password, "<redacted>")
                                      : xstrdup(text);
        }
        return 0;
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
