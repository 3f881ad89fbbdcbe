# ferry's system user and group, made when missing (included in the deb's
# postinst and the rpm's %pre by pkg/build.sh). useradd and groupadd come
# with every base system (Debian's passwd is priority required, RHEL's
# shadow-utils is in @core), so this needs no dependency of its own. Its
# home is the state folder, and it cannot log in.
if ! getent group ferry >/dev/null; then
	groupadd --system ferry
fi
# A new user joins adm where there is one (Debian's group for reading
# /var/log: nginx's and Apache's logs, syslog's files are root:adm or
# www-data:adm 0640), so the logs ferry-tail follows and discovers are
# readable without more; only when made, so an operator's removal stands.
if ! getent passwd ferry >/dev/null; then
	useradd --system --gid ferry --home-dir /var/opt/ferry --no-create-home \
	    --shell /usr/sbin/nologin --comment "ferry host agent" ferry
	if getent group adm >/dev/null; then
		usermod -a -G adm ferry
	fi
fi
