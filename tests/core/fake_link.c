/* fake_link: a link with no socket behind it (fake_link.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_link.h"
#include "msg.h"
#include "parse.h"

/*
 * How many of the links' events are running now.  link.h's rule: the core
 * frees no link from inside an event (a link that must go asks for
 * close_soon); a `free` meanwhile is a broken promise, and aborts.
 */
static int fake_in_event;

static void
fake_event_begin(void)
{
	fake_in_event++;
}

static void
fake_event_end(void)
{
	fake_in_event--;
}

static size_t
fake_unflushed(const struct link *l)
{
	return ((const struct fake_link *)l)->unflushed;
}

static int
fake_send(struct link *l, struct msg *m)
{
	struct fake_link *f = (struct fake_link *)l;
	size_t used = strlen(f->sent), n = m->len;

	if (used + n + 2 <= sizeof(f->sent)) {  /* full: count only */
		memcpy(f->sent + used, m->data, n);
		f->sent[used + n] = ',';
		f->sent[used + n + 1] = '\0';
	}
	if (m->flags & MSG_HAS_ID)
		memcpy(f->ids[f->nids++ % FAKE_LINK_IDS], m->msg_id, 16);
	f->nsent++;
	l->msgs_out++;
	l->bytes_out += m->len;
	return 0;
}

static int
fake_ack(struct link *l, const uint8_t msg_id[16])
{
	struct fake_link *f = (struct fake_link *)l;

	memcpy(f->last_ack, msg_id, 16);
	f->nacks++;
	return 0;
}

static void
fake_pause(struct link *l)
{
	((struct fake_link *)l)->paused = 1;
}

static void
fake_resume(struct link *l)
{
	((struct fake_link *)l)->paused = 0;
}

static void
fake_close_soon(struct link *l, const char *why)
{
	struct fake_link *f = (struct fake_link *)l;

	if (l->closing != NULL)
		return;
	snprintf(f->why, sizeof(f->why), "%s", why);
	f->closing_asked = f->why;
	l->closing = f->why;
}

static void
fake_reconfigure(struct link *l)
{
	((struct fake_link *)l)->reconfigured++;
}

static void
fake_free(struct link *l)
{
	if (fake_in_event > 0) {
		fprintf(stderr, "fake_link: %s freed from inside an event\n",
		    l->addr);
		abort();
	}
	((struct fake_link *)l)->freed = 1;
}

static void
fake_describe(const struct link *l, struct json *j)
{
	(void)l;
	(void)j;
}

static const struct link_ops fake_ops = {
	.unflushed = fake_unflushed,
	.send = fake_send,
	.ack = fake_ack,
	.pause = fake_pause,
	.resume = fake_resume,
	.close_soon = fake_close_soon,
	.reconfigure = fake_reconfigure,
	.free = fake_free,
	.describe = fake_describe,
};

void
fake_link_attach(struct fake_link *f, struct home *home, uint8_t idbyte)
{
	memset(f, 0, sizeof(*f));
	f->link.ops = &fake_ops;
	memset(f->link.identity, idbyte, sizeof(f->link.identity));
	format_identity(f->link.identity, f->link.identity_hex);
	snprintf(f->link.addr, sizeof(f->link.addr), "fake-%02x", idbyte);
	fake_event_begin();
	link_attach(home, &f->link);
	fake_event_end();
	f->attached = 1;
}

int
fake_link_up(struct fake_link *f)
{
	int r;

	fake_event_begin();
	r = link_up(&f->link);
	fake_event_end();
	return r;
}

void
fake_link_down(struct fake_link *f)
{
	if (!f->attached)
		return;
	f->attached = 0;
	fake_event_begin();
	link_down(&f->link);
	fake_event_end();
}

void
fake_link_receive(struct fake_link *f, const uint8_t *id, const void *data,
    size_t len)
{
	struct msg view;

	msg_borrow(&view, data, len);
	memcpy(view.peer_id, f->link.identity, sizeof(view.peer_id));
	if (id != NULL) {
		memcpy(view.msg_id, id, sizeof(view.msg_id));
		view.flags |= MSG_HAS_ID;
	}
	f->link.msgs_in++;
	f->link.bytes_in += len;
	fake_event_begin();
	link_received(&f->link, &view);
	fake_event_end();
}

void
fake_link_ack(struct fake_link *f, size_t k)
{
	fake_event_begin();
	link_acked(&f->link, f->ids[k % FAKE_LINK_IDS]);
	fake_event_end();
}

void
fake_link_drain(struct fake_link *f)
{
	f->unflushed = 0;
	fake_event_begin();
	link_drained(&f->link);
	fake_event_end();
}

void
fake_link_clear(struct fake_link *f)
{
	f->sent[0] = '\0';
	f->nsent = 0;
	f->nacks = 0;
}
