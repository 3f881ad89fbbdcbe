/*
 * fleet: ferryctl's side of the fleet, talking to etcd directly (through
 * common/etcdhttp.c, with the fleet section of this host's configuration:
 * its endpoints, credentials and TLS files), so it works the same whether
 * the local ferry runs or not.
 *
 *   ferryctl fleet status                 every host's status key: age, health
 *   ferryctl drain add --fleet [--group G | --host H] NAME URI [--api-key K]
 *   ferryctl drain list --fleet           the drain keys, and how the hosts
 *                                         that report them are doing
 *   ferryctl drain remove --fleet [--group G | --host H] NAME
 *
 * A drain is checked here as the hosts will check it (fleetdrain.c), so a
 * typo is refused at once rather than by every host; file:// is written
 * (the operator may mean it) with a word that hosts refuse it unless they
 * set fleet.allow_file. URIs are shown with their secrets masked, and an
 * API key never.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "conf.h"
#include "ctl.h"
#include "etcd.h"
#include "etcdhttp.h"
#include "fleetdrain.h"
#include "json.h"
#include "url.h"

#define ANSWER_MAX	(64 << 20)
#define HOST_DRAINS_MAX	256

struct fleet_ctx {
	struct ctl		*ctl;
	struct ferry_conf	*conf;
	struct etcdhttp		*c;
};

/* One drain as a host reports it. */
struct host_drain {
	char	key[512];
	char	state[16];
};

/* One host's status key, read. */
struct host_status {
	char			 host[256];
	int64_t			 time;
	int			 healthy;
	int			 valid;		/* the value is the JSON we write */
	char			 last_error[512];
	int64_t			 last_error_at;
	struct host_drain	*drains;
	size_t			 ndrains;
	char			*raw;		/* the value as it is */
	size_t			 rawlen;
};

struct hosts {
	struct host_status	*v;
	size_t			 n;
};

/* The configuration's fleet section and a client for it; 0, or 1 (said). */
static int
fleet_open(struct ctl *ctl, struct fleet_ctx *f)
{
	struct conf_errors	errs;

	memset(f, 0, sizeof(*f));
	f->ctl = ctl;
	if ((f->conf = ctl_conf_load(ctl, &errs)) == NULL) {
		ctl_conf_errors(ctl, &errs);
		return 1;
	}
	if (f->conf->fleet.netcd == 0) {
		conf_free(f->conf);
		return ctl_fail(ctl, "no fleet is configured: fleet { etcd = "
		    "{\"http://...:2379\"} } names the etcd to use");
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    (f->c = etcdhttp_open(&f->conf->fleet)) == NULL) {
		conf_free(f->conf);
		return ctl_fail(ctl, "cannot initialise libcurl");
	}
	return 0;
}

static void
fleet_close(struct fleet_ctx *f)
{
	etcdhttp_close(f->c);
	conf_free(f->conf);
	curl_global_cleanup();
}

/* One request; 0, or 1 with the failure said. */
static int
call(struct fleet_ctx *f, const char *path, const struct buf *body,
    struct buf *out)
{
	char	err[512];

	if (etcdhttp_call(f->c, path, body, out, err, sizeof(err)) == 0)
		return 0;
	return ctl_fail(f->ctl, "etcd: %s", err);
}

/* --group G, --host H or neither, and the name: the key of a drain. */
static int
drain_key(struct fleet_ctx *f, const char *group, const char *host,
    const char *name, struct fleet_key *k, char *key, size_t size)
{
	char	err[256];

	memset(k, 0, sizeof(*k));
	if (fleet_name_check(name, err, sizeof(err)) == -1)
		return ctl_fail(f->ctl, "drain name \"%s\": %s", name, err);
	k->scope = group != NULL ? FLEET_SCOPE_GROUP : host != NULL ?
	    FLEET_SCOPE_HOST : FLEET_SCOPE_ALL;
	(void)strlcpy(k->who, group != NULL ? group : host != NULL ? host : "",
	    sizeof(k->who));
	(void)strlcpy(k->name, name, sizeof(k->name));
	if (k->scope != FLEET_SCOPE_ALL && (k->who[0] == '\0' ||
	    strchr(k->who, '/') != NULL))
		return ctl_fail(f->ctl, "a %s is one part of a key: not empty, no "
		    "'/'", group != NULL ? "group" : "host");
	if (fleet_key_make(key, size, f->conf->fleet.prefix, k) == -1)
		return ctl_fail(f->ctl, "the key is too long");
	return 0;
}

