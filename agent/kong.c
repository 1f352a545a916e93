/* SPDX-License-Identifier: Apache-2.0 */
#include "kong.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "retry.h"

/* A migration can take long: every second systemd hears that we are still
 * at it (and lifecycle heartbeats go out when due). */
#define KONG_PROGRESS_INTERVAL_MS 1000
#define KONG_MAX_ROUNDS           4
#define KONG_EXTEND               (30 * USEC_PER_SEC)
#define KONG_STATUS_INTERVAL      (5 * USEC_PER_SEC)
/* SIGTERM to Kong's process group, then SIGKILL after this. */
#define KONG_STOP_GRACE (5 * USEC_PER_SEC)
/* Start time systemd grants past a deadline: the failure's record and the
 * launch hook's ABANDON. */
#define KONG_REPORT_MARGIN (30 * USEC_PER_SEC)

const char *kong_schema_state_describe(int s)
{
        switch (s) {
        case KONG_SCHEMA_UP_TO_DATE: return "database is up to date";
        case KONG_SCHEMA_ERROR: return "error";
        case KONG_SCHEMA_NEEDS_BOOTSTRAP: return "database needs bootstrap";
        case KONG_SCHEMA_PENDING: return "database has pending migrations (finish)";
        case KONG_SCHEMA_NEW: return "database has new migrations (up)";
        default: return "unexpected exit status";
        }
}

