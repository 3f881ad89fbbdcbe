/*
 * sig: the self-pipe trick. A handler does nothing but write the signal
 * number into a non-blocking pipe; the main loop polls the read end with its
 * other descriptors and handles signals as ordinary events.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sig.h"

static int	sig_pipe[2] = { -1, -1 };

static void
sig_handler(int signo)
{
	int		saved = errno;
	unsigned char	c = (unsigned char)signo;

	(void)!write(sig_pipe[1], &c, 1);
	errno = saved;
}

int
sig_init(const int *signals, int n)
{
	struct sigaction	sa;
	int			i;

	if (sig_pipe[0] == -1 && pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
		log_warn("pipe");
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sig_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < n; i++) {
		if (sigaction(signals[i], &sa, NULL) == -1) {
			log_warn("sigaction %d", signals[i]);
			return -1;
		}
	}
	/* A peer that hangs up must show up as EPIPE, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int
sig_fd(void)
{
	return sig_pipe[0];
}

int
sig_next(void)
{
	unsigned char	c;

	if (sig_pipe[0] == -1 || read(sig_pipe[0], &c, 1) != 1)
		return 0;
	return c;
}

int
sig_quit_requested(void)
{
	int	signo, quit = 0;

	while ((signo = sig_next()) != 0)
		if (signo == SIGTERM || signo == SIGINT)
			quit = 1;
	return quit;
}

void
sig_reset_child(void)
{
	sigset_t	set;
	int		i;

	for (i = 1; i < NSIG; i++)
		signal(i, SIG_DFL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
}
