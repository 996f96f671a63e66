#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "ag.h"

struct impl {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool set;
};

int ag_event_init(struct ag_event *ev)
{
	struct impl *m = calloc(1, sizeof(*m));
	if (!m)
		return AG_ENOMEM;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&m->mu, NULL);
	ev->impl = m;
	return 0;
}

void ag_event_cleanup(struct ag_event *ev)
{
	struct impl *m = ev->impl;
	if (!m)
		return;
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	free(m);
	ev->impl = NULL;
}

void ag_event_set(struct ag_event *ev)
{
	struct impl *m = ev->impl;
	pthread_mutex_lock(&m->mu);
	m->set = true;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

void ag_event_clear(struct ag_event *ev)
{
	struct impl *m = ev->impl;
	pthread_mutex_lock(&m->mu);
	m->set = false;
	pthread_mutex_unlock(&m->mu);
}

bool ag_event_is_set(struct ag_event *ev)
{
	struct impl *m = ev->impl;
	pthread_mutex_lock(&m->mu);
	bool s = m->set;
	pthread_mutex_unlock(&m->mu);
	return s;
}

bool ag_event_wait_ms(struct ag_event *ev, uint64_t ms)
{
	struct impl *m = ev->impl;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t ns = (uint64_t)ts.tv_nsec + (ms % 1000) * 1000000u;
	ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000u);
	ts.tv_nsec = (long)(ns % 1000000000u);
	pthread_mutex_lock(&m->mu);
	while (!m->set) {
		int rc = pthread_cond_timedwait(&m->cv, &m->mu, &ts);
		if (rc == ETIMEDOUT)
			break;
	}
	bool s = m->set;
	pthread_mutex_unlock(&m->mu);
	return s;
}
