/*
 * diskspace: free and used space and inodes of each mounted filesystem
 * (statvfs), under Diamond's names so existing dashboards keep working:
 *
 *	diskspace.<mount>.byte_used byte_free byte_avail byte_percentfree
 *	diskspace.<mount>.inodes_used inodes_free inodes_avail inodes_percentfree
 *
 * <mount> is the mount point with every "/" and "." (and anything else that
 * cannot be in a Graphite name) turned into "_", and "/" itself is "root":
 * /var/log is "_var_log". _free counts what root may still use, _avail
 * what other users may. Unlike Diamond, filesystem labels never replace
 * the mount point, so a name does not change when a disk is relabelled.
 *
 * Which filesystems: every mount of /proc/self/mountinfo except
 *   - pseudo filesystems, which hold no disk space: proc, sysfs, devtmpfs,
 *     devpts, tmpfs, ramfs, cgroup*, overlay (one per container), squashfs
 *     and iso9660 (read-only images, always full), autofs, and the like;
 *   - network, cluster, host-shared and user-space filesystems (nfs*,
 *     cifs, smb3, ceph, 9p, virtiofs, gfs2, ocfs2, gpfs, lustre, fuse.*):
 *     statvfs() on one whose server is gone blocks without end, which
 *     would stop every other filesystem's figures (and, inline, the whole
 *     of ferry-collectors), and the space is better measured on the
 *     server. fuseblk (NTFS, exFAT disks) is kept;
 *   - mount points under /proc, /sys and /dev;
 *   - a second mount of a filesystem already reported (bind mounts), and a
 *     mount hidden under a later one on the same mount point.
 * -t TYPE (repeatable) reports filesystems of that type after all, e.g.
 * -t tmpfs or -t nfs4.
 *
 * All gauges: nothing to remember between two samples.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include "builtin.h"
#include "collect.h"
#include "log.h"
#include "procfs.h"

#define MOUNTINFO_PATH	"/proc/self/mountinfo"
#define MAXTYPES	16
#define MAXDEVS		1024	/* filesystems remembered to skip bind mounts */

static const char *const skip_types[] = {
	/* pseudo */
	"autofs", "binfmt_misc", "bpf", "configfs", "debugfs", "devpts",
	"devtmpfs", "efivarfs", "fusectl", "hugetlbfs", "iso9660", "mqueue",
	"nsfs", "overlay", "proc", "pstore", "ramfs", "rootfs", "rpc_pipefs",
	"securityfs", "selinuxfs", "squashfs", "sysfs", "tmpfs", "tracefs",
	"nfsd", "binder", "none",
	/* network, cluster, host-shared and user space */
	"nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "9p",
	"afs", "lustre", "fuse", "virtiofs", "gfs2", "ocfs2", "gpfs", "beegfs",
	"orangefs", "coda", "ncpfs",
};

struct diskspace {
	struct collect	*c;
	const char	*types[MAXTYPES];	/* -t: reported after all */
	int		 ntypes;
	dev_t		 seen[MAXDEVS];
	int		 nseen;
};

static int
option(int ch, const char *arg, void *p)
{
	struct diskspace	*ds = p;

	if (ch != 't' || ds->ntypes == MAXTYPES) {
		if (ch == 't')
			log_warnx("at most %d -t types", MAXTYPES);
		return -1;
	}
	ds->types[ds->ntypes++] = arg;
	return 0;
}

static int
wanted_type(const struct diskspace *ds, const char *type)
{
	size_t	i;
	int	j;

	for (j = 0; j < ds->ntypes; j++)
		if (strcmp(type, ds->types[j]) == 0)
			return 1;
	if (strncmp(type, "cgroup", 6) == 0 || strncmp(type, "fuse.", 5) == 0)
		return 0;
	for (i = 0; i < sizeof(skip_types) / sizeof(skip_types[0]); i++)
		if (strcmp(type, skip_types[i]) == 0)
			return 0;
	return 1;
}

static int
under(const char *path, const char *dir)
{
	size_t	len = strlen(dir);

	return strncmp(path, dir, len) == 0 &&
	    (path[len] == '/' || path[len] == '\0');
}