char **kong_child_environment(const DbParams *db, char *const *our_env)
{
        char **env = NULL;
        bool have_path = false;

        for (size_t i = 0; our_env && our_env[i]; i++) {
                if (startswith(our_env[i], "PATH="))
                        have_path = true;
                if (startswith(our_env[i], "PATH=") || startswith(our_env[i], "LANG=") ||
                    startswith(our_env[i], "HOME=") || startswith(our_env[i], "TZ="))
                        strv_push(&env, xstrdup(our_env[i]));
        }
        if (!have_path)
                strv_push(&env,
                          xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
        /* Everything else comes from the kong.conf given with -c, the
         * file kong.service reads: kong.service's EnvironmentFile= holds
         * only the password, so this is all the environment Kong gets.
         * None for `kong version` (no 'db'); an empty one Kong would take
         * as unset anyway. */
        if (db && !isempty(db->password))
                strv_push(&env, xasprintf("KONG_PG_PASSWORD=%s", db->password));
        return env;
}

static char **strv_free_wiped(char **l)
{
        for (size_t i = 0; l && l[i]; i++)
                explicit_bzero(l[i], strlen(l[i]));
        return strv_free(l);
}

/* The password cut out of one whole line (a debug dump of Kong's
 * settings would show it) before anything else sees the line. */
static void output_emit(KongOutput *o, const char *secret, KongLineFn fn, void *userdata)
{
        const char *line = o->line.data ? o->line.data : "";
        _cleanup_secret_ char *redacted =
                isempty(secret) ? xstrdup(line) : str_replace_all(line, secret, "<redacted>");
        fn(redacted, userdata);
        buf_done(&o->line);
}

/* An over-long line is dropped whole: redaction needs the whole line (a
 * line cut at the cap could end in the beginning of the password, which
 * the dropped rest would have completed), so none of it is passed on. */
static void output_drop(KongOutput *o, KongLineFn fn, void *userdata)
{
        char note[96];
        buf_done(&o->line);
        (void)snprintf(note, sizeof(note), "(a line longer than %d bytes, dropped)", KONG_LINE_MAX);
        fn(note, userdata);
}

void kong_output_feed(KongOutput *o, const char *data, size_t n, const char *secret, KongLineFn fn,
                      void *userdata)
{
        o->line.secret = true;
        for (size_t i = 0; i < n; i++) {
                if (data[i] == '\n') {
                        if (!o->cut)
                                output_emit(o, secret, fn, userdata);
                        o->cut = false;
                        continue;
                }
                if (o->cut)
                        continue; /* the rest of an over-long line */
                if (o->line.len >= KONG_LINE_MAX) {
                        output_drop(o, fn, userdata);
                        o->cut = true;
                        continue;
                }
                buf_append(&o->line, &data[i], 1);
        }
}

void kong_output_finish(KongOutput *o, const char *secret, KongLineFn fn, void *userdata)
{
        if (o->line.len > 0 && !o->cut)
                output_emit(o, secret, fn, userdata);
        buf_done(&o->line);
        o->cut = false;
}

/* The journal sink: one record per line of Kong's output. */
static void log_child_line(const char *line, void *userdata)
{
        (void)userdata;
        _cleanup_free_ char *clean = sanitize_for_log(line, KONG_LINE_MAX + 64);
        if (*clean == '\0')
                return;
        log_info(STAGE_MIGRATIONS, "kong: %s", clean);
}

/* The capture sink: whole lines while they fit in KONG_CAPTURE_MAX; the
 * first that does not is dropped with everything after it. */
typedef struct KongCapture {
        Buf text;
        bool full;
} KongCapture;

static void capture_line(const char *line, void *userdata)
{
        KongCapture *c = userdata;
        size_t need = strlen(line) + (c->text.len > 0);

        if (c->full || c->text.len + need > KONG_CAPTURE_MAX) {
                c->full = true;
                return;
        }
        if (c->text.len > 0)
                buf_append(&c->text, "\n", 1);
        buf_puts(&c->text, line);
}

/* The child gets stdin, stdout and stderr, nothing else of ours: libcurl
 * keeps connections to IMDS and Secrets Manager open, and a socket
 * without O_CLOEXEC (libpq's, a library's) would otherwise stay open in
 * Kong for as long as it runs. */
static void only_stdio_in_child(posix_spawn_file_actions_t *fa)
{
        (void)posix_spawn_file_actions_addclosefrom_np(fa, STDERR_FILENO + 1);
}

/* Kong's CLI is a launcher whose children may outlive it: it runs in a
 * process group of its own (pgid = its pid), and stopping it means
 * stopping the group: SIGTERM, then SIGKILL after KONG_STOP_GRACE. It
 * starts with no signal blocked and the stop signals at their defaults:
 * the daemon blocks SIGTERM and SIGINT (sd-event reads them from a
 * signalfd), and a child inheriting that mask would hold our SIGTERM
 * pending until the SIGKILL. */
static int spawn_in_group(pid_t *ret_pid, const char *bin, const posix_spawn_file_actions_t *fa,
                          char *const *argv, char *const *env)
{
        static const int defaults[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE };
        posix_spawnattr_t attr;
        sigset_t none, def;
        int r;

        sigemptyset(&none);
        sigemptyset(&def);
        for (size_t i = 0; i < ELEMENTSOF(defaults); i++)
                sigaddset(&def, defaults[i]);
        r = posix_spawnattr_init(&attr);
        if (r != 0)
                return r;
        r = posix_spawnattr_setflags(&attr,
                                     POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        if (r == 0)
                r = posix_spawnattr_setsigmask(&attr, &none);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(&attr, &def);
        if (r == 0)
                r = posix_spawnattr_setpgroup(&attr, 0);
        if (r == 0)
                r = posix_spawn(ret_pid, bin, fa, &attr, argv, env);
        (void)posix_spawnattr_destroy(&attr);
        return r;
}

/* `kong_bin args…` with stdin from /dev/null and stdout and stderr into
 * one pipe, whose read end *ret_fd gets. The password exists in the
 * child's environment only, wiped from ours once it is spawned. */
static int spawn_kong(const char *kong_bin, const char *const *args, const DbParams *db, pid_t *ret_pid,
                      int *ret_fd, Error *err)
{
        extern char **environ;
        _cleanup_strv_ char **argv = NULL;
        posix_spawn_file_actions_t fa;
        int pipefd[2], r;

        strv_push(&argv, xstrdup(kong_bin));
        for (size_t i = 0; args[i]; i++)
                strv_push(&argv, xstrdup(args[i]));
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return error_set(err, -errno, "cannot create a pipe: %s", strerror(errno));
        char **env = kong_child_environment(db, environ);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
        only_stdio_in_child(&fa);
        r = spawn_in_group(ret_pid, kong_bin, &fa, argv, env);
        posix_spawn_file_actions_destroy(&fa);
        strv_free_wiped(env);
        close(pipefd[1]);
        if (r != 0) {
                close(pipefd[0]);
                return error_set(err, -r, "cannot run '%s' (kong_bin): %s", kong_bin, strerror(r));
        }
        *ret_fd = pipefd[0];
        return 0;
}

/* No process of the group 'pgid' runs any more. kill(-pgid, 0) alone
 * would count zombies: an orphan of Kong's (a worker whose launcher died
 * first) stays a zombie of the group until PID 1 reaps it, and a PID 1
 * that is not systemd (a container's, a build chroot's) may take its time
 * or never do it; we would wait out the whole grace period for the dead. */
static bool group_gone(pid_t pgid)
{
        if (kill(-pgid, 0) < 0 && errno == ESRCH)
                return true;
        DIR *d = opendir("/proc");
        if (!d)
                return false;
        bool alive = false;
        for (struct dirent *e; !alive && (e = readdir(d));) {
                if (e->d_name[0] < '1' || e->d_name[0] > '9')
                        continue;
                char path[300], buf[512];
                (void)snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue; /* gone meanwhile */
                ssize_t n = read(fd, buf, sizeof(buf) - 1);
                close(fd);
                if (n <= 0)
                        continue;
                buf[n] = '\0';
                /* "pid (comm) state ppid pgrp ...": comm may hold ')' */
                char *p = strrchr(buf, ')');
                if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
                        continue;
                char state = p[2];
                char *end;
                (void)strtol(p + 4, &end, 10); /* ppid */
                long pgrp = strtol(end, &end, 10);
                if (pgrp == pgid && state != 'Z' && state != 'X')
                        alive = true;
        }
        closedir(d);
        return !alive;
}

/* Stops the child 'pid' (already reaped or not) and every process of its
 * group. */
static void stop_group(pid_t pid, bool reaped)
{
        (void)kill(-pid, SIGTERM);
        for (usec_t until = now_usec() + KONG_STOP_GRACE; now_usec() < until;) {
                if (!reaped && waitpid(pid, NULL, WNOHANG) == pid)
                        reaped = true;
                if (reaped && group_gone(pid))
                        return;
                sleep_usec(50 * USEC_PER_MSEC);
        }
        (void)kill(-pid, SIGKILL);
        if (!reaped)
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        (void)kill(-pid, SIGKILL); /* whoever joined the group meanwhile */
}

/* How much more start time to ask systemd for: never past the deadline
 * (plus the time to stop Kong and report the failure). */
static usec_t extension(const KongWatch *w, usec_t now)
{
        usec_t ext = KONG_EXTEND;
        if (w && w->deadline) {
                usec_t left = w->deadline > now ? w->deadline - now : 0;
                if (left + KONG_STOP_GRACE + KONG_REPORT_MARGIN < ext)
                        ext = left + KONG_STOP_GRACE + KONG_REPORT_MARGIN;
        }
        return ext;
}

/* "kong migrations finish": the command, without its options, for
 * messages (the -c path is ours, not news). */
static char *command_name(const char *const *args)
{
        _cleanup_buf_ Buf b = { 0 };
        buf_puts(&b, "kong");
        for (size_t i = 0; args[i] && args[i][0] != '-'; i++)
                buf_printf(&b, " %s", args[i]);
        return xstrdup(b.data);
}

/* Why the run was stopped early: a lost lock (-ENOLCK), the deadline
 * (-ETIME), a termination notice (-ECANCELED: retry_interrupted(), the
 * daemon's hook; a `finish` from the fleet tick would otherwise hold the
 * drain for up to migrations_timeout, and Kong's migrations are
 * re-entrant: the next node runs what is left), or 0 to go on. */
static int run_watch(const KongWatch *watch, DbLockWatch *lw, const char *what, Error *err)
{
        PGconn *lock_conn = watch ? watch->lock_conn : NULL;
        usec_t now = now_usec();
        Error e;

        if (retry_interrupted())
                return error_set(
                        err, -ECANCELED,
                        "'%s' stopped, with every process it started: this node is being terminated", what);

        if (lock_conn && db_lock_watch(lock_conn, lw, &e) < 0) {
                log_warning(STAGE_MIGRATIONS,
                            "the migration lock's connection is gone (%s); stopping '%s' and every process "
                            "it started",
                            e.msg, what);
                return error_set(err, -ENOLCK,
                                 "lost the migration lock while '%s' ran (%s); stopped it and every process "
                                 "it started. This node no longer leads; another node resumes the migration",
                                 what, e.msg);
        }
        if (!watch || !watch->deadline || now < watch->deadline)
                return 0;
        if (watch->deadline_text)
                return error_set(err, -ETIME,
                                 "'%s' still ran %llu s into the migrations (%s); stopped it and every "
                                 "process it started",
                                 what, (unsigned long long)((now - watch->started) / USEC_PER_SEC),
                                 watch->deadline_text);
        return error_set(err, -ETIME,
                         "'%s' did not finish within %llu s; stopped it and every process it started", what,
                         (unsigned long long)((watch->deadline - watch->started) / USEC_PER_SEC));
}

/* The one way a `kong` child runs: spawned (spawn_kong()), watched
 * (run_watch()) while its output goes line by line, redacted, to 'sink';
 * the keepalive every second; stopped with its group when the watch says
 * so; reaped, and nothing of its group left behind. */
static int run_kong(const char *kong_bin, const char *const *args, const DbParams *db,
                    const KongWatch *watch, KongLineFn sink, void *userdata, int *ret_status, Error *err)
{
        _cleanup_free_ char *what = command_name(args);
        const char *secret = db ? db->password : NULL;
        PGconn *lock_conn = watch ? watch->lock_conn : NULL;
        DbLockWatch lw = { .answered = now_usec() };
        KongOutput output = { 0 };
        int fd = -1, status = 0, r;
        bool exited = false, eof = false;
        pid_t pid = -1;

        r = spawn_kong(kong_bin, args, db, &pid, &fd, err);
        if (r < 0)
                return r;
        usec_t last_progress = now_usec(), last_status = 0;
        while (!eof) {
                struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN },
                                         { .fd = lock_conn ? PQsocket(lock_conn) : -1, .events = POLLIN } };
                /* Once Kong has exited, only what it left in the pipe is
                 * read: a child of it holding the pipe must not keep us. */
                int n = poll(pfd, 2, exited ? 0 : KONG_PROGRESS_INTERVAL_MS);
                if (n < 0 && errno == EINTR)
                        continue;
                r = run_watch(watch, &lw, what, err);
                if (r < 0) {
                        stop_group(pid, exited);
                        close(fd);
                        kong_output_finish(&output, secret, sink, userdata);
                        return r;
                }
                usec_t now = now_usec();
                /* Every second, chatty output or not (and not at every
                 * read): systemd's timeout, the watchdog and the lifecycle
                 * heartbeats must not wait for a quiet Kong, nor get a
                 * network round trip per read of a busy one. */
                if (!exited && now - last_progress >= KONG_PROGRESS_INTERVAL_MS * USEC_PER_MSEC) {
                        retry_waiting(extension(watch, now));
                        last_progress = now_usec();
                }
                if (!exited && watch && watch->deadline && watch->deadline_key &&
                    now - last_status >= KONG_STATUS_INTERVAL) {
                        notify_status(
                                "migrations: %s, %llu s of %llu s (%s)", what,
                                (unsigned long long)((now - watch->started) / USEC_PER_SEC),
                                (unsigned long long)((watch->deadline - watch->started) / USEC_PER_SEC),
                                watch->deadline_key);
                        last_status = now;
                }
                if (!exited && waitpid(pid, &status, WNOHANG) == pid)
                        exited = true;
                if (n <= 0 || !pfd[0].revents) {
                        if (exited && n == 0)
                                break;
                        continue;
                }
                char chunk[4096];
                ssize_t got = read(fd, chunk, sizeof(chunk));
                if (got < 0 && errno == EINTR)
                        continue;
                if (got <= 0)
                        eof = true;
                else
                        kong_output_feed(&output, chunk, (size_t)got, secret, sink, userdata);
                explicit_bzero(chunk, sizeof(chunk));
        }
        kong_output_finish(&output, secret, sink, userdata);
        close(fd);

        if (!exited)
                while (waitpid(pid, &status, 0) < 0)
                        if (errno != EINTR)
                                return error_set(err, -errno, "waitpid: %s", strerror(errno));
        /* Nothing Kong started outlives it. */
        (void)kill(-pid, SIGKILL);
        /* The lock connection takes its next statement (the next kong
         * run's watch, the unlock) only once the liveness query is
         * answered: it may have gone out in the round that met Kong's
         * end, and libpq refuses a query while one is in progress. */
        if (lock_conn && lw.pending) {
                Error e;
                usec_t since = now_usec() - lw.sent;
                r = db_drain(lock_conn, since < DB_LIVENESS_TIMEOUT ? DB_LIVENESS_TIMEOUT - since : 0, &e);
                if (r == -ECANCELED) /* a termination notice, as run_watch() would have said */
                        return error_set(err, r, "'%s' ended; %s", what, e.msg);
                if (r < 0)
                        return error_set(err, -ENOLCK,
                                         "lost the migration lock as '%s' ended (%s). This node no longer "
                                         "leads; another node resumes the migration",
                                         what, e.msg);
        }
        if (WIFSIGNALED(status))
                return error_set(err, -EINTR, "'%s' was killed by signal %s", what,
                                 strsignal(WTERMSIG(status)));
        *ret_status = WEXITSTATUS(status);
        return 0;
}

