/*
 * ui: the page at GET /, so the sink can be looked at as well as queried:
 * the hosts that sent heartbeats, a metric tree, a chart of the selected
 * metrics, a log view that follows. The page is static (index.html, app.css,
 * app.js in sink/ui/); its script reads the same endpoints as any client
 * (/beat, /metrics/find, /render, /store/files, /store/lines, /changes) and
 * draws the chart as SVG itself, so nothing comes from elsewhere and it
 * works offline.
 *
 * The files are compiled into the binary (ui_files.c, written by tools/embed
 * at build time): one program to install, and the page always matches the
 * sink that serves it. GET / is index.html; GET /ui/NAME is any other file.
 */
#include <string.h>

#include "sink.h"

static const struct ui_type {
	const char	*ext;
	const char	*type;
} ui_types[] = {
	{ ".html",	"text/html; charset=utf-8" },
	{ ".css",	"text/css; charset=utf-8" },
	{ ".js",	"text/javascript; charset=utf-8" },
	{ ".svg",	"image/svg+xml" },
	{ ".png",	"image/png" },
	{ ".ico",	"image/x-icon" },
};

static const char *
ui_type(const char *name)
{
	size_t	i, len = strlen(name), elen;

	for (i = 0; i < sizeof(ui_types) / sizeof(ui_types[0]); i++) {
		elen = strlen(ui_types[i].ext);
		if (len > elen && strcmp(name + len - elen, ui_types[i].ext) == 0)
			return ui_types[i].type;
	}
	return "application/octet-stream";
}

static int
ui_serve(struct request *req, const char *name)
{
	const struct ui_file	*f;
	size_t			 i;

	for (i = 0; i < ui_nfiles; i++) {
		f = &ui_files[i];
		if (strcmp(f->name, name) == 0)
			return http_reply_static(req, ui_type(f->name),
			    f->data, f->len, f->etag);
	}
	return http_reply_text(req, 404, "no such file: %s", name);
}

int
ui_page(struct request *req)
{
	return ui_serve(req, "index.html");
}

int
ui_asset(struct request *req)
{
	const char	*path = http_path(req);

	/* The route is "/ui/": what follows is a base name, nothing deeper. */
	path += strlen("/ui/");
	if (strchr(path, '/') != NULL)
		return http_reply_text(req, 404, "no such file: %s", path);
	return ui_serve(req, path);
}
