# shellcheck shell=bash
# Helpers shared by the deploy scripts: messages, pid files, ports. Sourced, not run.
# Nothing here kills by name: processes are found through pid files and checked before
# a signal is sent, so a reused pid never hits a stranger.

say() { printf '%s\n' "stack: $*" >&2; }
die() { printf '%s\n' "stack: error: $*" >&2; exit 1; }

# Last lines of a log file, indented, for error messages.
show_log_tail() { # file [lines]
  local f=$1 n=${2:-20}
  [ -s "$f" ] || return 0
  printf '%s\n' "--- last $n lines of $f ---" >&2
  tail -n "$n" "$f" | sed 's/^/  /' >&2
}

# Random lowercase hex, safe inside URLs, config files and SQL literals.
random_hex() { # bytes
  od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

# --- processes -------------------------------------------------------------------------

pid_alive() { # pid
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null
}

# The command line of a live pid with NULs turned into spaces ("" when gone).
pid_cmdline() { # pid
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true
}

# Prints the pid in the pid file when that process is alive and its command line contains
# `marker` (a path unique to this stack); prints nothing otherwise.
pidfile_pid() { # pidfile marker
  local pidf=$1 marker=$2 pid
  [ -s "$pidf" ] || return 0
  pid=$(head -n1 "$pidf" | tr -dc '0-9')
  pid_alive "$pid" || return 0
  case "$(pid_cmdline "$pid")" in
    *"$marker"*) printf '%s\n' "$pid" ;;
  esac
}

# Waits until pid exits; returns 1 on timeout.
wait_pid_gone() { # pid seconds
  local pid=$1 deadline=$((SECONDS + $2))
  while pid_alive "$pid"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# Sends `sig`, waits `grace` seconds, then SIGKILL. Only for pids checked by pidfile_pid.
stop_pid() { # pid name sig grace
  local pid=$1 name=$2 sig=$3 grace=$4
  kill -s "$sig" "$pid" 2>/dev/null || return 0
  if ! wait_pid_gone "$pid" "$grace"; then
    say "$name (pid $pid) still running after ${grace}s: SIGKILL"
    kill -s KILL "$pid" 2>/dev/null || true
    wait_pid_gone "$pid" 5 || die "$name (pid $pid) survived SIGKILL"
  fi
}

# --- ports -----------------------------------------------------------------------------

# True when something listens on TCP `port` (any address: 127.0.0.1 must be free too).
port_in_use() { # port
  local port=$1
  if command -v ss >/dev/null 2>&1; then
    [ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

# Who listens on `port`, for error messages (needs root for other users' processes).
port_owner() { # port
  command -v ss >/dev/null 2>&1 || return 0
  ss -Htlnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n1
}

# A free port below Linux's ephemeral range (32768+), where outgoing connections do not
# take it from under us between the check and the bind.
pick_free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$((15000 + RANDOM % 17000))
    port_in_use "$port" || { printf '%s\n' "$port"; return 0; }
  done
  die "found no free TCP port in 15000-31999"
}

# --- files -----------------------------------------------------------------------------

# Reads KEY from a KEY=VALUE file without sourcing it.
env_file_get() { # file key
  [ -f "$1" ] || return 0
  sed -n "s/^$2=//p" "$1" | tail -n1
}

# Each parent of `path` must be searchable by `user`, or daemons running as that user
# (postgres, nginx workers) cannot reach it. Names the first directory that blocks.
check_reachable_by() { # user path what
  local user=$1 path=$2 what=$3 dir="" part
  local IFS=/
  for part in $path; do
    [ -n "$part" ] || continue
    dir="$dir/$part"
    [ -d "$dir" ] || break
    if ! runuser -u "$user" -- test -x "$dir" 2>/dev/null; then
      die "$what: user '$user' cannot enter $dir (needs o+x, e.g. chmod o+x '$dir'), or put STATE= somewhere else"
    fi
  done
}

# For a script that runs against a stack of its own in $STATE on $PORT (make test, make fuzz):
# stops a stack left over from an interrupted run there, removes what stack.sh created (a fresh
# cluster each run; KEEP_STATE=1 keeps it), starts the stack, exports run.env (OPS_URL, tokens,
# OPS_DATABASE_URL, ...) and takes the stack down when the script exits — also when a step
# fails or the run is interrupted. $1 names the run in the failure message.
OWN_STACK_SH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/stack.sh
own_stack_up() { # what
  OWN_STACK_WHAT=$1
  "$OWN_STACK_SH" down
  if [ "${KEEP_STATE:-0}" != 1 ] && [ -d "$STATE" ]; then
    rm -rf "$STATE/pg" "$STATE/run" "$STATE/logs" "$STATE/nginx" "$STATE/run.env"
  fi
  trap own_stack_teardown EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  "$OWN_STACK_SH" up
  set -a
  . "$STATE/run.env"
  set +a
}
own_stack_teardown() {
  local rc=$?
  # A second Ctrl-C must not cut the teardown short: ignored here, and so in `down` too.
  trap '' INT TERM
  trap - EXIT
  "$OWN_STACK_SH" down || rc=1
  [ "$rc" -eq 0 ] || say "$OWN_STACK_WHAT failed (exit $rc); the stack's logs are in $STATE/logs"
  exit "$rc"
}
