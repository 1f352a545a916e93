/* SPDX-License-Identifier: Apache-2.0 */
#include "fleet.h"

#include <stdio.h>
#include <unistd.h>

#include "build-config.h"
#include "kong.h"
#include "kongcli.h"
#include "log.h"
#include "notify.h"

#define FLEET_LIST_TIMEOUT     (30 * USEC_PER_SEC)
#define FLEET_VERSION_TIMEOUT  (30 * USEC_PER_SEC)
#define FLEET_DESCRIBE_TIMEOUT (20 * USEC_PER_SEC)
#define FLEET_CONNECT_TIMEOUT  (30 * USEC_PER_SEC)

struct FleetNode {
        PGconn *conn;
        char *kong_version;
        NodeState state;
        char *last_blockers;  /* the blockers last logged */
        char *invalid_groups; /* the invalid group names last reported */
        usec_t last_logged;
        bool waiting; /* STATUS= says finish is waiting */
        bool warned;  /* a failing tick was reported; said again only once it works */
        /* `list` runs only when Kong's pending migrations changed: what it
         * said about them last time. */
        char *listed_pending;
        int listed_state;
};

void fleet_node_free(FleetNode *f)
{
        if (!f)
                return;
        PQfinish(f->conn);
        free(f->kong_version);
        free(f->last_blockers);
        free(f->invalid_groups);
        free(f->listed_pending);
        free(f);
}

void fleet_blockers_free(FleetBlocker *l, size_t n)
{
        for (size_t i = 0; l && i < n; i++) {
                free(l[i].instance_id);
                free(l[i].kong_version);
                free(l[i].group);
                free(l[i].reason);
        }
        free(l);
}

/* ---- the decision ------------------------------------------------------- */

static bool is_fresh(const RegistryNode *n, double stale_after)
{
        return n->heartbeat_age >= 0 && n->heartbeat_age <= stale_after;
}

char *fleet_target_version(const RegistryNode *nodes, size_t n, const char *own, double stale_after)
{
        const char *best = own;
        for (size_t i = 0; i < n; i++)
                if (is_fresh(&nodes[i], stale_after) &&
                    (!best || kong_version_compare(nodes[i].kong_version, best) > 0))
                        best = nodes[i].kong_version;
        return best ? xstrdup(best) : NULL;
}

/* The group of the row's instance or, failing that, any described group
 * that lists it as InService or Pending*; NULL: none does. */
static const GroupInstance *listed(const FleetView *v, const char *id, const char *row_group,
                                   const char **ret_group)
{
        for (int pass = 0; pass < 2; pass++)
                for (size_t k = 0; v->groups && k < v->n_groups; k++) {
                        const ScalingGroup *g = &v->groups[k];
                        bool own = !isempty(row_group) && streq(g->name, row_group);
                        if (pass == 0 ? !own : own)
                                continue;
                        for (size_t i = 0; i < g->n_instances; i++)
                                if (streq(g->instances[i].instance_id, id) &&
                                    group_state_counts(g->instances[i].lifecycle_state)) {
                                        *ret_group = g->name;
                                        return &g->instances[i];
                                }
                }
        return NULL;
}

static const RegistryNode *registered(const FleetView *v, const char *id)
{
        for (size_t i = 0; i < v->n_nodes; i++)
                if (streq(v->nodes[i].instance_id, id))
                        return &v->nodes[i];
        return NULL;
}

static void push(FleetBlocker **l, size_t *n, const char *id, const char *version, const char *kind,
                 const char *group, char *reason)
{
        *l = xrealloc(*l, (*n + 1) * sizeof(FleetBlocker));
        (*l)[(*n)++] = (FleetBlocker){ xstrdup(id), version ? xstrdup(version) : NULL, kind, reason,
                                       isempty(group) ? NULL : xstrdup(group) };
}

static int blocker_cmp(const void *a, const void *b)
{
        return strcmp(((const FleetBlocker *)a)->instance_id, ((const FleetBlocker *)b)->instance_id);
}

static int name_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

