/* lproto: frame header checks for the local protocol (see lproto.h). */
#include "lproto.h"

/* Fixed part of each body before the payload, -1 for an unknown type. */
int
lproto_fixed_len(uint8_t type)
{
	switch (type) {
	case LPROTO_HELLO:
		return 2;
	case LPROTO_SEND:
		return 0;
	case LPROTO_SEND_TO:
		return LPROTO_ID_LEN;
	case LPROTO_CONFIRM:
		return 8;
	case LPROTO_CREDIT:
		return 4;
	case LPROTO_WELCOME:
		return 2 + 4 + LPROTO_ID_LEN;
	case LPROTO_REFUSE:
		return 2 + 4;
	case LPROTO_DELIVER:
		return LPROTO_ID_LEN;
	case LPROTO_DELIVER_REQ:
		return 8 + LPROTO_ID_LEN;
	case LPROTO_SEND_RESULT:
		return 4;
	case LPROTO_CLOSING:
		return 0;
	default:
		return -1;
	}
}

/* Types whose body is exactly the fixed part. */
static int
lproto_is_fixed_size(uint8_t type)
{
	return type == LPROTO_HELLO || type == LPROTO_CONFIRM ||
	    type == LPROTO_CREDIT ||
	    type == LPROTO_WELCOME || type == LPROTO_SEND_RESULT ||
	    type == LPROTO_CLOSING;
}

/* REFUSE's text is bounded independently of the payload limit. */
#define LPROTO_MAX_TEXT 1024

enum lproto_check
lproto_frame_check(const uint8_t *hdr, size_t have, size_t max_payload,
    uint8_t *type, uint32_t *body_len)
{
	uint32_t len;
	int fixed;
	size_t rest_max;

	if (have < LPROTO_HDR_LEN)
		return LPROTO_NEED_MORE;
	len = lproto_get_u32(hdr);
	if (len < 1)
		return LPROTO_FRAME_BAD;
	fixed = lproto_fixed_len(hdr[4]);
	if (fixed < 0)
		return LPROTO_FRAME_BAD;
	len -= 1;
	if (len < (uint32_t)fixed)
		return LPROTO_FRAME_BAD;
	if (lproto_is_fixed_size(hdr[4]))
		rest_max = 0;
	else if (hdr[4] == LPROTO_REFUSE)
		rest_max = LPROTO_MAX_TEXT;
	else
		rest_max = max_payload;
	if (len - (uint32_t)fixed > rest_max)
		return LPROTO_FRAME_BAD;
	*type = hdr[4];
	*body_len = len;
	return LPROTO_FRAME_OK;
}

size_t
lproto_put_header(uint8_t *dst, uint8_t type, size_t body_len)
{
	lproto_put_u32(dst, (uint32_t)(body_len + 1));
	dst[4] = type;
	return LPROTO_HDR_LEN;
}