int
ctl_fleet_drain_add(struct ctl *ctl, const char *group, const char *host,
    const char *name, const char *uri, const char *api_key)
{
	struct fleet_ctx	 f;
	struct fleet_drain	 d;
	struct fleet_key	 k;
	struct buf		 value, body, out;
	char			 key[512], err[600], masked[2048], scope[300];
	int			 rc;

	if ((rc = fleet_open(ctl, &f)) != 0)
		return rc;
	buf_init(&value, 0);
	buf_init(&body, 0);
	buf_init(&out, ANSWER_MAX);
	if ((rc = drain_key(&f, group, host, name, &k, key, sizeof(key))) != 0)
		goto done;
	/* As every host will check it; file:// is theirs to allow. */
	if (fleet_value_make(&value, uri, api_key) == -1 ||
	    fleet_value_parse(value.p, value.len, 1, &d, err,
	    sizeof(err)) == -1) {
		rc = ctl_fail(ctl, "%s", err);
		goto done;
	}
	if (etcd_body_put(&body, key, value.p, value.len, 0) == -1) {
		rc = ctl_fail(ctl, "out of memory");
		goto done;
	}
	if ((rc = call(&f, "/v3/kv/put", &body, &out)) != 0)
		goto done;
	(void)url_mask(uri, masked, sizeof(masked));
	if (ctl->json) {
		printf("{\"ok\":true,\"added\":");
		json_str(stdout, name);
		printf(",\"key\":");
		json_str(stdout, key);
		printf("}\n");
	} else {
		printf("fleet drain %s added (%s: %s)\n", name, key, masked);
		printf("every ferry-fleet it is meant for (%s) applies it "
		    "within moments\n", fleet_scope_str(&k, scope,
		    sizeof(scope)));
	}
	if (strncmp(uri, "file:", 5) == 0 && !ctl->json)
		printf("note: hosts refuse a file:// drain from the fleet unless "
		    "their fleet.allow_file is true\n");
done:
	explicit_bzero(&d, sizeof(d));
	if (value.p != NULL)
		explicit_bzero(value.p, value.len);
	if (body.p != NULL)
		explicit_bzero(body.p, body.len);
	buf_free(&value);
	buf_free(&body);
	buf_free(&out);
	fleet_close(&f);
	return rc;
}

int
ctl_fleet_drain_remove(struct ctl *ctl, const char *group, const char *host,
    const char *name)
{
	struct fleet_ctx	f;
	struct fleet_key	k;
	struct buf		body, out;
	char			key[512];
	int64_t			deleted;
	int			rc;

	if ((rc = fleet_open(ctl, &f)) != 0)
		return rc;
	buf_init(&body, 0);
	buf_init(&out, ANSWER_MAX);
	if ((rc = drain_key(&f, group, host, name, &k, key, sizeof(key))) != 0)
		goto done;
	if (etcd_body_delete(&body, key, NULL) == -1) {
		rc = ctl_fail(ctl, "out of memory");
		goto done;
	}
	if ((rc = call(&f, "/v3/kv/deleterange", &body, &out)) != 0)
		goto done;
	if (etcd_parse_deleted(out.p, out.len, &deleted) == -1) {
		rc = ctl_fail(ctl, "etcd: the answer to a delete is not what etcd "
		    "sends");
		goto done;
	}
	if (deleted == 0) {
		rc = ctl_fail(ctl, "no fleet drain %s (%s); ferryctl drain list "
		    "--fleet shows them", name, key);
		goto done;
	}
	if (ctl->json) {
		printf("{\"ok\":true,\"removed\":");
		json_str(stdout, name);
		printf(",\"key\":");
		json_str(stdout, key);
		printf("}\n");
	} else
		printf("fleet drain %s removed (%s)\n", name, key);
done:
	buf_free(&body);
	buf_free(&out);
	fleet_close(&f);
	return rc;
}

