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
void	sig_reset_child(void);		/* in a forked child, before exec */

#endif
