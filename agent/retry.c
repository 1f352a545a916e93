/* SPDX-License-Identifier: Apache-2.0 */
#include "retry.h"

#include "notify.h"

void backoff_init(Backoff *b, usec_t timeout, usec_t base, usec_t cap)
{
        *b = (Backoff){ .deadline = now_usec() + timeout, .base = base, .cap = cap, .random = random_below };
}

usec_t backoff_delay(const Backoff *b)
{
        usec_t ceiling = b->base;
        for (unsigned i = 0; i < b->attempt && ceiling < b->cap; i++)
                ceiling *= 2;
        if (ceiling > b->cap)
                ceiling = b->cap;
        return b->random(ceiling) + 1;
}

bool backoff_wait(Backoff *b)
{
        usec_t now = now_usec();
        if (now >= b->deadline)
                return false;
        usec_t d = backoff_delay(b);
        if (now + d > b->deadline)
                d = b->deadline - now;
        b->attempt++;
        retry_waiting(d + 30 * USEC_PER_SEC);
        for (;;) {
                if (retry_interrupted())
                        return false;
                if (d == 0)
                        return true;
                usec_t slice = d < RETRY_POLL_INTERVAL ? d : RETRY_POLL_INTERVAL;
                sleep_usec(slice);
                d -= slice;
        }
}

static KeepaliveFn keepalive;
static void *keepalive_userdata;

void retry_set_keepalive(KeepaliveFn fn, void *userdata)
{
        keepalive = fn;
        keepalive_userdata = userdata;
}

void retry_waiting(usec_t usec)
{
        notify_extend_timeout(usec);
        if (keepalive)
                keepalive(keepalive_userdata);
}

static InterruptFn interrupt;
static void *interrupt_userdata;
static bool interrupt_running;

void retry_set_interrupt(InterruptFn fn, void *userdata)
{
        interrupt = fn;
        interrupt_userdata = userdata;
}

bool retry_interrupted(void)
{
        if (!interrupt || interrupt_running)
                return false;
        interrupt_running = true;
        bool r = interrupt(interrupt_userdata);
        interrupt_running = false;
        return r;
}