/* {"name", "key", "state", ...} of a status's drains: key and state. */
static int
read_host_drain(struct json *j, struct buf *name, struct buf *tmp,
    struct host_drain *d)
{
	int	r;

	memset(d, 0, sizeof(*d));
	if (json_object_begin(j) == -1)
		return -1;
	while ((r = json_object_next(j, name)) == 1) {
		if (strcmp(name->p, "key") == 0 || strcmp(name->p, "state") == 0) {
			if (json_string(j, tmp) == -1)
				return -1;
			if (strcmp(name->p, "key") == 0)
				(void)strlcpy(d->key, tmp->p, sizeof(d->key));
			else
				(void)strlcpy(d->state, tmp->p,
				    sizeof(d->state));
		} else if (json_skip(j) == -1)
			return -1;
	}
	return r;
}

/* A status value, as health.c of ferry-fleet writes it: 0, or -1. */
static int
read_status(const char *p, size_t n, struct host_status *h)
{
	struct json		 j;
	struct buf		 name, tmp;
	struct host_drain	*v;
	const char		*s;
	int			 r;

	buf_init(&name, 4096);
	buf_init(&tmp, 1 << 20);
	json_init(&j, p, n);
	if ((r = json_object_begin(&j)) == -1)
		goto done;
	while ((r = json_object_next(&j, &name)) == 1) {
		if (strcmp(name.p, "host") == 0 &&
		    (r = json_string(&j, &tmp)) == 0)
			(void)strlcpy(h->host, tmp.p, sizeof(h->host));
		else if (strcmp(name.p, "time") == 0)
			r = json_int64(&j, &h->time);
		else if (strcmp(name.p, "last_error_at") == 0) {
			s = j.p;
			if (json_int64(&j, &h->last_error_at) == -1) {
				j.p = s;
				r = json_skip(&j);
			}
		}
		else if (strcmp(name.p, "healthy") == 0) {
			s = j.p;
			if ((r = json_skip(&j)) == 0)
				h->healthy = memmem(s, j.p - s, "true", 4) !=
				    NULL;
		} else if (strcmp(name.p, "last_error") == 0) {
			s = j.p;
			if (json_string(&j, &tmp) == 0)
				(void)strlcpy(h->last_error, tmp.p,
				    sizeof(h->last_error));
			else {
				j.p = s;
				r = json_skip(&j);
			}
		} else if (strcmp(name.p, "drains") == 0) {
			if ((r = json_array_begin(&j)) == -1)
				break;
			while ((r = json_array_next(&j)) == 1 &&
			    h->ndrains < HOST_DRAINS_MAX) {
				if ((v = reallocarray(h->drains, h->ndrains + 1,
				    sizeof(*v))) == NULL) {
					r = -1;
					break;
				}
				h->drains = v;
				if ((r = read_host_drain(&j, &name, &tmp,
				    &h->drains[h->ndrains])) == -1)
					break;
				h->ndrains++;
			}
		} else
			r = json_skip(&j);
		if (r == -1)
			break;
	}
	if (r == 0)
		r = json_end(&j);
done:
	buf_free(&name);
	buf_free(&tmp);
	return r;
}

static void
add_host(int type, const struct etcd_kv *kv, void *arg)
{
	struct hosts		*hs = arg;
	struct host_status	*v, *h;
	const char		*slash;

	(void)type;
	if ((v = reallocarray(hs->v, hs->n + 1, sizeof(*v))) == NULL)
		return;
	hs->v = v;
	h = &hs->v[hs->n++];
	memset(h, 0, sizeof(*h));
	/* The key's last part names the host, whatever the value says. */
	slash = memrchr(kv->key, '/', kv->keylen);
	(void)snprintf(h->host, sizeof(h->host), "%.*s", (int)(kv->keylen -
	    (slash != NULL ? slash + 1 - kv->key : 0)), slash != NULL ?
	    slash + 1 : kv->key);
	if ((h->raw = malloc(kv->valuelen + 1)) != NULL) {
		memcpy(h->raw, kv->value, kv->valuelen);
		h->raw[kv->valuelen] = '\0';
		h->rawlen = kv->valuelen;
	}
	h->valid = h->raw != NULL && read_status(h->raw, h->rawlen, h) == 0;
}