/* 1 when dev was reported already; else remembers it. */
static int
seen(struct diskspace *ds, dev_t dev)
{
	int	i;

	for (i = 0; i < ds->nseen; i++)
		if (ds->seen[i] == dev)
			return 1;
	if (ds->nseen < MAXDEVS)
		ds->seen[ds->nseen++] = dev;
	return 0;
}

static void
report(struct collect *c, const char *name, const struct statvfs *vfs)
{
	uint64_t	bs = vfs->f_frsize != 0 ? vfs->f_frsize : vfs->f_bsize;

	collect_u64(c, (uint64_t)(vfs->f_blocks - vfs->f_bfree) * bs,
	    "diskspace.%s.byte_used", name);
	collect_u64(c, (uint64_t)vfs->f_bfree * bs, "diskspace.%s.byte_free", name);
	collect_u64(c, (uint64_t)vfs->f_bavail * bs,
	    "diskspace.%s.byte_avail", name);
	if (vfs->f_blocks > 0)
		collect_f(c, 100.0 * (double)vfs->f_bfree / (double)vfs->f_blocks,
		    "diskspace.%s.byte_percentfree", name);
	/* Some filesystems (btrfs, vfat) have no inode table: f_files is 0. */
	if (vfs->f_files == 0)
		return;
	collect_u64(c, (uint64_t)(vfs->f_files - vfs->f_ffree),
	    "diskspace.%s.inodes_used", name);
	collect_u64(c, (uint64_t)vfs->f_ffree, "diskspace.%s.inodes_free", name);
	collect_u64(c, (uint64_t)vfs->f_favail, "diskspace.%s.inodes_avail", name);
	collect_f(c, 100.0 * (double)vfs->f_ffree / (double)vfs->f_files,
	    "diskspace.%s.inodes_percentfree", name);
}

/*
 * "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw": the
 * optional fields before "-" vary in number.
 */
static int
line(char *l, void *p)
{
	struct diskspace	*ds = p;
	struct statvfs		 vfs;
	struct stat		 st;
	char			*f[32], *mnt, *type = NULL, name[200], *colon;
	uint64_t		 major, minor;
	int			 n, i;

	n = procfs_split(l, f, 32);
	for (i = 6; i + 1 < n; i++) {
		if (strcmp(f[i], "-") == 0) {
			type = f[i + 1];
			break;
		}
	}
	/* major:minor, each checked (sscanf's %u would take anything). */
	if (type == NULL || (colon = strchr(f[2], ':')) == NULL)
		return 0;
	*colon = '\0';
	if (procfs_u64(f[2], &major) == -1 || procfs_u64(colon + 1, &minor) == -1 ||
	    major > UINT32_MAX || minor > UINT32_MAX)
		return 0;
	mnt = f[4];
	procfs_unescape(mnt);
	if (!wanted_type(ds, type) || mnt[0] != '/' || under(mnt, "/proc") ||
	    under(mnt, "/sys") || under(mnt, "/dev"))
		return 0;
	/* A mount hidden under a later one: stat() sees the later one. */
	if (stat(mnt, &st) == -1 || st.st_dev != makedev(major, minor) ||
	    seen(ds, st.st_dev))
		return 0;
	if (strcmp(mnt, "/") == 0)
		strcpy(name, "root");
	else if (procfs_name(name, sizeof(name), mnt) >= sizeof(name)) {
		log_debug("%s: mount point too long for a metric name", mnt);
		return 0;
	}
	if (statvfs(mnt, &vfs) == -1) {
		log_debug("statvfs %s: skipped", mnt);
		return 0;
	}
	report(ds->c, name, &vfs);
	return 0;
}

static void
sample(struct collect *c, void *arg)
{
	struct diskspace	*ds = arg;

	ds->c = c;
	ds->nseen = 0;
	if (procfs_lines(MOUNTINFO_PATH, line, ds) == -1)
		collect_warn(ds->c, "%s", MOUNTINFO_PATH);
}

static struct diskspace	diskspace_state;

const struct collect_def builtin_diskspace = {
	.name = "diskspace",
	.counters = 0,
	.opts = "t:",
	.usage = "[-t type]...",
	.option = option,
	.sample = sample,
	.arg = &diskspace_state,
};
