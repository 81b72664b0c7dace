/*
 * check_idmap: the 16-byte-key hash map: put/get/replace/delete, growth
 * through many keys, and deletion's backward shift keeping every other key
 * reachable (checked against a plain array after random operations).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_main.h"
#include "idmap.h"

static void
key_of(uint32_t i, uint8_t k[16])
{
	memset(k, 0, 16);
	memcpy(k, &i, sizeof(i));
	k[15] = (uint8_t)(i * 7);
}

START_TEST(test_basic)
{
	struct idmap *m = idmap_new();
	uint8_t k[16];
	int a, b;

	ck_assert_ptr_nonnull(m);
	key_of(1, k);
	ck_assert_ptr_null(idmap_get(m, k));
	ck_assert_int_eq(idmap_put(m, k, &a), 0);
	ck_assert_ptr_eq(idmap_get(m, k), &a);
	ck_assert_int_eq(idmap_put(m, k, &b), 0);          /* replace */
	ck_assert_ptr_eq(idmap_get(m, k), &b);
	ck_assert_uint_eq(idmap_count(m), 1);
	ck_assert_ptr_eq(idmap_del(m, k), &b);
	ck_assert_ptr_null(idmap_del(m, k));
	ck_assert_uint_eq(idmap_count(m), 0);
	idmap_free(m);
	idmap_free(NULL);
}
END_TEST

START_TEST(test_many_and_random_deletes)
{
	enum { N = 20000 };
	struct idmap *m = idmap_new();
	static char present[N];
	static int vals[N];
	uint8_t k[16];
	uint32_t i, j;
	size_t count = 0;

	srand(12345);
	for (i = 0; i < N; i++) {
		key_of(i, k);
		ck_assert_int_eq(idmap_put(m, k, &vals[i]), 0);
		present[i] = 1;
		count++;
	}
	ck_assert_uint_eq(idmap_count(m), count);
	for (j = 0; j < 3 * N; j++) {
		i = (uint32_t)rand() % N;
		key_of(i, k);
		if (present[i]) {
			ck_assert_ptr_eq(idmap_del(m, k), &vals[i]);
			present[i] = 0;
			count--;
		} else {
			ck_assert_int_eq(idmap_put(m, k, &vals[i]), 0);
			present[i] = 1;
			count++;
		}
	}
	ck_assert_uint_eq(idmap_count(m), count);
	for (i = 0; i < N; i++) {
		key_of(i, k);
		if (present[i])
			ck_assert_ptr_eq(idmap_get(m, k), &vals[i]);
		else
			ck_assert_ptr_null(idmap_get(m, k));
	}
	idmap_free(m);
}
END_TEST

static Suite *
idmap_suite(void)
{
	Suite *s = suite_create("idmap");
	TCase *tc = tcase_create("map");

	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_many_and_random_deletes);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(idmap_suite)