static void
hosts_free(struct hosts *hs)
{
	size_t	i;

	for (i = 0; i < hs->n; i++) {
		free(hs->v[i].drains);
		free(hs->v[i].raw);
	}
	free(hs->v);
}

/* Every host's status key; 0, or 1 (said). */
static int
hosts_read(struct fleet_ctx *f, struct hosts *hs)
{
	struct buf	body, out;
	char		key[512], end[512];
	int64_t		rev;
	int		rc;

	memset(hs, 0, sizeof(*hs));
	buf_init(&body, 0);
	buf_init(&out, ANSWER_MAX);
	if (fleet_status_key(key, sizeof(key), f->conf->fleet.prefix, "") ==
	    -1 || etcd_prefix_end(key, end, sizeof(end)) == -1 ||
	    etcd_body_range(&body, key, end) == -1)
		rc = ctl_fail(f->ctl, "the prefix is too long");
	else if ((rc = call(f, "/v3/kv/range", &body, &out)) == 0 &&
	    etcd_parse_range(out.p, out.len, &rev, add_host, hs) == -1)
		rc = ctl_fail(f->ctl, "etcd: the answer to a range is not what "
		    "etcd sends");
	buf_free(&body);
	buf_free(&out);
	return rc;
}

/* "2 (1 sending, 1 refused)" */
static const char *
drain_summary(const struct host_status *h, char *buf, size_t size)
{
	static const char *const states[] = { "sending", "pending",
	    "retrying", "deadlettering", "failed", "refused" };
	size_t	i, j, n, other = 0, len;
	int	first = 1;

	len = snprintf(buf, size, "%zu", h->ndrains);
	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		for (j = n = 0; j < h->ndrains; j++)
			n += strcmp(h->drains[j].state, states[i]) == 0;
		if (n > 0 && len < size)
			len += snprintf(buf + len, size - len, "%s%zu %s",
			    first ? " (" : ", ", n, states[i]);
		first &= n == 0;
	}
	for (j = 0; j < h->ndrains; j++) {
		for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
			if (strcmp(h->drains[j].state, states[i]) == 0)
				break;
		other += i == sizeof(states) / sizeof(states[0]);
	}
	if (other > 0 && len < size)
		len += snprintf(buf + len, size - len, "%s%zu other",
		    first ? " (" : ", ", other);
	if (!first || other > 0)
		(void)snprintf(buf + len, len < size ? size - len : 0, ")");
	return buf;
}

