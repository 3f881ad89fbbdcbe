/*
 * libfloor: the least memory a program using ferry-forwarder's libraries
 * can peak at, to put the forwarder's own figure beside.
 *
 *	libfloor URL DBPATH
 *
 * It links what ferry-forwarder links (libcurl as Debian builds it, SQLite,
 * libconfuse, c-ares, libbsd), does with each the least the forwarder does
 * (libcurl: global init and one POST of one line to URL over a multi
 * handle; SQLite: a database in WAL mode with one table and one row;
 * libconfuse: an empty configuration; c-ares: its init) and prints its peak
 * RSS as "hwm_kb=<N>". Exit status 0, or 1 when a step failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <confuse.h>
#include <curl/curl.h>
#include <sqlite3.h>

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static int
post_one(const char *url)
{
	static const char	 body[] = "libfloor.x 1 0\n";
	CURLM			*m;
	CURL			*e;
	CURLMsg			*msg;
	int			 running = 1, left, ok = 0;

	if ((m = curl_multi_init()) == NULL || (e = curl_easy_init()) == NULL)
		return -1;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	curl_multi_add_handle(m, e);
	while (running > 0) {
		if (curl_multi_perform(m, &running) != CURLM_OK ||
		    curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK)
			break;
	}
	while ((msg = curl_multi_info_read(m, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->data.result == CURLE_OK)
			ok = 1;
	curl_multi_remove_handle(m, e);
	curl_easy_cleanup(e);
	curl_multi_cleanup(m);
	return ok ? 0 : -1;
}

static int
touch_db(const char *path)
{
	sqlite3	*db;
	int	 rc;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL;"
	    "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER);"
	    "INSERT OR REPLACE INTO t VALUES ('a', 1);", NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

static long
peak_kb(void)
{
	char	 line[256];
	long	 kb = -1;
	FILE	*f;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

int
main(int argc, char *argv[])
{
	cfg_opt_t	 opts[] = { CFG_END() };
	cfg_t		*cfg;
	char		 tag[16];

	if (argc != 3) {
		fprintf(stderr, "usage: libfloor URL DBPATH\n");
		return 1;
	}
	(void)strlcpy(tag, "libfloor", sizeof(tag));
	if ((cfg = cfg_init(opts, 0)) == NULL || cfg_parse_buf(cfg, "") != 0) {
		fprintf(stderr, "%s: libconfuse\n", tag);
		return 1;
	}
	cfg_free(cfg);
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "%s: c-ares or libcurl init\n", tag);
		return 1;
	}
	if (touch_db(argv[2]) == -1 || post_one(argv[1]) == -1) {
		fprintf(stderr, "%s: the database or the request failed\n", tag);
		return 1;
	}
	printf("hwm_kb=%ld\n", peak_kb());
	curl_global_cleanup();
	ares_library_cleanup();
	return 0;
}
