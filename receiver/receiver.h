/*
 * ferry-receiver: Graphite plaintext on TCP and UDP into the spool.
 */
#ifndef FERRY_RECEIVER_H
#define FERRY_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

#include "metric.h"

struct ferry_conf;
struct spool;

struct ingest_stats {
	uint64_t	accepted;
	uint64_t	rejected[METRIC_NSTATUS];
	uint64_t	dropped;	/* accepted, then lost to a spool error */
	uint64_t	connections;
	uint64_t	evicted;	/* closed, idle longest, to make room */
	uint64_t	refused;	/* clients closed at once (out of memory) */
	uint64_t	unfinished;	/* lines without a newline, not taken */
};

/* ingest.c */
void	ingest_init(const struct ferry_conf *, struct spool *);
/*
 * Validate one line a client sent (no newline) and append it to the spool
 * buffer; its enum metric_status.
 */
int	ingest_client_line(const char *, size_t, int64_t);
/* The lines of a UDP datagram; the last one may lack its newline. */
void	ingest_datagram(const char *, size_t, int64_t);
void	ingest_reject(int, const char *, size_t);
struct ingest_stats *ingest_stats(void);
void	ingest_log_summary(uint64_t);

/* listen.c */
int	listen_init(const struct ferry_conf *, int);
void	listen_close(void);
void	listen_dispatch(void *, uint64_t);
void	listen_expire(uint64_t);
int	listen_nconns(void);
void	listen_reap(void);
void	listen_resume(uint64_t);
uint64_t listen_due(void);
void	listen_tick(uint64_t);
int	listen_parked(void);

#endif