static int
cmd_fleet_status(struct ctl *ctl)
{
	struct fleet_ctx	 f;
	struct hosts		 hs;
	struct host_status	*h;
	char			 age[32], drains[128], err[600], ago[32];
	int64_t			 now = clock_wall();
	size_t			 i;
	int			 rc, w = 4, unhealthy = 0;

	if ((rc = fleet_open(ctl, &f)) != 0)
		return rc;
	if ((rc = hosts_read(&f, &hs)) != 0) {
		fleet_close(&f);
		return rc;
	}
	for (i = 0; i < hs.n; i++) {
		if ((int)strlen(hs.v[i].host) > w)
			w = strlen(hs.v[i].host);
		unhealthy += !hs.v[i].valid || !hs.v[i].healthy;
	}
	if (ctl->json)
		printf("{\"hosts\":[");
	else if (hs.n == 0)
		printf("no host reports to %sstatus/\n", f.conf->fleet.prefix);
	else
		printf("%-*s  %-9s  %-6s  %-28s  %s\n", w, "HOST", "HEALTH",
		    "AGE", "DRAINS", "LAST ERROR");
	for (i = 0; i < hs.n; i++) {
		h = &hs.v[i];
		if (ctl->json) {
			printf("%s{\"host\":", i ? "," : "");
			json_str(stdout, h->host);
			printf(",\"healthy\":%s,\"age\":", h->valid &&
			    h->healthy ? "true" : "false");
			if (h->valid && h->time != 0)
				printf("%" PRId64, now - h->time);
			else
				printf("null");
			/* The value as the host wrote it, when it is ours. */
			printf(",\"status\":");
			if (h->valid)
				fwrite(h->raw, 1, h->rawlen, stdout);
			else
				printf("null");
			printf("}");
			continue;
		}
		if (!h->valid) {
			printf("%-*s  %-9s  %-6s  %-28s  %s\n", w, h->host,
			    "unknown", "-", "-", "its status is not ferry's "
			    "JSON");
			continue;
		}
		if (h->last_error[0] != '\0')
			(void)snprintf(err, sizeof(err), "%s ago: %s",
			    ctl_duration(now - h->last_error_at, ago,
			    sizeof(ago)), h->last_error);
		printf("%-*s  %-9s  %-6s  %-28s  %s\n", w, h->host, h->healthy ?
		    "healthy" : "unhealthy", ctl_duration(now - h->time, age,
		    sizeof(age)), drain_summary(h, drains, sizeof(drains)),
		    h->last_error[0] != '\0' ? err : "-");
	}
	if (ctl->json)
		printf("],\"unhealthy\":%d}\n", unhealthy);
	hosts_free(&hs);
	fleet_close(&f);
	return unhealthy > 0 ? 1 : 0;
}

/* The drain keys, each with how the reporting hosts are doing. */
struct drain_row {
	struct fleet_key	k;
	char			key[512];
	char			uri[2048];	/* masked */
	int			api_key;
	char			error[600];	/* "" when valid */
};

struct drain_rows {
	struct drain_row	*v;
	size_t			 n;
	const char		*prefix;
};

static void
add_drain(int type, const struct etcd_kv *kv, void *arg)
{
	struct drain_rows	*rs = arg;
	struct drain_row	*v, *r;
	struct fleet_drain	 d;
	struct fleet_key	 k;

	(void)type;
	if (fleet_key_parse(rs->prefix, kv->key, kv->keylen, &k) != 1 ||
	    (v = reallocarray(rs->v, rs->n + 1, sizeof(*v))) == NULL)
		return;
	rs->v = v;
	r = &rs->v[rs->n++];
	memset(r, 0, sizeof(*r));
	r->k = k;
	(void)snprintf(r->key, sizeof(r->key), "%.*s", (int)kv->keylen,
	    kv->key);
	if (fleet_name_check(k.name, r->error, sizeof(r->error)) == 0 &&
	    fleet_value_parse(kv->value, kv->valuelen, 1, &d, r->error,
	    sizeof(r->error)) == 0) {
		r->error[0] = '\0';
		(void)url_mask(d.uri, r->uri, sizeof(r->uri));
		r->api_key = d.api_key[0] != '\0';
	}
	explicit_bzero(&d, sizeof(d));
}

/* "3 sending, 1 refused" of the hosts whose status names this key. */
static void
row_hosts(const struct drain_row *r, const struct hosts *hs, int json)
{
	const char	*states[64];
	size_t		 counts[64], ns = 0, i, j, k;

	for (i = 0; i < hs->n; i++)
		for (j = 0; j < hs->v[i].ndrains; j++) {
			if (strcmp(hs->v[i].drains[j].key, r->key) != 0)
				continue;
			for (k = 0; k < ns; k++)
				if (strcmp(states[k], hs->v[i].drains[j].state)
				    == 0)
					break;
			if (k == ns && ns < 64) {
				states[ns] = hs->v[i].drains[j].state;
				counts[ns++] = 0;
			}
			if (k < ns)
				counts[k]++;
		}
	if (json) {
		printf(",\"hosts\":{");
		for (k = 0; k < ns; k++) {
			printf("%s", k ? "," : "");
			json_str(stdout, states[k]);
			printf(":%zu", counts[k]);
		}
		printf("}");
		return;
	}
	if (ns == 0)
		printf("no host reports it");
	for (k = 0; k < ns; k++)
		printf("%s%zu %s", k ? ", " : "", counts[k], states[k]);
}

