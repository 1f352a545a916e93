/* SPDX-License-Identifier: Apache-2.0 */
#include "http.h"
#include "retry.h"
#include "test.h"

static void test_backoff_bounds(void)
{
        Backoff b;
        backoff_init(&b, 60 * USEC_PER_SEC, 100 * USEC_PER_MSEC, 2 * USEC_PER_SEC);
        for (unsigned attempt = 0; attempt < 12; attempt++) {
                b.attempt = attempt;
                usec_t ceiling = 100 * USEC_PER_MSEC << (attempt < 5 ? attempt : 5);
                if (ceiling > 2 * USEC_PER_SEC)
                        ceiling = 2 * USEC_PER_SEC;
                for (int i = 0; i < 200; i++) {
                        usec_t d = backoff_delay(&b);
                        CHECK(d >= 1 && d <= ceiling);
                }
        }
        /* A deadline in the past: no sleep, no more attempts. */
        backoff_init(&b, 0, 100 * USEC_PER_MSEC, 2 * USEC_PER_SEC);
        CHECK(!backoff_wait(&b));
        CHECK(http_status_is_retryable(503) && http_status_is_retryable(429) &&
              !http_status_is_retryable(403) && !http_status_is_retryable(404));
}

static uint64_t top_of_range(uint64_t n)
{
        return n - 1;
}

static uint64_t bottom_of_range(uint64_t n)
{
        return 0;
}

static void test_backoff_schedule_deterministic(void)
{
        Backoff b;
        backoff_init(&b, 60 * USEC_PER_SEC, 100 * USEC_PER_MSEC, 1 * USEC_PER_SEC);
        b.random = top_of_range;
        const usec_t expected[] = { 100, 200, 400, 800, 1000, 1000, 1000 };
        for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
                b.attempt = (unsigned)i;
                CHECK(backoff_delay(&b) == expected[i] * USEC_PER_MSEC);
        }
        b.random = bottom_of_range;
        b.attempt = 3;
        CHECK(backoff_delay(&b) == 1); /* full jitter: may retry at once */
}

typedef struct Asked {
        unsigned calls;
        unsigned answer_true_from; /* the call from which the hook says "stop" */
        bool nested_was_false;
} Asked;

static bool count_and_answer(void *userdata)
{
        Asked *a = userdata;
        a->calls++;
        /* asked again from inside itself (its own waits): never recursed */
        a->nested_was_false = !retry_interrupted();
        return a->calls >= a->answer_true_from;
}

static void test_interrupt_hook(void)
{
        Backoff b;

        CHECK(!retry_interrupted()); /* no hook */

        /* A 3 s sleep is cut into 1 s slices, the hook asked before each;
         * when it says stop, backoff_wait() gives up at once. */
        Asked a = { .answer_true_from = 2 };
        retry_set_interrupt(count_and_answer, &a);
        backoff_init(&b, 60 * USEC_PER_SEC, 3 * USEC_PER_SEC, 3 * USEC_PER_SEC);
        b.random = top_of_range;
        usec_t started = now_usec();
        CHECK(!backoff_wait(&b));
        usec_t took = now_usec() - started;
        CHECK(a.calls == 2);
        CHECK(a.nested_was_false);
        CHECK(took >= RETRY_POLL_INTERVAL && took < 2 * RETRY_POLL_INTERVAL);

        /* A hook that never says stop: the whole delay, asked every slice. */
        a = (Asked){ .answer_true_from = 1000 };
        backoff_init(&b, 60 * USEC_PER_SEC, 2500 * USEC_PER_MSEC, 2500 * USEC_PER_MSEC);
        b.random = top_of_range;
        CHECK(backoff_wait(&b));
        CHECK(a.calls == 4); /* before 1 s, 1 s, 0.5 s, and after */

        retry_set_interrupt(NULL, NULL);
        CHECK(!retry_interrupted());
}

int main(void)
{
        RUN(test_interrupt_hook);
        RUN(test_backoff_schedule_deterministic);
        RUN(test_backoff_bounds);
        return TEST_EXIT();
}
