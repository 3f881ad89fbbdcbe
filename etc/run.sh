#!/bin/sh
# `make run`: the whole suite in the foreground under ./run/, delivering to a
# local ferry-sink. Ctrl-C stops everything.
set -e
: "${FERRY_BIN:=$(pwd)/build/bin}"
ROOT=$(pwd)/run
CONF=$ROOT/etc/opt/ferry/ferry.conf
TCP=${FERRY_RUN_PORT:-2003}
SINK=${FERRY_RUN_SINK_PORT:-8080}

mkdir -p "$ROOT/etc/opt/ferry/conf.d" "$ROOT/etc/opt/ferry/collectors.d" \
    "$ROOT/opt/ferry/collectors"
# The built-in collectors of this build, where an installed ferry has them.
if [ -n "$FERRY_BUILTINS" ] && [ -d "$FERRY_BUILTINS" ]; then
	cp -f "$FERRY_BUILTINS"/* "$ROOT/opt/ferry/collectors/"
fi
if [ ! -f "$CONF" ]; then
	cat > "$CONF" <<CONF
# Written by make run; edit freely, it is kept between runs.
user = ""
receiver { tcp_port = $TCP  udp_port = $TCP }
sink { enabled = true  port = $SINK }
output "sink" { uri = "http://127.0.0.1:$SINK/api/v1/sink" }
# The sink's page lists this host from its heartbeat, and shows ferry's own
# logs, tailed like any others.
periodic { heartbeat_url = "http://127.0.0.1:$SINK/beat"  heartbeat_interval = 10 }
log "ferry" { path = "$ROOT/var/log/ferry/*.log"  from = "start" }
CONF
fi

cat <<MSG
ferry is starting under $ROOT (configuration: $CONF)

  look at it:      http://127.0.0.1:$SINK/   (hosts, metrics, charts, logs)
  send a metric:   echo "foo.bar 42" | nc -q0 127.0.0.1 $TCP
  see it arrive:   curl 'http://127.0.0.1:$SINK/render?target=foo.bar&format=json'
  list metrics:    curl 'http://127.0.0.1:$SINK/metrics/find?query=*'
  your collectors: drop an executable into $ROOT/etc/opt/ferry/collectors.d/
  status:          FERRY_ROOT=$ROOT $FERRY_BIN/ferryctl status
  logs:            tail -f $ROOT/var/log/ferry/*.log

Ctrl-C stops it.
MSG
FERRY_ROOT=$ROOT exec "$FERRY_BIN/ferry-supervisor" -f -c "$CONF"
