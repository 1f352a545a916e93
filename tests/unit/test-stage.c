/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "stage.h"
#include "test.h"
#include "util.h"

static void test_exit_status_per_stage(void)
{
        CHECK(stage_exit_status(STAGE_CONFIG) == 10);
        CHECK(stage_exit_status(STAGE_IMDS) == 11);
        CHECK(stage_exit_status(STAGE_SECRETS) == 12);
        CHECK(stage_exit_status(STAGE_DATABASE) == 13);
        CHECK(stage_exit_status(STAGE_MIGRATIONS) == 14);
        CHECK(stage_exit_status(STAGE_RENDER) == 15);
        CHECK(stage_exit_status(STAGE_START) == 16);
        CHECK(stage_exit_status(STAGE_READY) == 17);
        CHECK(stage_exit_status(STAGE_LIFECYCLE) == 18);
        CHECK(stage_exit_status(STAGE_BOOT) == EXIT_INTERNAL);
        /* All distinct among the stages a boot can fail at. */
        for (int a = STAGE_CONFIG; a <= STAGE_LIFECYCLE; a++)
                for (int b = a + 1; b <= STAGE_LIFECYCLE; b++)
                        CHECK(stage_exit_status((Stage)a) != stage_exit_status((Stage)b));
}

static void test_names_and_message_ids(void)
{
        for (Stage s = 0; s < _STAGE_MAX; s++) {
                CHECK(!isempty(stage_name(s)));
                const char *id = stage_message_id(s);
                CHECK(id && strlen(id) == 32 && strspn(id, "0123456789abcdef") == 32);
                CHECK(!streq(id, MESSAGE_ID_BOOT_FAILED));
                for (Stage t = s + 1; t < _STAGE_MAX; t++) {
                        CHECK(!streq(stage_name(s), stage_name(t)));
                        CHECK(!streq(id, stage_message_id(t)));
                }
        }
        CHECK_STREQ(stage_name(_STAGE_MAX), "?");
}

/* --help derives its exit statuses from the table: each one, once. */
static void test_help_lists_every_exit_status(void)
{
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        CHECK(f);
        stage_print_exit_statuses(f);
        CHECK(fclose(f) == 0);
        const int always[] = { EXIT_OK, EXIT_INTERNAL, EXIT_USAGE };
        for (size_t i = 0; i < ELEMENTSOF(always); i++) {
                char want[16];
                snprintf(want, sizeof(want), " %d ", always[i]);
                CHECK_CONTAINS(text, want);
        }
        for (Stage s = 0; s < _STAGE_MAX; s++) {
                if (stage_exit_status(s) == EXIT_INTERNAL)
                        continue;
                char want[16];
                snprintf(want, sizeof(want), " %d ", stage_exit_status(s));
                CHECK_CONTAINS(text, want);
                CHECK(strstr(strstr(text, want) + 1, want) == NULL);
        }
        CHECK_CONTAINS(text, " 18 lifecycle hook");
        free(text);
}

int main(void)
{
        RUN(test_exit_status_per_stage);
        RUN(test_names_and_message_ids);
        RUN(test_help_lists_every_exit_status);
        return TEST_EXIT();
}
