/*
 * A libFuzzer-compatible driver for builds without libFuzzer (gcc, CI):
 * replays every file named on the command line (or in a named directory),
 * then runs a bounded, seeded mutation loop over them, so `make check`
 * exercises the fuzz target in seconds with ASan and UBSan on. The loop
 * stops after the iterations or the seconds given, whichever comes first.
 *
 *   driver [-n iterations] [-s seed] [-t seconds] corpus-dir-or-files...
 */
#include <sys/stat.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAX_INPUTS	1024
#define MAX_SIZE	8192

static uint8_t	*inputs[MAX_INPUTS];
static size_t	 sizes[MAX_INPUTS];
static int	 ninputs;

static void
load_file(const char *path)
{
	FILE	*f;
	uint8_t	 buf[MAX_SIZE];
	size_t	 n;

	if (ninputs == MAX_INPUTS || (f = fopen(path, "rb")) == NULL)
		return;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if ((inputs[ninputs] = malloc(n ? n : 1)) == NULL)
		return;
	memcpy(inputs[ninputs], buf, n);
	sizes[ninputs++] = n;
	LLVMFuzzerTestOneInput(buf, n);
}

static void
load(const char *path)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;
	char		 p[4096];

	if (stat(path, &st) == -1)
		return;
	if (!S_ISDIR(st.st_mode)) {
		load_file(path);
		return;
	}
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		load_file(p);
	}
	closedir(d);
}

/* Byte flips, inserts of interesting bytes, truncation, splicing. */
static size_t
mutate(uint8_t *buf, size_t n)
{
	static const uint8_t interesting[] = " \t\r\n.-+eE0123456789;=\x00\x7f\xff";
	int	k, ops = 1 + rand() % 4;

	for (k = 0; k < ops; k++) {
		size_t pos = n ? (size_t)rand() % n : 0;

		switch (rand() % 5) {
		case 0:
			if (n)
				buf[pos] ^= 1 << (rand() % 8);
			break;
		case 1:
			if (n < MAX_SIZE) {
				memmove(buf + pos + 1, buf + pos, n - pos);
				buf[pos] = interesting[rand() % (sizeof(interesting) - 1)];
				n++;
			}
			break;
		case 2:
			if (n)
				n = pos;
			break;
		case 3:
			if (n) {
				memmove(buf + pos, buf + pos + 1, n - pos - 1);
				n--;
			}
			break;
		default: {
			int	j = rand() % ninputs;
			size_t	take = sizes[j] < MAX_SIZE - n ? sizes[j] : MAX_SIZE - n;

			memcpy(buf + n, inputs[j], take);
			n += take;
			break;
		}
		}
	}
	return n;
}

int
main(int argc, char *argv[])
{
	uint8_t		 buf[MAX_SIZE];
	struct timespec	 t0, t;
	long		 iterations = 200000, i;
	double		 seconds = 0;
	unsigned	 seed = 1;
	int		 ch;

	while ((ch = getopt(argc, argv, "n:s:t:")) != -1) {
		if (ch == 'n')
			iterations = atol(optarg);
		else if (ch == 's')
			seed = (unsigned)atol(optarg);
		else if (ch == 't')
			seconds = atof(optarg);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (; optind < argc; optind++)
		load(argv[optind]);
	if (ninputs == 0) {
		fprintf(stderr, "driver: no inputs\n");
		return 1;
	}
	srand(seed);
	for (i = 0; i < iterations; i++) {
		int	j;
		size_t	n;

		if (seconds > 0 && i % 256 == 0) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if (t.tv_sec - t0.tv_sec + (t.tv_nsec - t0.tv_nsec) /
			    1e9 >= seconds)
				break;
		}
		j = rand() % ninputs;
		n = sizes[j];
		memcpy(buf, inputs[j], n);
		n = mutate(buf, n);
		LLVMFuzzerTestOneInput(buf, n);
	}
	printf("fuzz: %d inputs replayed, %ld mutations run, seed %u\n",
	    ninputs, i, seed);
	return 0;
}
