/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kong-bootstrap: turns a freshly launched EC2 instance into a ready Kong
 * Gateway node. main() only parses the command line, loads the
 * configuration and hands over to the command (command-*.c).
 */
#include <curl/curl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "build-config.h"
#include "command-check.h"
#include "command-fleet.h"
#include "command-render.h"
#include "command-run.h"
#include "command-status.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "secrets.h"
#include "state.h"

extern char **environ;

static void help(void)
{
        printf("Usage: kong-bootstrap [OPTIONS] COMMAND\n"
               "\n"
               "Turns this EC2 instance into a ready Kong Gateway node.\n"
               "\n"
               "Commands:\n"
               "  run [--oneshot]   boot: IMDS, secret, Postgres, migrations, kong.conf, kong.service\n"
               "  render [--diff]   print the kong.conf and env file a run would write (secrets redacted,\n"
               "                    each setting's source as a comment); --diff: what a run would change\n"
               "  check             check config, IMDS, Secrets Manager and Postgres; change nothing\n"
               "  fleet [--json]    the fleet registry, the schema, what keeps 'migrations finish' waiting\n"
               "  status [--wait] [--json]\n"
               "                    where the running agent's boot is: stage, elapsed time, last error;\n"
               "                    --wait: until Kong is ready or the boot failed; --json for scripts\n"
               "\n"
               "Options:\n"
               "  -c, --config PATH  configuration file (default " DEFAULT_CONFIG_PATH ")\n"
               "      --set KEY=VALUE  override one setting (repeatable)\n"
               "      --oneshot     with run: exit after Kong is ready instead of staying\n"
               "      --wait        with status: block until ready (exit 0) or failed (exit 20)\n"
               "      --json        with status: one JSON object\n"
               "  -v, --verbose     debug logging\n"
               "  -h, --help        this text\n"
               "      --version     print the version\n"
               "\n");
        stage_print_exit_statuses(stdout);
        printf("\nExit status of status: 0 ready, 20 boot failed, 21 booting, 22 draining or stopped,\n"
               "23 not running (no status file, or the agent is gone mid-boot).\n");
}

static int load_config(Config *c, const char *path, bool explicit_path, char **sets, Error *err)
{
        int r = config_load_file(c, path, explicit_path, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *copy = xstrdup(path);
        _cleanup_free_ char *confd = xasprintf("%s/conf.d", dirname(copy));
        r = config_load_dir(c, confd, err);
        if (r < 0)
                return r;
        r = config_load_environ(c, environ, err);
        if (r < 0)
                return r;
        STRV_FOREACH (s, sets) {
                r = config_load_assignment(c, *s, err);
                if (r < 0)
                        return r;
        }
        return config_validate(c, false, err);
}

int main(int argc, char *argv[])
{
        enum { OPT_SET = 0x100, OPT_VERSION, OPT_ONESHOT, OPT_DIFF, OPT_WAIT, OPT_JSON };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },    { "set", required_argument, NULL, OPT_SET },
                { "oneshot", no_argument, NULL, OPT_ONESHOT }, { "diff", no_argument, NULL, OPT_DIFF },
                { "verbose", no_argument, NULL, 'v' },         { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION }, { "wait", no_argument, NULL, OPT_WAIT },
                { "json", no_argument, NULL, OPT_JSON },       {},
        };
        const char *config_path = DEFAULT_CONFIG_PATH;
        bool explicit_path = false, verbose = false, oneshot = false, diff = false, wait = false,
             json = false;
        _cleanup_strv_ char **sets = NULL;
        _cleanup_(config_freep) Config *c = NULL;
        Error err = { "" };
        int opt, status;

        /* Before anything holds a secret: no core dump of this process
         * (the watchdog's SIGABRT, abort() on out of memory) may hold the
         * password, the role's credentials or the IMDS token, and no
         * other process of our user may ptrace it or read its memory.
         * The unit's LimitCORE=0 says the same from outside. */
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
                fprintf(stderr, "kong-bootstrap: cannot make the process non-dumpable: %s\n",
                        strerror(errno));
                return EXIT_INTERNAL;
        }

        while ((opt = getopt_long(argc, argv, "c:vh", options, NULL)) >= 0) {
                switch (opt) {
                case 'c':
                        config_path = optarg;
                        explicit_path = true;
                        break;
                case OPT_SET: strv_push(&sets, xstrdup(optarg)); break;
                case OPT_ONESHOT: oneshot = true; break;
                case OPT_DIFF: diff = true; break;
                case OPT_WAIT: wait = true; break;
                case OPT_JSON: json = true; break;
                case 'v': verbose = true; break;
                case 'h': help(); return EXIT_OK;
                case OPT_VERSION: printf("kong-bootstrap %s\n", PACKAGE_VERSION); return EXIT_OK;
                default: fprintf(stderr, "Try 'kong-bootstrap --help'.\n"); return EXIT_USAGE;
                }
        }
        if (optind != argc - 1) {
                fprintf(stderr, "kong-bootstrap: expected one command (run, render, check, fleet or "
                                "status); try --help\n");
                return EXIT_USAGE;
        }
        const char *command = argv[optind];
        if (!streq(command, "run") && !streq(command, "render") && !streq(command, "check") &&
            !streq(command, "fleet") && !streq(command, "status")) {
                fprintf(stderr, "kong-bootstrap: unknown command '%s'; try --help\n", command);
                return EXIT_USAGE;
        }
        if (oneshot && !streq(command, "run")) {
                fprintf(stderr, "kong-bootstrap: --oneshot only applies to run\n");
                return EXIT_USAGE;
        }
        if (diff && !streq(command, "render")) {
                fprintf(stderr, "kong-bootstrap: --diff only applies to render\n");
                return EXIT_USAGE;
        }
        if (wait && !streq(command, "status")) {
                fprintf(stderr, "kong-bootstrap: --wait only applies to status\n");
                return EXIT_USAGE;
        }
        if (json && !streq(command, "status") && !streq(command, "fleet")) {
                fprintf(stderr, "kong-bootstrap: --json only applies to status and fleet\n");
                return EXIT_USAGE;
        }

        umask(0022); /* kong.conf is 0644 whatever umask we were given; the env file is created 0600 */
        log_setup(verbose);
        json_install_wiping_hooks();
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                fprintf(stderr, "kong-bootstrap: cannot initialise libcurl\n");
                return EXIT_INTERNAL;
        }

        usec_t started = now_usec();
        config_new(&c);
        if (load_config(c, config_path, explicit_path, sets, &err) < 0) {
                log_stage_failed(STAGE_CONFIG, started, EXIT_CONFIG, err.msg);
                status = EXIT_CONFIG;
                /* A run that cannot read its config still says so to
                 * `status` (at status_file as far as it was read), rather
                 * than leave a previous run's state there. */
                if (streq(command, "run")) {
                        Error e;
                        state_open(config_get(c, CONF_STATUS_FILE), started);
                        if (state_record(BOOT_STATE_FAILED, STAGE_CONFIG, EXIT_CONFIG, err.msg, &e) < 0)
                                log_warning(STAGE_CONFIG, "%s", e.msg);
                }
        } else if (streq(command, "status"))
                status = command_status(c, wait, json);
        else if (streq(command, "run")) {
                log_stage_done(STAGE_CONFIG, started, "configuration from %s", config_path);
                status = command_run(c, oneshot);
        } else if (streq(command, "render"))
                status = command_render(c, diff);
        else if (streq(command, "fleet"))
                status = command_fleet(c, json);
        else
                status = command_check(c, config_path);

        http_cleanup();
        curl_global_cleanup();
        return status;
}