void fleet_groups(const char *own, const RegistryNode *nodes, size_t n, char ***ret_valid,
                  char ***ret_invalid)
{
        char **valid = NULL, **invalid = NULL;
        size_t n_own = 0;

        if (!isempty(own)) {
                strv_push(autoscaling_group_name_valid(own) ? &valid : &invalid, xstrdup(own));
                n_own = strv_length(valid);
        }
        for (size_t i = 0; i < n; i++) {
                const char *g = nodes[i].group;
                if (isempty(g) || strv_contains(valid, g) || strv_contains(invalid, g))
                        continue;
                strv_push(autoscaling_group_name_valid(g) ? &valid : &invalid, xstrdup(g));
        }
        size_t n_valid = strv_length(valid);
        if (valid && n_valid > n_own + 1)
                qsort(valid + n_own, n_valid - n_own, sizeof(char *), name_cmp);
        *ret_valid = valid;
        *ret_invalid = invalid;
}

int fleet_own_group_check(const char *own, const ScalingGroup *groups, size_t n_groups, Error *err)
{
        if (isempty(own))
                return 0;
        if (!autoscaling_group_name_valid(own)) {
                _cleanup_free_ char *shown = sanitize_for_log(own, 80);
                return error_set(err, -EINVAL,
                                 "this node's Auto Scaling group '%s' is not a valid group name (1-255 "
                                 "characters, no control character)",
                                 shown);
        }
        for (size_t k = 0; groups && k < n_groups; k++)
                if (streq(groups[k].name, own))
                        return groups[k].exists
                                       ? 0
                                       : error_set(
                                                 err, -ENOENT,
                                                 "DescribeAutoScalingGroups: AWS has no Auto Scaling group "
                                                 "'%s' (this node's) in this account and region",
                                                 own);
        return error_set(err, -ENOENT, "this node's Auto Scaling group '%s' was not described", own);
}

void fleet_blockers(const FleetView *v, FleetBlocker **ret, size_t *ret_n)
{
        FleetBlocker *l = NULL;
        size_t n = 0;

        for (size_t i = 0; i < v->n_nodes; i++) {
                const RegistryNode *r = &v->nodes[i];
                if (kong_version_compare(r->kong_version, v->target_version) >= 0)
                        continue;
                const char *group = NULL;
                const GroupInstance *g = listed(v, r->instance_id, r->group, &group);
                if (is_fresh(r, v->stale_after))
                        push(&l, &n, r->instance_id, r->kong_version, "older", group ?: r->group,
                             xasprintf("Kong %s is older than %s (%s, heartbeat %.0f s ago%s%s)",
                                       r->kong_version, v->target_version, node_state_name(r->state),
                                       r->heartbeat_age, isempty(group ?: r->group) ? "" : ", group ",
                                       group ?: r->group ?: ""));
                else if (g)
                        push(&l, &n, r->instance_id, r->kong_version, "stale-listed", group,
                             xasprintf(
                                     "Kong %s is older than %s; its heartbeat is stale (%.0f s ago) but the "
                                     "group %s still lists it %s",
                                     r->kong_version, v->target_version, r->heartbeat_age, group,
                                     g->lifecycle_state));
        }
        for (size_t k = 0; v->groups && k < v->n_groups; k++)
                for (size_t i = 0; i < v->groups[k].n_instances; i++) {
                        const GroupInstance *g = &v->groups[k].instances[i];
                        bool seen = false; /* listed by an earlier group too: once */
                        for (size_t j = 0; j < n && !seen; j++)
                                seen = streq(l[j].instance_id, g->instance_id);
                        if (seen || !group_state_counts(g->lifecycle_state) || registered(v, g->instance_id))
                                continue;
                        push(&l, &n, g->instance_id, NULL, "unregistered", v->groups[k].name,
                             xasprintf("the group %s lists it %s but it never registered (no kong-bootstrap "
                                       "with migrations_finish = after-rollout on it?)",
                                       v->groups[k].name, g->lifecycle_state));
                }
        if (n > 1)
                qsort(l, n, sizeof(FleetBlocker), blocker_cmp);
        *ret = l;
        *ret_n = n;
}

