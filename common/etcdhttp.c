/*
 * etcdhttp: the libcurl side of talking to etcd (see etcdhttp.h). Every
 * request is a POST of JSON; TLS verification is always on, with the
 * fleet's own CA file when one is set, and the client certificate when
 * one is; TCP keepalive finds a member that vanished without a word while
 * a watch waits on it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "buf.h"
#include "conf.h"
#include "etcd.h"
#include "etcdhttp.h"
#include "version.h"

int
etcdhttp_url(char *buf, size_t size, const char *endpoint, const char *path)
{
	size_t	n = strlen(endpoint);
	int	m;

	/* "http://h:2379/" and "http://h:2379" alike. */
	if (n > 0 && endpoint[n - 1] == '/')
		n--;
	m = snprintf(buf, size, "%.*s%s", (int)n, endpoint, path);
	return m < 0 || (size_t)m >= size ? -1 : 0;
}

int
etcdhttp_setup(CURL *easy, const struct fleet_conf *fc, const char *endpoint,
    const char *path, const struct buf *body, const char *token,
    struct curl_slist **headers, long timeout_ms)
{
	struct curl_slist	*h, *l;
	char			 url[1024], auth[ETCDHTTP_TOKEN_MAX + 32];

	*headers = NULL;
	if (etcdhttp_url(url, sizeof(url), endpoint, path) == -1)
		return -1;
	if ((h = curl_slist_append(NULL, "Content-Type: application/json")) ==
	    NULL)
		return -1;
	if (token != NULL && token[0] != '\0') {
		(void)snprintf(auth, sizeof(auth), "Authorization: %s", token);
		if ((l = curl_slist_append(h, auth)) == NULL) {
			curl_slist_free_all(h);
			return -1;
		}
		h = l;
	}
	*headers = h;
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_POST, 1L);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body->p != NULL ? body->p :
	    "");
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)body->len);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, version_agent());
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)ETCDHTTP_CONNECT_MS);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 5L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 2L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	/* Only http and https, even through a redirect. */
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	if (fc->ca_file[0] != '\0')
		curl_easy_setopt(easy, CURLOPT_CAINFO, fc->ca_file);
	if (fc->cert_file[0] != '\0')
		curl_easy_setopt(easy, CURLOPT_SSLCERT, fc->cert_file);
	if (fc->key_file[0] != '\0')
		curl_easy_setopt(easy, CURLOPT_SSLKEY, fc->key_file);
	return 0;
}

struct etcdhttp {
	const struct fleet_conf	*fc;
	CURL			*easy;
	size_t			 next;		/* the endpoint to try first */
	char			 token[ETCDHTTP_TOKEN_MAX];
};

struct etcdhttp *
etcdhttp_open(const struct fleet_conf *fc)
{
	struct etcdhttp	*c;

	if (fc->netcd == 0 || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->fc = fc;
	if ((c->easy = curl_easy_init()) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

void
etcdhttp_close(struct etcdhttp *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->easy);
	explicit_bzero(c->token, sizeof(c->token));
	free(c);
}

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	return buf_add(arg, p, size * n) == -1 ? 0 : size * n;
}

/*
 * One request to one endpoint. 0 on a 2xx; 1 when the endpoint could not
 * be reached (try the next); -1 when it answered with an error (code and
 * message in err, *grpc its gRPC code).
 */
static int
call_one(struct etcdhttp *c, const char *endpoint, const char *path,
    const struct buf *body, struct buf *out, int *grpc, char *err,
    size_t size)
{
	struct curl_slist	*headers = NULL;
	char			 ebuf[CURL_ERROR_SIZE] = "", msg[256];
	CURLcode		 res;
	long			 code = 0;

	*grpc = 0;
	buf_reset(out);
	curl_easy_reset(c->easy);
	if (etcdhttp_setup(c->easy, c->fc, endpoint, path, body, c->token,
	    &headers, ETCDHTTP_TIMEOUT_MS) == -1) {
		(void)snprintf(err, size, "cannot make a request");
		return -1;
	}
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, ebuf);
	res = curl_easy_perform(c->easy);
	curl_slist_free_all(headers);
	if (res != CURLE_OK) {
		(void)snprintf(err, size, "%s: %s", endpoint, ebuf[0] != '\0' ?
		    ebuf : curl_easy_strerror(res));
		return 1;
	}
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300)
		return 0;
	if (etcd_parse_error(out->p != NULL ? out->p : "", out->len, grpc, msg,
	    sizeof(msg)) == 1)
		(void)snprintf(err, size, "%s: %s", endpoint, msg);
	else
		(void)snprintf(err, size, "%s: HTTP %ld", endpoint, code);
	/* A member that is not ready (no leader) is as good as unreachable. */
	return code >= 500 ? 1 : -1;
}

/* A token for fleet.username, into c->token; the same returns as call_one. */
static int
authenticate(struct etcdhttp *c, const char *endpoint, struct buf *out,
    char *err, size_t size)
{
	struct buf	body;
	int		grpc, rc;

	buf_init(&body, 0);
	c->token[0] = '\0';
	if (etcd_body_auth(&body, c->fc->username, c->fc->password) == -1) {
		buf_free(&body);
		(void)snprintf(err, size, "out of memory");
		return -1;
	}
	rc = call_one(c, endpoint, "/v3/auth/authenticate", &body, out, &grpc,
	    err, size);
	explicit_bzero(body.p, body.len);
	buf_free(&body);
	if (rc == 0 && etcd_parse_token(out->p, out->len, c->token,
	    sizeof(c->token)) == -1) {
		(void)snprintf(err, size, "%s: no token in the answer to "
		    "authenticate", endpoint);
		return -1;
	}
	return rc;
}

int
etcdhttp_call(struct etcdhttp *c, const char *path, const struct buf *body,
    struct buf *out, char *err, size_t size)
{
	const char	*ep;
	size_t		 i;
	int		 rc = 1, grpc, again;

	for (i = 0; i < c->fc->netcd; i++) {
		ep = c->fc->etcd[(c->next + i) % c->fc->netcd];
		again = 1;
		if (c->fc->username[0] != '\0' && c->token[0] == '\0' &&
		    (rc = authenticate(c, ep, out, err, size)) != 0) {
			if (rc == 1)
				continue;
			return -1;
		}
		while ((rc = call_one(c, ep, path, body, out, &grpc, err,
		    size)) == -1 && grpc == ETCD_CODE_UNAUTHENTICATED &&
		    c->fc->username[0] != '\0' && again) {
			/* The token expired: once more with a new one. */
			again = 0;
			if ((rc = authenticate(c, ep, out, err, size)) != 0)
				break;
		}
		if (rc == 0) {
			c->next = (c->next + i) % c->fc->netcd;
			return 0;
		}
		if (rc == -1)
			return -1;
	}
	return -1;
}