int kong_run(const char *kong_bin, const char *const *args, const DbParams *db, const KongWatch *watch,
             int *ret_status, Error *err)
{
        return run_kong(kong_bin, args, db, watch, log_child_line, NULL, ret_status, err);
}

int kong_run_quiet(const char *kong_bin, const char *const *args, const DbParams *db, const KongWatch *watch,
                   int *ret_status, char **ret_output, Error *err)
{
        KongCapture capture = { .text = { .secret = true } };
        int r = run_kong(kong_bin, args, db, watch, capture_line, &capture, ret_status, err);

        if (r >= 0 && ret_output)
                *ret_output = xstrdup(capture.text.data ? capture.text.data : "");
        buf_done(&capture.text);
        return r;
}

MigrationsAction migrations_decide(int state, MigrationsPolicy policy, bool finish_auto)
{
        switch (state) {
        case KONG_SCHEMA_UP_TO_DATE: return ACTION_NONE;
        case KONG_SCHEMA_NEEDS_BOOTSTRAP: return policy == MIGRATIONS_OFF ? ACTION_REFUSE : ACTION_BOOTSTRAP;
        case KONG_SCHEMA_NEW: return policy == MIGRATIONS_AUTO ? ACTION_UP : ACTION_REFUSE;
        case KONG_SCHEMA_PENDING:
                /* Kong runs with pending migrations; `finish` while old nodes
                 * still run breaks them, so it is the operator's call. */
                return finish_auto && policy == MIGRATIONS_AUTO ? ACTION_FINISH : ACTION_NONE;
        default: return ACTION_FAIL;
        }
}