char *fleet_blockers_status(const FleetBlocker *l, size_t n)
{
        _cleanup_buf_ Buf b = { 0 };
        size_t unregistered = 0;
        _cleanup_strv_ char **versions = NULL;

        for (size_t i = 0; i < n; i++) {
                if (!l[i].kong_version)
                        unregistered++;
                else if (!strv_contains(versions, l[i].kong_version))
                        strv_push(&versions, xstrdup(l[i].kong_version));
        }
        buf_printf(&b, "finish waiting for");
        size_t parts = 0;
        STRV_FOREACH (v, versions) {
                size_t count = 0;
                for (size_t i = 0; i < n; i++)
                        count += l[i].kong_version && streq(l[i].kong_version, *v);
                buf_printf(&b, "%s %zu node%s of Kong %s", parts++ ? "," : "", count, count == 1 ? "" : "s",
                           *v);
        }
        if (unregistered)
                buf_printf(&b, "%s %zu unregistered instance%s", parts ? "," : "", unregistered,
                           unregistered == 1 ? "" : "s");
        return xstrndup(b.data, b.len);
}

char *fleet_blockers_key(const FleetBlocker *l, size_t n)
{
        _cleanup_buf_ Buf b = { 0 };
        for (size_t i = 0; i < n; i++)
                buf_printf(&b, "%s/%s/%s/%s\n", l[i].instance_id, l[i].kong_version ?: "-", l[i].kind,
                           l[i].group ?: "-");
        return xstrndup(b.data ?: "", b.len);
}

char *fleet_blockers_describe(const FleetBlocker *l, size_t n)
{
        _cleanup_buf_ Buf b = { 0 };
        for (size_t i = 0; i < n; i++)
                buf_printf(&b, "%s%s: %s", i ? "; " : "", l[i].instance_id, l[i].reason);
        return xstrndup(b.data ?: "", b.len);
}

/* ---- the node ----------------------------------------------------------- */

bool fleet_enabled(const Boot *b)
{
        return b->fleet != NULL;
}

usec_t fleet_interval(const Boot *b)
{
        return config_get_seconds(b->config, CONF_FLEET_HEARTBEAT_INTERVAL);
}

static double stale_after(const Boot *b)
{
        return (double)(REGISTRY_STALE_INTERVALS * fleet_interval(b)) / (double)USEC_PER_SEC;
}

static RegistryNode self_row(const Boot *b, int schema_state)
{
        return (RegistryNode){
                .instance_id = b->instance.instance_id,
                .group = b->group,
                .zone = b->instance.availability_zone,
                .kong_version = b->fleet->kong_version,
                .agent_version = (char *)PACKAGE_VERSION,
                .state = b->fleet->state,
                .schema_state = schema_state,
        };
}

/* 'timeout' 0: one attempt (the drain's best-effort updates: a row not
 * updated goes stale on its own). */
static int fleet_connect(Boot *b, usec_t timeout, Error *err)
{
        FleetNode *f = b->fleet;
        if (f->conn && PQstatus(f->conn) == CONNECTION_OK)
                return 0;
        PQfinish(f->conn);
        f->conn = NULL;
        int r = db_wait(&b->db, timeout, &f->conn, NULL, err);
        if (r < 0)
                error_prefix(err, "fleet registry");
        return r;
}

/* Any failure of the connection, or a statement left in flight by an
 * interrupted wait: the next use reconnects. */
static int on_failure(Boot *b, int r)
{
        if (r == -ENOTCONN || r == -ENOLCK || r == -ECANCELED) {
                PQfinish(b->fleet->conn);
                b->fleet->conn = NULL;
        }
        return r;
}

