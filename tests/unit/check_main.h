/*
 * check_main.h: the main() every Check unit test shares.  CHECK_MAIN(fn)
 * runs the suite fn() returns and exits 0 only when every test passed.
 */
#ifndef SMARTSOCK_CHECK_MAIN_H
#define SMARTSOCK_CHECK_MAIN_H

#include <stdlib.h>

#include <check.h>

#define CHECK_MAIN(suite_fn)						\
int									\
main(void)								\
{									\
	SRunner *sr = srunner_create(suite_fn());			\
	int failed;							\
									\
	srunner_run_all(sr, CK_NORMAL);					\
	failed = srunner_ntests_failed(sr);				\
	srunner_free(sr);						\
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;		\
}

#endif