MigrationsPolicy migrations_policy_from_config(const Config *c)
{
        const char *v = config_get(c, CONF_MIGRATIONS);
        if (streq(v, "off"))
                return MIGRATIONS_OFF;
        if (streq(v, "bootstrap-only"))
                return MIGRATIONS_BOOTSTRAP_ONLY;
        return MIGRATIONS_AUTO;
}

static int kong_migrations(const Config *c, const char *conf_path, const DbParams *db,
                           const KongWatch *watch, const char *sub, int *ret_status, Error *err)
{
        /* -c always: without it Kong reads /etc/kong/kong.conf or
         * /etc/kong.conf, whatever a previous boot or the AMI left there. */
        const char *args[] = { "migrations", sub, "-c", conf_path, NULL };
        usec_t started = now_usec();

        notify_status("migrations: kong migrations %s", sub);
        int r = kong_run(config_get(c, CONF_KONG_BIN), args, db, watch, ret_status, err);
        if (r < 0)
                return r;
        log_debug(STAGE_MIGRATIONS, "kong migrations %s exited %d after %llu ms", sub, *ret_status,
                  (unsigned long long)((now_usec() - started) / USEC_PER_MSEC));
        return 0;
}

int migrations_run(const Config *c, const char *conf_path, const DbParams *db, const KongWatch *watch,
                   bool leader, Error *err)
{
        MigrationsPolicy policy = migrations_policy_from_config(c);
        bool finish_auto = streq(config_get(c, CONF_MIGRATIONS_FINISH), "auto");
        int state = -1, status = -1, r;

        /* Each round: inspect, act, inspect again. Kong's `bootstrap` can
         * exit 0 without having done anything (its own lock's loser), so
         * success is what `list` says afterwards, not an exit code. */
        for (unsigned round = 0; round < KONG_MAX_ROUNDS; round++) {
                r = kong_migrations(c, conf_path, db, watch, "list", &state, err);
                if (r < 0)
                        return r;
                MigrationsAction action = migrations_decide(state, policy, finish_auto);
                const char *sub = NULL;
                switch (action) {
                case ACTION_NONE:
                        if (state == KONG_SCHEMA_PENDING &&
                            streq(config_get(c, CONF_MIGRATIONS_FINISH), "after-rollout"))
                                log_info(
                                        STAGE_MIGRATIONS,
                                        "the database has pending migrations; Kong runs with them, and "
                                        "'kong "
                                        "migrations finish' follows once every node runs this Kong or newer "
                                        "(migrations_finish = after-rollout)");
                        else if (state == KONG_SCHEMA_PENDING)
                                log_warning(
                                        STAGE_MIGRATIONS,
                                        "the database has pending migrations; Kong runs with them. Once no "
                                        "node of the previous Kong version is left, an operator must run "
                                        "'kong migrations finish' (or set migrations_finish = auto)");
                        else
                                log_info(STAGE_MIGRATIONS, "kong migrations list: %s",
                                         kong_schema_state_describe(state));
                        return MIGRATIONS_READY;
                case ACTION_FAIL:
                        return error_set(err, -EIO,
                                         "'kong migrations list' failed (exit %d: %s); its output is above",
                                         state, kong_schema_state_describe(state));
                case ACTION_REFUSE:
                        return error_set(
                                err, -EPERM,
                                "%s, but migrations = %s forbids running it; not starting Kong on a "
                                "schema it cannot run on",
                                kong_schema_state_describe(state), config_get(c, CONF_MIGRATIONS));
                case ACTION_BOOTSTRAP: sub = "bootstrap"; break;
                case ACTION_UP: sub = "up"; break;
                case ACTION_FINISH: sub = "finish"; break;
                }
                if (!leader)
                        return MIGRATIONS_NEED_LEADER;
                log_info(STAGE_MIGRATIONS, "%s: running 'kong migrations %s'",
                         kong_schema_state_describe(state), sub);
                r = kong_migrations(c, conf_path, db, watch, sub, &status, err);
                if (r < 0)
                        return r;
                if (status != 0) {
                        /* A leader that died left Kong's own lock row behind;
                         * Kong's `up` waits for it and may give up just as it
                         * expires. Inspect again and retry while rounds last. */
                        if (round + 1 >= KONG_MAX_ROUNDS)
                                return error_set(
                                        err, -EIO,
                                        "'kong migrations %s' failed (exit %d); its output is above", sub,
                                        status);
                        log_warning(STAGE_MIGRATIONS,
                                    "'kong migrations %s' failed (exit %d); inspecting again", sub, status);
                }
        }
        return error_set(err, -ELOOP, "the schema still needs work after %d rounds of migrations",
                         KONG_MAX_ROUNDS);
}