int fleet_boot_register(Boot *b, Error *err)
{
        const Config *c = b->config;
        usec_t started = now_usec();
        int r;

        if (!streq(config_get(c, CONF_MIGRATIONS_FINISH), "after-rollout"))
                return 0;
        notify_status("fleet registry: registering");
        b->fleet = xcalloc(1, sizeof(FleetNode));
        b->fleet->state = NODE_BOOTING;
        r = kongcli_version(config_get(c, CONF_KONG_BIN), FLEET_VERSION_TIMEOUT, &b->fleet->kong_version,
                            err);
        if (r < 0)
                return r;
        r = fleet_connect(b, FLEET_CONNECT_TIMEOUT, err);
        if (r < 0)
                return r;
        r = registry_setup(b->fleet->conn, &b->db, config_get_seconds(c, CONF_MIGRATIONS_WAIT_TIMEOUT), err);
        if (r < 0) {
                if (r == -EACCES)
                        error_prefix(err, "migrations_finish from %s",
                                     config_source(c, CONF_MIGRATIONS_FINISH));
                return on_failure(b, r);
        }
        if (r == REGISTRY_CREATED)
                log_info(STAGE_FLEET, "created the fleet registry's schema " REGISTRY_SCHEMA " (version %d)",
                         REGISTRY_VERSION);

        _cleanup_free_ char *newest = NULL;
        r = registry_newest_finish_version(b->fleet->conn, &newest, err);
        if (r < 0)
                return on_failure(b, r);
        if (newest && kong_version_compare(b->fleet->kong_version, newest) < 0) {
                RegistryFinish last = { 0 };
                bool have_last = registry_last_finish(b->fleet->conn, &last, err) >= 0;
                log_msg_id(
                        LOG_ERR, STAGE_FLEET, MESSAGE_ID_KONG_OLDER_THAN_SCHEMA,
                        "this node's Kong %s is older than the schema: Kong %s ran 'kong migrations finish' "
                        "(%s%s%s); an older Kong's 'list' and 'start' do not notice and it fails at run "
                        "time, so Kong is not started on it",
                        b->fleet->kong_version, newest, have_last ? "last on " : "",
                        have_last ? last.instance_id : "", have_last ? last.finished_at : "");
                registry_finish_done(&last);
                return error_set(
                        err, -EPROTO,
                        "Kong %s (%s) is older than the schema, which Kong %s has finished: boot this "
                        "instance from an image with Kong %s or newer",
                        b->fleet->kong_version, config_get(c, CONF_KONG_BIN), newest, newest);
        }
        RegistryNode row = self_row(b, -1);
        r = registry_upsert(b->fleet->conn, &row, err);
        if (r < 0)
                return on_failure(b, r);
        log_stage_done(STAGE_FLEET, started,
                       "registered in the fleet registry: instance %s, Kong %s, booting",
                       b->instance.instance_id, b->fleet->kong_version);
        return 0;
}

int fleet_boot_ready(Boot *b, Error *err)
{
        if (!b->fleet)
                return 0;
        b->fleet->state = NODE_READY;
        int r = fleet_connect(b, FLEET_CONNECT_TIMEOUT, err);
        if (r < 0)
                return r;
        RegistryNode row = self_row(b, -1);
        r = registry_upsert(b->fleet->conn, &row, err);
        if (r < 0)
                return on_failure(b, r);
        log_info(STAGE_FLEET, "registered as ready (heartbeat every %llu s)",
                 (unsigned long long)(fleet_interval(b) / USEC_PER_SEC));
        return 0;
}

/* `kong migrations list -c <staging copy>`, quietly; its exit status. */
static int schema_list(Boot *b, char **ret_output, Error *err)
{
        int r = boot_write_migrations_conf(b, err);
        if (r < 0)
                return r;
        const char *args[] = { "migrations", "list", "-c", b->migrations_conf, NULL };
        int status = -1;
        r = kongcli_run(config_get(b->config, CONF_KONG_BIN), args, &b->db, FLEET_LIST_TIMEOUT, &status,
                        ret_output, err);
        if (r < 0)
                return r;
        if (status == KONG_SCHEMA_ERROR) {
                _cleanup_free_ char *shown =
                        sanitize_for_log(ret_output && *ret_output ? strip(*ret_output) : "", 400);
                return error_set(err, -EIO, "'kong migrations list' failed: %s", shown);
        }
        return status;
}

/* The groups 'names' as AWS describes them (one call for up to 50). */
static int describe_groups(Boot *b, char *const *names, ScalingGroup **ret, Error *err)
{
        _cleanup_free_ char *url = config_is_set(b->config, CONF_AUTOSCALING_ENDPOINT)
                                           ? xstrdup(config_get(b->config, CONF_AUTOSCALING_ENDPOINT))
                                           : xasprintf("https://autoscaling.%s.amazonaws.com", b->region);
        int r = boot_refresh_credentials(b, false, err);
        if (r < 0)
                return r;
        AwsEndpoint ep = { url, b->region, &b->credentials, FLEET_DESCRIBE_TIMEOUT };
        return autoscaling_describe_groups(&ep, names, strv_length(names), ret, err);
}