int
ctl_fleet_drain_list(struct ctl *ctl)
{
	struct fleet_ctx	 f;
	struct drain_rows	 rs;
	struct drain_row	*r;
	struct hosts		 hs;
	struct buf		 body, out;
	char			 key[512], end[512], scope[300];
	int64_t			 rev;
	size_t			 i;
	int			 rc, w = 4, uw = 9;	/* "(invalid)" */

	if ((rc = fleet_open(ctl, &f)) != 0)
		return rc;
	memset(&rs, 0, sizeof(rs));
	rs.prefix = f.conf->fleet.prefix;
	buf_init(&body, 0);
	buf_init(&out, ANSWER_MAX);
	if (fleet_drain_range(rs.prefix, key, sizeof(key), end,
	    sizeof(end)) == -1 || etcd_body_range(&body, key, end) == -1)
		rc = ctl_fail(ctl, "the prefix is too long");
	else if ((rc = call(&f, "/v3/kv/range", &body, &out)) == 0 &&
	    etcd_parse_range(out.p, out.len, &rev, add_drain, &rs) == -1)
		rc = ctl_fail(ctl, "etcd: the answer to a range is not what etcd "
		    "sends");
	buf_free(&body);
	buf_free(&out);
	/* Without the statuses the list is still worth showing. */
	if (rc == 0 && hosts_read(&f, &hs) != 0)
		memset(&hs, 0, sizeof(hs));
	if (rc != 0) {
		fleet_close(&f);
		return rc;
	}
	for (i = 0; i < rs.n; i++) {
		if ((int)strlen(rs.v[i].k.name) > w)
			w = strlen(rs.v[i].k.name);
		if (rs.v[i].error[0] == '\0' && (int)strlen(rs.v[i].uri) > uw)
			uw = strlen(rs.v[i].uri);
	}
	if (ctl->json)
		printf("{\"drains\":[");
	else if (rs.n == 0)
		printf("no fleet drain under %s\n", rs.prefix);
	else
		printf("%-*s  %-16s  %-*s  %s\n", w, "NAME", "FOR", uw, "URI",
		    "KEY");
	for (i = 0; i < rs.n; i++) {
		r = &rs.v[i];
		if (ctl->json) {
			printf("%s{\"name\":", i ? "," : "");
			json_str(stdout, r->k.name);
			printf(",\"scope\":\"%s\",\"who\":", r->k.scope ==
			    FLEET_SCOPE_GROUP ? "group" : r->k.scope ==
			    FLEET_SCOPE_HOST ? "host" : "all");
			json_str(stdout, r->k.who);
			printf(",\"key\":");
			json_str(stdout, r->key);
			ctl_json_text("uri", r->uri);
			printf(",\"api_key\":%s", r->api_key ? "true" : "false");
			ctl_json_text("error", r->error);
			row_hosts(r, &hs, 1);
			printf("}");
			continue;
		}
		printf("%-*s  %-16s  %-*s  %s\n", w, r->k.name,
		    fleet_scope_str(&r->k, scope, sizeof(scope)), uw,
		    r->error[0] != '\0' ? "(invalid)" : r->uri, r->key);
		printf("%-*s  ", w, "");
		if (r->error[0] != '\0')
			printf("invalid: %s; ", r->error);
		row_hosts(r, &hs, 0);
		printf("\n");
	}
	if (ctl->json)
		printf("]}\n");
	hosts_free(&hs);
	free(rs.v);
	fleet_close(&f);
	return 0;
}

int
cmd_fleet(struct ctl *ctl, int argc, char **argv)
{
	int	i, n = 0;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			ctl->json = 1;
		else if (strcmp(argv[i], "status") == 0 && n == 0)
			n++;
		else
			ctl_usage();
	}
	if (n != 1)
		ctl_usage();
	return cmd_fleet_status(ctl);
}
