/*
 * fuzz_config: the configuration reader (config/config.c, conftab.c,
 * parse.c) on arbitrary files: config_load() on the input written to a
 * file in a private temporary directory (relative paths in it resolve
 * there), then config_free().  Checked: a refused file always comes with
 * a "file:line: reason" message; a loaded one finds each of its sockets by
 * name and names each enum value; nothing leaks either way.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c) do {							\
	if (!(c)) {							\
		dprintf(2, "fuzz_config: %s:%d: check failed: %s\n",	\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

static char dir[64];
static char path[96];

static void
cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 32)
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/fuzz_config.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		perror("fuzz_config: mkdtemp");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/smartsockd.conf", dir);
	atexit(cleanup);
	return 0;
}

static void
write_file(const uint8_t *data, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd != -1);
	while (size > 0) {
		n = write(fd, data, size);
		if (n == -1 && errno == EINTR)
			continue;
		CHECK(n > 0);
		data += n;
		size -= (size_t)n;
	}
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const enums[] = {
		"send_mode", "delivery", "overflow", "tls_min_version",
	};
	const struct socket_conf *sc;
	struct config cfg;
	char err[1024];
	size_t i;

	write_file(data, size);
	if (config_load(path, &cfg, err, sizeof(err)) == -1) {
		CHECK(strncmp(err, path, strlen(path)) == 0);
		CHECK(err[strlen(path)] == ':');
		config_free(&cfg);      /* already freed: must be a no-op */
		return 0;
	}
	CHECK(cfg.path != NULL && strcmp(cfg.path, path) == 0);
	CHECK(cfg.daemon.runtime_dir != NULL);
	for (i = 0; i < cfg.nsockets; i++) {
		sc = &cfg.sockets[i];
		CHECK(config_find_socket(&cfg, sc->name) == sc);
		CHECK(strcmp(config_choice(enums[0], sc->send_mode), "?") != 0);
		CHECK(strcmp(config_choice(enums[1], sc->delivery), "?") != 0);
		CHECK(strcmp(config_choice(enums[2], sc->overflow), "?") != 0);
		CHECK(strcmp(config_choice(enums[3], sc->tls.min_version),
		    "?") != 0);
	}
	config_free(&cfg);
	return 0;
}
