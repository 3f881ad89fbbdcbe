/*
 * sig: signals turned into readable events. Handlers only write the signal
 * number to a self-pipe; the main loop polls sig_fd() with its sockets and
 * calls sig_next() to learn what arrived, so no signal slips in between a
 * check and a wait.
 */
#ifndef FERRY_SIG_H
#define FERRY_SIG_H

int	sig_init(const int *, int);	/* catch these signals; 0 or -1 */
int	sig_fd(void);			/* readable when a signal arrived */
int	sig_next(void);			/* next pending signal, 0 when none */
/*
 * Read every pending signal; 1 when SIGTERM or SIGINT was among them. For a
 * child that has nothing to do on the others: the supervisor restarts it
 * when its configuration changes, and it owns the log files.
 */
int	sig_quit_requested(void);
void	sig_reset_child(void);		/* in a forked child, before exec */

#endif
