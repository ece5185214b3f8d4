#!/bin/sh
# make run [PID=N]: starts pprofd on 127.0.0.1:6060 in development mode,
# attached to process N, or to the bundled demo target (started here and
# stopped when pprofd stops).  Ctrl-C stops both.
set -eu

OUTPUT=${OUTPUT:-build}
LISTEN=${LISTEN:-127.0.0.1:6060}
PID=${1:-}
demo=""

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

if [ -z "$PID" ]; then
	"$OUTPUT/workloads/demo" &
	demo=$!
	PID=$demo
	echo "pprofd: started the demo target, PID $PID (tests/workloads/demo.c)"
fi

cleanup() {
	[ -n "$demo" ] && kill "$demo" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

URL="http://$LISTEN"
cat <<EOT

pprofd will serve process $PID on $URL/ — try, in another terminal:

  curl -s $URL/debug/pprof/                                   # index
  curl -s -o cpu.prof '$URL/debug/pprof/profile?seconds=5'    # 5 s CPU profile
  go tool pprof -top cpu.prof                                 # top functions
  go tool pprof -http=:8081 $URL/debug/pprof/profile?seconds=5  # web UI
  go tool pprof -tags cpu.prof                                # by thread

Ctrl-C stops pprofd${demo:+ and the demo target}.

EOT
APP_ENVIRONMENT=${APP_ENVIRONMENT:-development} ${SUDO:+$SUDO --preserve-env=APP_ENVIRONMENT} \
	"$OUTPUT/pprofd" --pid "$PID" --listen "$LISTEN" ||
	{ rc=$?; [ $rc -eq 0 ] || [ $rc -eq 130 ] || [ $rc -eq 143 ] || exit $rc; }
