/*
 * conftab-dump: the option table as tests/man/conf-man checks it against
 * smartsockd.conf(5), one key per line, fields separated by tabs:
 *
 *	section key type default reload range choices
 *
 * section is daemon or socket; type the table's type name; default the
 * table's default ("-" for none, and the build's RUNSTATEDIR written as
 * RUNSTATEDIR, as the page does); reload is in-place, socket (a change
 * restarts that socket) or daemon (a change needs a restart of smartsockd
 * and the reload is refused); range is what the page's "Range" sentence
 * says for a number ("-" for other types); choices are an enum's words or
 * on/off, blank-separated ("-" otherwise).
 *
 * With -c FILE, load FILE with config_load() instead, and print the error
 * (for the example configurations of the page).
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "conftab.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

static const char *
dump_reload(const struct opt *o)
{
	if (o->reloadable)
		return "in-place";
	return o->section == OPT_SOCKET ? "socket" : "daemon";
}

/* As the page words it: "1 to 2G", "0 or more", "0000 to 0777". */
static void
dump_range(const struct opt *o, char *buf, size_t len)
{
	char lo[32], hi[32];

	switch (o->type) {
	case OPT_DURATION:
	case OPT_SIZE:
		config_format_units(config_types[o->type].units, o->min, lo,
		    sizeof lo);
		config_format_units(config_types[o->type].units, o->max, hi,
		    sizeof hi);
		snprintf(buf, len, "%s to %s", lo, hi);
		break;
	case OPT_COUNT:
		snprintf(buf, len, "%llu or more", (unsigned long long)o->min);
		break;
	case OPT_MODE:
		snprintf(buf, len, "%04llo to %04llo",
		    (unsigned long long)o->min, (unsigned long long)o->max);
		break;
	default:
		snprintf(buf, len, "-");
		break;
	}
}

static void
dump_choices(const struct opt *o, char *buf, size_t len)
{
	size_t i, used = 0;

	snprintf(buf, len, "-");
	if (o->type == OPT_BOOL)
		snprintf(buf, len, "on off");
	if (o->type != OPT_ENUM || o->choices == NULL)
		return;
	buf[0] = '\0';
	for (i = 0; o->choices[i] != NULL && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
		    i > 0 ? " " : "", o->choices[i]);
}

static void
dump_default(const struct opt *o, char *buf, size_t len)
{
	size_t n = strlen(RUNSTATEDIR);

	if (o->def == NULL)
		snprintf(buf, len, "-");
	else if (strncmp(o->def, RUNSTATEDIR, n) == 0 &&
	    (o->def[n] == '/' || o->def[n] == '\0'))
		snprintf(buf, len, "RUNSTATEDIR%s", o->def + n);
	else
		snprintf(buf, len, "%s", o->def);
}

int
main(int argc, char **argv)
{
	const struct opt *o;
	struct config cfg;
	char def[256], range[128], choices[256], err[1024];

	if (argc == 3 && strcmp(argv[1], "-c") == 0) {
		memset(&cfg, 0, sizeof cfg);
		if (config_load(argv[2], &cfg, err, sizeof err) == -1) {
			printf("%s\n", err);
			return 1;
		}
		config_free(&cfg);
		return 0;
	}
	if (argc != 1) {
		fprintf(stderr, "usage: conftab-dump [-c FILE]\n");
		return 2;
	}
	for (o = config_options; o < config_options + CONFIG_NOPTIONS; o++) {
		dump_default(o, def, sizeof def);
		dump_range(o, range, sizeof range);
		dump_choices(o, choices, sizeof choices);
		printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
		    o->section == OPT_DAEMON ? "daemon" : "socket", o->key,
		    config_types[o->type].name, def, dump_reload(o), range,
		    choices);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