/* Group names a row (or this node's configuration) holds that AWS could
 * not have given a group: never sent; said once per change. */
static void report_invalid_groups(Boot *b, char *const *invalid)
{
        FleetNode *f = b->fleet;
        _cleanup_free_ char *joined = strv_join(invalid, "\n");
        if (streq(joined, f->invalid_groups ?: ""))
                return;
        free_and_strdup(&f->invalid_groups, joined);
        if (!invalid)
                return;
        _cleanup_buf_ Buf names = { 0 };
        for (size_t i = 0; invalid[i]; i++) {
                _cleanup_free_ char *shown = sanitize_for_log(invalid[i], 80);
                buf_printf(&names, "%s'%s'", i ? ", " : "", shown);
        }
        log_warning(STAGE_FLEET,
                    "not describing %s: not a valid Auto Scaling group name (1-255 characters, no control "
                    "character); the registry rows naming it count as if their group listed nothing",
                    names.data);
}

/* The blockers as things stand: registry and groups read afresh. */
static int current_blockers(Boot *b, FleetBlocker **ret, size_t *ret_n, char **ret_target, Error *err)
{
        RegistryNode *nodes = NULL;
        size_t n = 0;
        ScalingGroup *groups = NULL;
        _cleanup_strv_ char **names = NULL, **invalid = NULL;
        int r = registry_list(b->fleet->conn, &nodes, &n, err);
        if (r < 0)
                return r;
        fleet_groups(b->group, nodes, n, &names, &invalid);
        report_invalid_groups(b, invalid);
        if (names) {
                r = describe_groups(b, names, &groups, err);
                if (r < 0) {
                        registry_nodes_free(nodes, n);
                        return r;
                }
        }
        r = fleet_own_group_check(b->group, groups, strv_length(names), err);
        if (r < 0) {
                registry_nodes_free(nodes, n);
                scaling_groups_free(groups, strv_length(names));
                return r;
        }
        char *target = fleet_target_version(nodes, n, b->fleet->kong_version, stale_after(b));
        FleetView v = { target, nodes, n, groups, strv_length(names), stale_after(b) };
        fleet_blockers(&v, ret, ret_n);
        *ret_target = target;
        registry_nodes_free(nodes, n);
        scaling_groups_free(groups, strv_length(names));
        return 0;
}

/* Says what blocks finish: STATUS= every time, the journal when it changed
 * (and at most once per interval). */
static void report_blockers(Boot *b, const FleetBlocker *l, size_t n)
{
        FleetNode *f = b->fleet;
        _cleanup_free_ char *status = fleet_blockers_status(l, n);
        _cleanup_free_ char *text = fleet_blockers_describe(l, n), *key = fleet_blockers_key(l, n);
        usec_t now = now_usec();

        notify_status("Kong ready; %s", status);
        f->waiting = true;
        if (f->last_blockers && streq(f->last_blockers, key))
                return;
        if (f->last_logged && now - f->last_logged < fleet_interval(b))
                return;
        log_msg_id(LOG_NOTICE, STAGE_FLEET, MESSAGE_ID_FINISH_WAITING,
                   "the schema has pending migrations; 'kong migrations finish' waits for %zu node%s: %s", n,
                   n == 1 ? "" : "s", text);
        free_and_strdup(&f->last_blockers, key);
        f->last_logged = now;
}

static void stop_waiting(Boot *b)
{
        FleetNode *f = b->fleet;
        if (f->waiting)
                notify_status("Kong ready");
        f->waiting = false;
        free(f->last_blockers);
        f->last_blockers = NULL;
}

