# ferry's folders and modes (included in the deb's postinst and the rpm's
# %post by pkg/build.sh): the configuration is root's and readable by the
# ferry group only (it may hold API keys), the state and the logs are the
# ferry user's and no one else's, and so is conf.d/fleet, where ferry-fleet
# writes the drains it reads from etcd (the one place of /etc it writes). They are set again at each upgrade, except
# where the administrator chose others with dpkg-statoverride.
ferry_mode() {	# owner group mode path
	[ -e "$4" ] || return 0		# a configuration file the operator deleted
	if command -v dpkg-statoverride >/dev/null 2>&1 &&
	    dpkg-statoverride --list "$4" >/dev/null 2>&1; then
		return 0
	fi
	chown "$1:$2" "$4"
	chmod "$3" "$4"
}
for d in /var/opt/ferry /var/log/ferry /etc/opt/ferry/conf.d/fleet; do
	[ -d "$d" ] || mkdir -p "$d"
	ferry_mode ferry ferry 0750 "$d"
done
ferry_mode root ferry 0640 /etc/opt/ferry/ferry.conf
ferry_mode root ferry 0750 /etc/opt/ferry/conf.d
