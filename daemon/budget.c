/* budget: the daemon-wide ceiling on message memory (see budget.h). */
#include <event2/event.h>

#include "budget.h"

static uint64_t budget_bytes;
static uint64_t budget_ceiling = UINT64_MAX;
static int budget_full;                 /* reached; not back to 7/8 yet */
static struct event *budget_relief_ev;
static void (*budget_relief)(void *);
static void *budget_relief_arg;

static void
budget_relieved(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (!budget_full && budget_relief != NULL)
		budget_relief(budget_relief_arg);
}

int
budget_init(struct event_base *base, void (*relief)(void *), void *arg)
{
	budget_free();
	budget_relief = relief;
	budget_relief_arg = arg;
	budget_relief_ev = event_new(base, -1, 0, budget_relieved, NULL);
	return budget_relief_ev != NULL ? 0 : -1;
}

void
budget_free(void)
{
	if (budget_relief_ev != NULL)
		event_free(budget_relief_ev);
	budget_relief_ev = NULL;
	budget_relief = NULL;
}

static void
budget_check(void)
{
	if (!budget_full && budget_bytes >= budget_ceiling)
		budget_full = 1;
	else if (budget_full && budget_bytes <= budget_ceiling / 8 * 7) {
		budget_full = 0;
		if (budget_relief_ev != NULL)
			event_active(budget_relief_ev, EV_TIMEOUT, 0);
	}
}

void
budget_set_max(uint64_t max)
{
	budget_ceiling = max == 0 ? UINT64_MAX : max;
	budget_check();
	/* A higher ceiling may relieve at once. */
	if (!budget_full && budget_relief_ev != NULL)
		event_active(budget_relief_ev, EV_TIMEOUT, 0);
}

void
budget_add(size_t n)
{
	budget_bytes += n;
	if (!budget_full && budget_bytes >= budget_ceiling)
		budget_full = 1;
}

void
budget_sub(size_t n)
{
	budget_bytes = n > budget_bytes ? 0 : budget_bytes - n;
	if (budget_full)
		budget_check();
}

uint64_t
budget_used(void)
{
	return budget_bytes;
}

uint64_t
budget_max(void)
{
	return budget_ceiling;
}

int
budget_over(void)
{
	return budget_full;
}