/* Holding the lock: everything once more, then finish, list, record. */
static int finish_locked(Boot *b, usec_t started, Error *err)
{
        const Config *c = b->config;
        _cleanup_free_ char *output = NULL, *target = NULL;
        FleetBlocker *l = NULL;
        size_t n = 0;

        int state = schema_list(b, &output, err);
        if (state < 0)
                return state;
        if (state != KONG_SCHEMA_PENDING) {
                log_info(STAGE_FLEET,
                         "the schema has no pending migrations any more (another node finished)");
                return 0;
        }
        int r = current_blockers(b, &l, &n, &target, err);
        if (r < 0)
                return r;
        if (n > 0) {
                report_blockers(b, l, n);
                fleet_blockers_free(l, n);
                return 0;
        }
        if (kong_version_compare(b->fleet->kong_version, target) < 0) {
                log_info(STAGE_FLEET, "a node with Kong %s is there: it finishes, not this one (Kong %s)",
                         target, b->fleet->kong_version);
                return 0;
        }
        _cleanup_free_ char *pending = kong_list_pending(output);
        log_notice(STAGE_FLEET, "every node runs Kong %s or newer: running 'kong migrations finish' (%s)",
                   target, pending ?: "pending migrations");
        notify_status("Kong ready; kong migrations finish");
        usec_t timeout = config_get_seconds(c, CONF_MIGRATIONS_TIMEOUT), now = now_usec();
        _cleanup_free_ char *deadline_text =
                xasprintf("migrations_timeout, from %s", config_source(c, CONF_MIGRATIONS_TIMEOUT));
        KongWatch watch = {
                .lock_conn = b->fleet->conn,
                .started = now,
                .deadline = now + timeout,
                .deadline_key = "migrations_timeout",
                .deadline_text = deadline_text,
        };
        const char *args[] = { "migrations", "finish", "-c", b->migrations_conf, NULL };
        int status = -1;
        r = kong_run(config_get(c, CONF_KONG_BIN), args, &b->db, &watch, &status, err);
        if (r < 0)
                return r;
        if (status != 0)
                return error_set(err, -EIO, "'kong migrations finish' failed (exit %d); its output is above",
                                 status);
        free(output);
        output = NULL;
        state = schema_list(b, &output, err);
        if (state < 0)
                return state;
        if (state == KONG_SCHEMA_PENDING)
                return error_set(
                        err, -EIO,
                        "'kong migrations finish' exited 0 but 'list' still shows pending migrations");
        RegistryFinish rec = { b->instance.instance_id, b->fleet->kong_version, pending ?: "", NULL };
        r = registry_record_finish(b->fleet->conn, &rec, err);
        if (r < 0)
                return r;
        log_stage_done(STAGE_FLEET, started,
                       "kong migrations finish done by this node (instance %s, Kong %s): %s; schema %s",
                       b->instance.instance_id, b->fleet->kong_version, pending ?: "pending migrations",
                       kong_schema_state_describe(state));
        stop_waiting(b);
        notify_status("Kong ready; schema finished by this node");
        return 0;
}

static int try_finish(Boot *b, Error *err)
{
        usec_t started = now_usec();
        bool got = false;
        int r = db_migration_try_lock(b->fleet->conn, &b->db, &got, err);
        if (r < 0)
                return r;
        if (!got) {
                log_info(STAGE_FLEET, "the fleet is done; another node holds the migration lock");
                return 0;
        }
        r = finish_locked(b, started, err);
        Error drain_err;
        if (r != -ENOLCK && r != -ENOTCONN && db_drain(b->fleet->conn, 10 * USEC_PER_SEC, &drain_err) >= 0) {
                Error unlock_err;
                if (db_migration_unlock(b->fleet->conn, &b->db, DB_LOCK_EXCLUSIVE, &unlock_err) < 0)
                        log_warning(STAGE_FLEET, "cannot release the migration lock: %s", unlock_err.msg);
        }
        return r;
}

/* The schema's state for this node: no pending migrations in Kong's
 * schema_meta means nothing to finish (no `list`); pending ones are
 * judged by this node's `kong migrations list`, run again only when they
 * changed. */
