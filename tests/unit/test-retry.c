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

int main(void)
{
        RUN(test_backoff_schedule_deterministic);
        RUN(test_backoff_bounds);
        return TEST_EXIT();
}
