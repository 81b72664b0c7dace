/* msg: reference-counted payloads (see msg.h). */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "budget.h"
#include "msg.h"

/* Below this a copy is cheaper than a reference chain. */
#define MSG_COPY_MAX 2048

struct msg *
msg_new(size_t len)
{
	struct msg *m = malloc(sizeof(*m) + len);

	if (m == NULL)
		return NULL;
	memset(m, 0, sizeof(*m));
	m->refs = 1;
	m->len = len;
	m->data = (uint8_t *)(m + 1);
	budget_add(msg_footprint(m));
	return m;
}

struct msg *
msg_new_copy(const void *data, size_t len)
{
	struct msg *m = msg_new(len);

	if (m != NULL && len > 0)
		memcpy(m->data, data, len);
	return m;
}

struct msg *
msg_ref(struct msg *m)
{
	m->refs++;
	return m;
}

void
msg_unref(struct msg *m)
{
	if (m != NULL && !(m->flags & MSG_BORROWED) && --m->refs == 0) {
		budget_sub(msg_footprint(m));
		free(m);
	}
}

void
msg_borrow(struct msg *m, const void *data, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->refs = 1;
	m->flags = MSG_BORROWED;
	m->len = len;
	m->data = (uint8_t *)(uintptr_t)data;
}

struct msg *
msg_keep(struct msg *m)
{
	struct msg *copy;

	if (!(m->flags & MSG_BORROWED))
		return m;
	if ((copy = msg_new_copy(m->data, m->len)) == NULL)
		return NULL;
	copy->flags = m->flags & ~MSG_BORROWED;
	memcpy(copy->msg_id, m->msg_id, sizeof(copy->msg_id));
	memcpy(copy->peer_id, m->peer_id, sizeof(copy->peer_id));
	copy->lost = m->lost;
	copy->resends = m->resends;
	copy->route_id = m->route_id;
	return copy;
}

static void
msg_release(const void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	msg_unref(arg);
}

int
msg_add_framed(struct msg *m, struct evbuffer *out, const uint8_t *hdr,
    size_t hlen)
{
	struct evbuffer_iovec v;

	if (m->len <= MSG_COPY_MAX || (m->flags & MSG_BORROWED)) {
		/* One commit: the buffer's callbacks run once per frame. */
		if (evbuffer_reserve_space(out, (ev_ssize_t)(hlen + m->len),
		    &v, 1) != 1)
			return -1;
		memcpy(v.iov_base, hdr, hlen);
		memcpy((uint8_t *)v.iov_base + hlen, m->data, m->len);
		v.iov_len = hlen + m->len;
		return evbuffer_commit_space(out, &v, 1);
	}
	if (evbuffer_add(out, hdr, hlen) == -1)
		return -1;
	msg_ref(m);
	if (evbuffer_add_reference(out, m->data, m->len, msg_release, m) == -1) {
		msg_unref(m);
		return -1;
	}
	return 0;
}

void
msg_queue_clear(struct msg_queue *q)
{
	struct msg *m;

	while ((m = TAILQ_FIRST(q)) != NULL) {
		TAILQ_REMOVE(q, m, entry);
		msg_unref(m);
	}
}

void
msg_fifo_clear(struct msg_fifo *f)
{
	msg_queue_clear(&f->q);
	f->len = 0;
	f->bytes = 0;
}