static int schema_state(Boot *b, Error *err)
{
        FleetNode *f = b->fleet;
        _cleanup_free_ char *pending = NULL, *output = NULL;
        int r = registry_kong_pending(f->conn, b->db.schema, &pending, err);
        if (r < 0)
                return r;
        if (!pending) {
                free(f->listed_pending);
                f->listed_pending = NULL;
                return KONG_SCHEMA_UP_TO_DATE;
        }
        if (f->listed_pending && streq(f->listed_pending, pending))
                return f->listed_state;
        int state = schema_list(b, &output, err);
        if (b->migrations_conf)
                (void)unlink(b->migrations_conf);
        if (state < 0)
                return state;
        free_and_strdup(&f->listed_pending, pending);
        f->listed_state = state;
        log_info(STAGE_FLEET,
                 "Kong's schema has pending migrations (%s); this node's 'kong migrations list': %s",
                 pending, kong_schema_state_describe(state));
        return state;
}

static int tick(Boot *b, Error *err)
{
        _cleanup_free_ char *target = NULL;
        FleetBlocker *l = NULL;
        size_t n = 0;

        int r = fleet_connect(b, FLEET_CONNECT_TIMEOUT, err);
        if (r < 0)
                return r;
        int state = schema_state(b, err);
        if (state < 0) {
                if (state != -ENOTCONN && state != -ECANCELED) {
                        RegistryNode row = self_row(b, -1);
                        Error ignored;
                        (void)registry_upsert(b->fleet->conn, &row, &ignored); /* still alive */
                }
                return state;
        }
        RegistryNode row = self_row(b, state);
        r = registry_upsert(b->fleet->conn, &row, err);
        if (r < 0)
                return r;
        if (state != KONG_SCHEMA_PENDING) {
                stop_waiting(b);
                return 0;
        }
        r = current_blockers(b, &l, &n, &target, err);
        if (r < 0)
                return r;
        if (n > 0) {
                report_blockers(b, l, n);
                fleet_blockers_free(l, n);
                return 0;
        }
        if (kong_version_compare(b->fleet->kong_version, target) < 0)
                return 0; /* a newer node finishes */
        r = try_finish(b, err);
        if (b->migrations_conf)
                (void)unlink(b->migrations_conf);
        return r;
}

void fleet_tick(Boot *b)
{
        Error err = { "" };
        if (!b->fleet)
                return;
        int r = tick(b, &err);
        if (r == -ECANCELED) {
                /* cut short by a termination notice or SIGTERM (retry.h):
                 * no failure; the daemon drains next */
                on_failure(b, r);
                log_notice(STAGE_FLEET, "fleet registry: %s", err.msg);
        } else if (r < 0) {
                on_failure(b, r);
                if (!b->fleet->warned)
                        log_warning(STAGE_FLEET, "fleet registry: %s; trying again in %llu s", err.msg,
                                    (unsigned long long)(fleet_interval(b) / USEC_PER_SEC));
                b->fleet->warned = true;
        } else if (b->fleet->warned) {
                log_info(STAGE_FLEET, "fleet registry: working again");
                b->fleet->warned = false;
        }
}

void fleet_draining(Boot *b)
{
        Error err;
        if (!b->fleet)
                return;
        b->fleet->state = NODE_DRAINING;
        RegistryNode row = self_row(b, -1);
        int r = fleet_connect(b, 0, &err);
        if (r >= 0)
                r = registry_upsert(b->fleet->conn, &row, &err);
        if (r < 0) {
                on_failure(b, r);
                log_warning(STAGE_FLEET, "cannot mark this node draining in the fleet registry: %s",
                            err.msg);
        }
}

void fleet_leave(Boot *b)
{
        Error err;
        if (!b->fleet)
                return;
        /* No connection left: the drain's update found the database gone
         * (and said so); a second wait for it would only delay the exit. */
        int r = b->fleet->conn ? fleet_connect(b, 0, &err)
                               : error_set(&err, -ENOTCONN, "the database did not answer during the drain");
        if (r >= 0)
                r = registry_delete(b->fleet->conn, b->instance.instance_id, &err);
        if (r < 0) {
                log_warning(
                        STAGE_FLEET,
                        "cannot remove this node from the fleet registry (%s); its row goes stale in %llu s",
                        err.msg,
                        (unsigned long long)(REGISTRY_STALE_INTERVALS * fleet_interval(b) / USEC_PER_SEC));
                return;
        }
        log_info(STAGE_FLEET, "removed this node (%s) from the fleet registry", b->instance.instance_id);
}
