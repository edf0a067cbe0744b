#!/bin/bash
# test-packages.sh: CI test of the .deb packages: build, lintian, install, run as the service user, SDK example, purge.
#
# Usage (as root, on a throwaway machine or container: it installs packages and creates the
# switchyard system user):
#   bash packaging/test-packages.sh [BUILD_DIR]      # default BUILD_DIR: <source>/build-deb
# A BUILD_DIR without CMakeCache.txt is built here with scripts/build (the flags Debian builds
# packages with: dpkg-buildflags, hardening=+all), tests off; an existing one (CI passes build/,
# the build its suite just ran) is packaged as it is.
# Then: `cmake --build BUILD_DIR --target package`, lintian, `dpkg -i`, the installed binary
# against a private redis-server, the out-of-tree example plugin built against the installed
# SDK only, `dpkg -r`, `dpkg -P`, and a check that nothing is left behind.
#
# Needs (Debian packages): cmake ninja-build g++ pkgconf dpkg-dev file lintian man-db systemd
# adduser redis-server redis-tools sqlite3 util-linux, plus the project's build dependencies.
# systemd need not be running: the live service test runs only where it is (else SKIP).
#
# Prints one PASS/FAIL/SKIP line per check and "packages: N passed, N failed" at the end; exits
# non-zero when any check failed. SWITCHYARD_PKG_TEST_KEEP=1 keeps the temp dir and the
# installed packages after a failure, for debugging.
set -u -o pipefail
umask 022

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$SRC/build-deb}
mkdir -p "$BUILD" && BUILD=$(cd "$BUILD" && pwd)
KEEP=${SWITCHYARD_PKG_TEST_KEEP:-0}
POLL_SECONDS=${SWITCHYARD_PKG_TEST_TIMEOUT:-30}

passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
skip() { echo "SKIP: $*"; }
info() { echo "  .. $*"; }
# check DESCRIPTION CMD...: runs CMD (output to the log), PASS or FAIL with the log's tail.
check() {
  local what=$1; shift
  local log
  log=$(mktemp)
  if "$@" >"$log" 2>&1; then
    pass "$what"
  else
    fail "$what (exit $?: $*)"
    sed 's/^/     | /' "$log" | tail -n 25
  fi
  rm -f "$log"
}
# finish: the summary line and the exit code.
finish() {
  echo "packages: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}
# abort WHY: a check that later ones depend on failed.
abort() {
  fail "$*"
  echo "     (stopping: the remaining checks depend on this one)"
  finish
}
# wait_for SECONDS CMD...: polls CMD every 0.2 s until it succeeds or SECONDS pass.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.2
  done
}
# as_switchyard CMD...: runs CMD as the switchyard system user with a clean environment, as the
# service does (setpriv execs, so $! of a background call is the daemon itself).
as_switchyard() {
  setpriv --reuid=switchyard --regid=switchyard --init-groups --reset-env -- "$@"
}
# installed PKG: true when dpkg has PKG in any state but not-installed (config-files counts).
installed() {
  dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^.[^n]'
}
export -f as_switchyard installed

# --- preconditions ---
if [ "$(id -u)" != 0 ]; then
  echo "FAIL: run as root (it installs packages and creates a system user)"
  exit 1
fi
missing=""
for tool in cmake g++ dpkg-deb dpkg-buildflags dpkg-shlibdeps file lintian man systemd-analyze \
            redis-server redis-cli sqlite3 setpriv adduser gzip; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -z "$missing" ] || abort "missing tools:$missing (apt-get install cmake ninja-build g++ dpkg-dev file lintian man-db systemd adduser redis-server redis-tools sqlite3)"

T=$(mktemp -d /tmp/switchyard-pkg-test.XXXXXX)
chmod 0755 "$T"   # the switchyard user reads configs and reaches the Redis socket in here
REDIS_PID=""
DAEMON_PID=""
PURGED=0
cleanup() {
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
  rm -rf /run/systemd/system/switchyard.service.d/50-package-test.conf
  if [ "$KEEP" = 1 ] && [ "$failed" -gt 0 ]; then
    echo "  .. kept $T and the installed packages (SWITCHYARD_PKG_TEST_KEEP=1)"
    return
  fi
  if [ "$PURGED" = 0 ] && { installed switchyard || installed switchyard-dev; }; then
    dpkg -P switchyard switchyard-dev >/dev/null 2>&1
  fi
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. build the packages ---
echo "== build ($BUILD)"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  # scripts/build builds with dpkg-buildflags (hardening=+all), as Debian builds packages.
  check "build $BUILD with scripts/build (dpkg-buildflags, tests off)" \
    env BUILD_DIR="$BUILD" SANITIZE=0 "$SRC/scripts/build" -DSWITCHYARD_BUILD_TESTS=OFF
  [ "$failed" -eq 0 ] || abort "cannot build"
fi
VERSION=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD/CMakeCache.txt")
[ -n "$VERSION" ] || abort "no CMAKE_PROJECT_VERSION in $BUILD/CMakeCache.txt"
ARCH=$(dpkg --print-architecture)
rm -f "$BUILD"/switchyard_*.deb "$BUILD"/switchyard-dev_*.deb
check "cmake --build $BUILD --target package" cmake --build "$BUILD" --target package
DEB="$BUILD/switchyard_${VERSION}_${ARCH}.deb"
DEV="$BUILD/switchyard-dev_${VERSION}_all.deb"
[ -f "$DEB" ] && [ -f "$DEV" ] || abort "expected $(basename "$DEB") and $(basename "$DEV"); got: $(cd "$BUILD" && ls ./*.deb 2>/dev/null | tr '\n' ' ')"
pass "built $(basename "$DEB") and $(basename "$DEV") (version $VERSION from project(VERSION))"

# --- 2. package contents and metadata ---
echo "== contents"
contents=$(dpkg-deb -c "$DEB" | awk '{print $6}')
dev_contents=$(dpkg-deb -c "$DEV" | awk '{print $6}')
has_binary=1
for f in ./usr/bin/switchyard ./usr/lib/switchyard/plugins/user_registered_sink.so \
         ./usr/lib/switchyard/plugins/quote_created_sink.so ./usr/lib/switchyard/plugins/jsonl_sink.so \
         ./usr/lib/switchyard/plugins/sql_sink.so \
         ./etc/switchyard/routes.yaml ./lib/systemd/system/switchyard.service \
         ./usr/share/man/man1/switchyard.1.gz ./usr/share/doc/switchyard/copyright \
         ./usr/share/doc/switchyard/changelog.gz \
         ./usr/share/switchyard/prometheus/switchyard-rules.yml \
         ./usr/share/switchyard/grafana/switchyard-dashboard.json \
         ./usr/share/bash-completion/completions/switchyard \
         ./usr/share/zsh/vendor-completions/_switchyard; do
  if grep -qx -- "$f" <<<"$contents"; then pass "switchyard ships ${f#.}"; else fail "switchyard lacks ${f#.}"; fi
done
grep -qx -- ./usr/bin/switchyard <<<"$contents" || has_binary=0
for f in ./usr/include/switchyard/plugin.h ./usr/include/switchyard/handler.hpp \
         ./usr/include/switchyard/payload.hpp ./usr/include/switchyard/version.h \
         ./usr/lib/cmake/Switchyard/SwitchyardConfig.cmake \
         ./usr/lib/cmake/Switchyard/SwitchyardConfigVersion.cmake \
         ./usr/lib/cmake/Switchyard/SwitchyardTargets.cmake \
         ./usr/lib/cmake/Switchyard/SwitchyardPlugin.cmake ./usr/share/doc/switchyard-dev/copyright; do
  if grep -qx -- "$f" <<<"$dev_contents"; then pass "switchyard-dev ships ${f#.}"; else fail "switchyard-dev lacks ${f#.}"; fi
done
check "conffiles lists /etc/switchyard/routes.yaml" \
  bash -c "dpkg-deb --ctrl-tarfile '$DEB' | tar -xO ./conffiles | grep -qx /etc/switchyard/routes.yaml"
check "switchyard Recommends: redis-server" \
  bash -c "dpkg-deb -f '$DEB' Recommends | grep -qw redis-server"
check "switchyard Depends (shlibdeps) name libc6 and adduser" \
  bash -c "dpkg-deb -f '$DEB' Depends | grep -q libc6 && dpkg-deb -f '$DEB' Depends | grep -qw adduser"
check "switchyard-dev Depends: rapidjson-dev, Suggests: cmake" \
  bash -c "dpkg-deb -f '$DEV' Depends | grep -qw rapidjson-dev && dpkg-deb -f '$DEV' Suggests | grep -qw cmake"
check "version.h carries $VERSION" \
  bash -c "dpkg-deb --fsys-tarfile '$DEV' | tar -xO ./usr/include/switchyard/version.h | grep -q 'SWITCHYARD_VERSION_STRING \"$VERSION\"'"

# --- 3. lintian ---
echo "== lintian"
# Every override shipped must be justified by a comment line right above it.
for o in "$SRC"/packaging/lintian-overrides/*; do
  [ -f "$o" ] || continue
  if awk 'BEGIN{c=0} /^#/{c=1; next} /^[[:space:]]*$/{c=0; next} { if(!c) bad=1; c=1 } END{exit bad}' "$o"; then
    pass "every override in packaging/lintian-overrides/$(basename "$o") has a comment"
  else
    fail "packaging/lintian-overrides/$(basename "$o") has an override without a comment above it"
  fi
done
lintian_log="$T/lintian.log"
if lintian --fail-on error --display-info --pedantic "$DEB" "$DEV" >"$lintian_log" 2>&1; then
  pass "lintian: no errors"
else
  fail "lintian reported errors"
fi
grep -E '^[EWIPX]: ' "$lintian_log" | sed 's/^/     | /'
if grep -q ' binary-has-unneeded-section ' "$lintian_log"; then
  fail "lintian: a shipped binary keeps a .comment section (packaging/CMakeLists.txt strips them)"
fi
if grep -qE ' (unused|mismatched)-override ' "$lintian_log"; then
  fail "lintian: an override no longer matches (fix or remove it)"
fi

# --- 4. install ---
echo "== install"
for p in switchyard switchyard-dev; do
  if installed "$p"; then
    info "purging $p left by an earlier run"
    dpkg -P "$p" >/dev/null
  fi
done
if dpkg -i "$DEV" "$DEB" >"$T/dpkg-i.log" 2>&1; then
  pass "dpkg -i both packages"
else
  sed 's/^/     | /' "$T/dpkg-i.log" | tail -n 20
  abort "dpkg -i failed (missing dependencies? apt-get install the Depends listed above)"
fi
check "system user switchyard exists (uid < 1000, home /var/lib/switchyard)" \
  bash -c '[ "$(getent passwd switchyard | cut -d: -f3)" -lt 1000 ] && [ "$(getent passwd switchyard | cut -d: -f6)" = /var/lib/switchyard ]'
check "system group switchyard exists" getent group switchyard
check "/var/lib/switchyard is owned by switchyard:switchyard" \
  bash -c '[ "$(stat -c %U:%G /var/lib/switchyard)" = switchyard:switchyard ]'
check "/etc/switchyard/routes.yaml is root:switchyard 0640 (not world-readable)" \
  bash -c '[ "$(stat -c %U:%G:%a /etc/switchyard/routes.yaml)" = root:switchyard:640 ]'
check "dpkg knows /etc/switchyard/routes.yaml as a conffile" \
  bash -c "dpkg-query -W -f='\${Conffiles}' switchyard | grep -q /etc/switchyard/routes.yaml"
check "man switchyard finds the installed page" bash -c 'man -w switchyard | grep -q /usr/share/man/man1/switchyard.1.gz'
check "the man page renders without warnings" \
  bash -c 'out=$(LC_ALL=C.UTF-8 MANROFFSEQ= MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z /usr/share/man/man1/switchyard.1.gz 2>&1 >/dev/null); [ -z "$out" ] || { echo "$out"; false; }'

# The unit is verified where it is installed, so its ExecStart binary and man page exist. In a
# container without systemd running, `systemd-analyze verify` still loads and checks the unit
# file offline (it creates no manager connection); it needs only the systemd package.
if [ "$has_binary" = 1 ]; then
  check "systemd-analyze verify switchyard.service" systemd-analyze verify /lib/systemd/system/switchyard.service
else
  # Without the binary the ExecStart= check cannot pass: verify a copy pointing at a stub.
  mkdir -p "$T/unit" && printf '#!/bin/sh\nexit 0\n' >"$T/unit/switchyard" && chmod 755 "$T/unit/switchyard"
  sed "s#/usr/bin/switchyard#$T/unit/switchyard#g" /lib/systemd/system/switchyard.service >"$T/unit/switchyard.service"
  check "systemd-analyze verify switchyard.service (ExecStart pointed at a stub)" \
    systemd-analyze verify "$T/unit/switchyard.service"
fi
exposure=$(systemd-analyze security --offline=yes /lib/systemd/system/switchyard.service 2>/dev/null \
           | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN{exit !(e <= 2.0)}'; then
  pass "systemd-analyze security: exposure $exposure (<= 2.0)"
else
  fail "systemd-analyze security: exposure '${exposure:-?}' (want <= 2.0)"
fi

if [ "$has_binary" = 0 ]; then
  fail "the package has no /usr/bin/switchyard: skipping every check that runs the daemon"
else
  # --- 5. the installed binary ---
  echo "== installed binary"
  check "switchyard version prints $VERSION" bash -c "switchyard version | tee /dev/stderr | grep -q '$VERSION'"
  check "switchyard --help" switchyard --help
  check "switchyard --version prints $VERSION" bash -c "switchyard --version | grep -q '$VERSION'"
  check "the installed bash completion offers the commands" \
    bash -c 'source /usr/share/bash-completion/completions/switchyard && COMP_WORDS=(switchyard "") \
             COMP_CWORD=1 && _switchyard && printf "%s\n" "${COMPREPLY[@]}" | grep -qx dlq'
  if command -v promtool >/dev/null 2>&1; then
    check "promtool check rules on the installed alert rules" \
      promtool check rules /usr/share/switchyard/prometheus/switchyard-rules.yml
  else
    skip "promtool check rules (no promtool: apt-get install prometheus)"
  fi
  check "switchyard check -c /etc/switchyard/routes.yaml (as the switchyard user, no Redis needed)" \
    as_switchyard /usr/bin/switchyard check -c /etc/switchyard/routes.yaml

  # A private Redis on a unix socket (no TCP port), owned by this test.
  redis-server --port 0 --unixsocket "$T/redis.sock" --unixsocketperm 777 --dir "$T" \
    --save '' --appendonly no --daemonize no >"$T/redis.log" 2>&1 &
  REDIS_PID=$!
  if wait_for 10 redis-cli -s "$T/redis.sock" ping; then
    pass "test redis-server on $T/redis.sock"
  else
    sed 's/^/     | /' "$T/redis.log" | tail -n 10
    abort "test redis-server did not start"
  fi
  R="redis-cli -s $T/redis.sock"

  # start_daemon CONFIG LOG: runs the installed binary as the switchyard user in the background.
  # setpriv is started directly (a shell function would fork a subshell), so $! is the daemon.
  # Lock and pid files need a directory only the service user writes (systemd gives it
  # RuntimeDirectory=; here, as there, never /tmp).
  DAEMON_RUN_DIR="$T/run"
  mkdir -p "$DAEMON_RUN_DIR" && chown switchyard:switchyard "$DAEMON_RUN_DIR" && chmod 0700 "$DAEMON_RUN_DIR"
  start_daemon() {
    setpriv --reuid=switchyard --regid=switchyard --init-groups --reset-env -- \
      env RUNTIME_DIRECTORY="$DAEMON_RUN_DIR" /usr/bin/switchyard run -c "$1" >"$2" 2>&1 &
    DAEMON_PID=$!
  }
  # stop_daemon LOG: SIGTERM, then a bounded wait; PASS when it exits 0.
  stop_daemon() {
    local rc
    kill -TERM "$DAEMON_PID" 2>/dev/null
    if wait_for 20 bash -c "! kill -0 $DAEMON_PID"; then
      wait "$DAEMON_PID"; rc=$?
      if [ "$rc" = 0 ]; then pass "daemon stopped on SIGTERM with exit 0"; else fail "daemon exit $rc on SIGTERM"; sed 's/^/     | /' "$1" | tail -n 20; fi
    else
      fail "daemon still running 20 s after SIGTERM"
      kill -KILL "$DAEMON_PID" 2>/dev/null; wait "$DAEMON_PID" 2>/dev/null
    fi
    DAEMON_PID=""
  }
  # rows DB TABLE: the row count, read as the switchyard user (so no root-owned -shm/-wal files).
  rows() { as_switchyard /usr/bin/sqlite3 -readonly "$1" "SELECT count(*) FROM $2" 2>/dev/null; }
  export -f rows
  # publish CONFIG EVENT PAYLOAD...: one `switchyard publish` per payload, as root.
  publish() {
    local config=$1 event=$2; shift 2
    for payload in "$@"; do switchyard publish -c "$config" "$event" "$payload" || return 1; done
  }

  # --- 6. consume events and write the database under /var/lib/switchyard ---
  echo "== daemon as the switchyard user"
  cat >"$T/routes.yaml" <<EOF
# Package test: the bundled SQLite sinks, Redis on a private unix socket, default plugins dir.
version: 1
redis: { url: "unix://$T/redis.sock" }
sources:
  analytics: { key: pkgtest }
handlers:
  users_db: { plugin: user_registered_sink, config: { database: /var/lib/switchyard/test.db } }
  quotes_db: { plugin: quote_created_sink, config: { database: /var/lib/switchyard/test.db } }
routes:
  user.registered: [users_db]
  quote.created: [quotes_db]
shutdown_timeout: 5s
EOF
  chmod 0644 "$T/routes.yaml"
  check "switchyard check with the test config (bundled plugins from ../lib/switchyard/plugins)" \
    as_switchyard /usr/bin/switchyard check -c "$T/routes.yaml"
  start_daemon "$T/routes.yaml" "$T/run.log"
  now=$(date -u +%Y-%m-%dT%H:%M:%S+00:00)
  check "publish 3 user.registered events" publish "$T/routes.yaml" user.registered \
    "{\"user_id\":1,\"email\":\"u1@example.org\",\"name\":\"U1\",\"created_at\":\"$now\"}" \
    "{\"user_id\":2,\"email\":\"u2@example.org\",\"name\":\"U2\",\"created_at\":\"$now\"}" \
    "{\"user_id\":3,\"email\":\"u3@example.org\",\"name\":\"U3\",\"created_at\":\"$now\"}"
  check "publish 2 quote.created events" publish "$T/routes.yaml" quote.created \
    "{\"quote_id\":1,\"user_id\":1,\"product_id\":7,\"qty\":1,\"created_at\":\"$now\"}" \
    "{\"quote_id\":2,\"user_id\":2,\"product_id\":7,\"qty\":2,\"created_at\":\"$now\"}"
  check "publish 1 quote.created event without qty (to be dead-lettered)" \
    switchyard publish -c "$T/routes.yaml" quote.created '{"quote_id":99,"user_id":1,"product_id":7}'
  if wait_for "$POLL_SECONDS" bash -c '[ "$(rows /var/lib/switchyard/test.db user_registrations)" = 3 ] && [ "$(rows /var/lib/switchyard/test.db quotes)" = 2 ]'; then
    pass "3 user_registrations and 2 quotes rows in /var/lib/switchyard/test.db"
  else
    fail "rows in /var/lib/switchyard/test.db after ${POLL_SECONDS}s: users=$(rows /var/lib/switchyard/test.db user_registrations) quotes=$(rows /var/lib/switchyard/test.db quotes) (want 3 and 2)"
    sed 's/^/     | /' "$T/run.log" | tail -n 20
  fi
  check "test.db is owned by the switchyard user" bash -c '[ "$(stat -c %U /var/lib/switchyard/test.db)" = switchyard ]'
  if wait_for "$POLL_SECONDS" bash -c "[ \"\$($R LLEN pkgtest:dead)\" = 1 ]"; then
    pass "the quote without qty is a dead letter in pkgtest:dead"
  else
    fail "pkgtest:dead has $($R LLEN pkgtest:dead) elements after ${POLL_SECONDS}s (want 1)"
  fi
  stop_daemon "$T/run.log"

  # --- 7. the out-of-tree example plugin, built against the installed switchyard-dev only ---
  echo "== sdk/examples/hello_sink against the installed SDK"
  cp -r "$SRC/sdk/examples/hello_sink" "$T/hello_sink"
  rm -rf "$T/hello_sink/build"
  # No path into the source or build tree: only what find_package finds in /usr.
  generator=()
  command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
  check "configure hello_sink (find_package(Switchyard) from /usr)" \
    env -u CMAKE_PREFIX_PATH cmake -S "$T/hello_sink" -B "$T/hello_sink/build" "${generator[@]}" \
      -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  check "hello_sink used /usr/lib/cmake/Switchyard" \
    grep -qx 'Switchyard_DIR:PATH=/usr/lib/cmake/Switchyard' "$T/hello_sink/build/CMakeCache.txt"
  check "build hello_sink.so" cmake --build "$T/hello_sink/build"
  check "hello_sink.so exports only the entry point" bash -c \
    "[ \"\$(nm -D --defined-only '$T/hello_sink/build/hello_sink.so' | grep -c ' T ')\" = 1 ] && nm -D --defined-only '$T/hello_sink/build/hello_sink.so' | grep -q ' T switchyard_plugin_entry_v1'"
  mkdir -p "$T/plugins"
  cp "$T/hello_sink/build/hello_sink.so" "$T/plugins/"
  chmod 0644 "$T/plugins/hello_sink.so"
  cat >"$T/hello.yaml" <<EOF
# Package test: route hello.* events to the out-of-tree hello_sink plugin.
version: 1
redis: { url: "unix://$T/redis.sock" }
plugins_dir: $T/plugins
sources:
  hello: { key: pkgtest-hello }
handlers:
  hello: { plugin: hello_sink, config: { path: /var/lib/switchyard/hello.log } }
routes:
  "hello.*": [hello]
shutdown_timeout: 5s
EOF
  chmod 0644 "$T/hello.yaml"
  check "switchyard check loads hello_sink" bash -c \
    "as_switchyard /usr/bin/switchyard check -c '$T/hello.yaml' | tee /dev/stderr | grep -q hello_sink"
  start_daemon "$T/hello.yaml" "$T/hello-run.log"
  check "publish hello.world {\"user_id\":42}" switchyard publish -c "$T/hello.yaml" hello.world '{"user_id":42}'
  if wait_for "$POLL_SECONDS" grep -qx 'hello.world 42' /var/lib/switchyard/hello.log; then
    pass "hello_sink handled the event (/var/lib/switchyard/hello.log: hello.world 42)"
  else
    fail "no 'hello.world 42' in /var/lib/switchyard/hello.log after ${POLL_SECONDS}s"
    sed 's/^/     | /' "$T/hello-run.log" | tail -n 20
  fi
  stop_daemon "$T/hello-run.log"

  # --- 8. the real service, where systemd runs (PID 1); containers usually skip this ---
  echo "== systemd service"
  if [ -d /run/systemd/system ]; then
    # The service cannot see /tmp (PrivateTmp=yes): give it a Redis socket under /run.
    RS=$(mktemp -d /run/switchyard-pkg-test.XXXXXX); chmod 0755 "$RS"
    redis-server --port 0 --unixsocket "$RS/redis.sock" --unixsocketperm 777 --dir "$RS" \
      --save '' --appendonly no --daemonize no >"$T/redis2.log" 2>&1 &
    REDIS2_PID=$!
    wait_for 10 redis-cli -s "$RS/redis.sock" ping
    mkdir -p /run/systemd/system/switchyard.service.d
    printf '[Service]\nEnvironment=SWITCHYARD_REDIS_URL=unix://%s/redis.sock\n' "$RS" \
      >/run/systemd/system/switchyard.service.d/50-package-test.conf
    systemctl daemon-reload
    check "systemctl restart switchyard (Type=notify: returns once READY=1)" timeout 60 systemctl restart switchyard
    check "switchyard.service is active" systemctl is-active switchyard
    switchyard publish --redis "unix://$RS/redis.sock" -c /etc/switchyard/routes.yaml user.registered '{"user_id":4242}' >/dev/null 2>&1
    if wait_for "$POLL_SECONDS" bash -c "[ \"\$(rows /var/lib/switchyard/analytics.db 'user_registrations WHERE user_id = 4242')\" = 1 ]"; then
      pass "the sandboxed service wrote /var/lib/switchyard/analytics.db"
    else
      fail "the sandboxed service did not write analytics.db"; journalctl -u switchyard -n 30 --no-pager | sed 's/^/     | /'
    fi
    check "systemctl reload switchyard (SIGHUP)" timeout 30 systemctl reload switchyard
    check "switchyard.service is active after reload" systemctl is-active switchyard
    check "systemctl stop switchyard" timeout 60 systemctl stop switchyard
    rm -f /run/systemd/system/switchyard.service.d/50-package-test.conf
    systemctl daemon-reload
    kill "$REDIS2_PID" 2>/dev/null; wait "$REDIS2_PID" 2>/dev/null; rm -rf "$RS"
  else
    skip "systemd is not running here: the live service test needs systemd as PID 1"
  fi
fi

# --- 9. remove, then purge ---
echo "== remove and purge"
check "dpkg -r switchyard-dev switchyard" dpkg -r switchyard-dev switchyard
check "after remove: /usr/bin/switchyard and the SDK are gone" \
  bash -c '! [ -e /usr/bin/switchyard ] && ! [ -e /usr/include/switchyard ] && ! [ -e /usr/lib/cmake/Switchyard ] && ! [ -e /usr/lib/switchyard ]'
check "after remove: conffile, state dir and user are kept" \
  bash -c '[ -f /etc/switchyard/routes.yaml ] && [ -d /var/lib/switchyard ] && getent passwd switchyard >/dev/null'
check "dpkg -P switchyard switchyard-dev" dpkg -P switchyard switchyard-dev
PURGED=1
check "after purge: /etc/switchyard and /var/lib/switchyard are gone" \
  bash -c '! [ -e /etc/switchyard ] && ! [ -e /var/lib/switchyard ]'
check "after purge: dpkg has no record of either package" \
  bash -c '! installed switchyard && ! installed switchyard-dev'
# Nothing named *switchyard* may remain in the system's trees. Policy allows the system user and
# group to stay (their entries are in /etc/passwd, /etc/group, /etc/shadow, /etc/gshadow), and
# caches that other packages own and expire (man-db's formatted pages in /var/cache/man).
leftovers=$(find /etc /usr /lib /var /opt /srv -xdev \
              \( -path "$SRC" -o -path "$BUILD" -o -path /var/tmp -o -path /var/cache/apt \
                 -o -path /var/cache/man \) -prune -o \
              -iname '*switchyard*' -print 2>/dev/null)
if [ -z "$leftovers" ]; then
  pass "after purge: no file named *switchyard* left in /etc /usr /lib /var /opt /srv"
else
  fail "after purge, left behind:"; sed 's/^/     | /' <<<"$leftovers"
fi
if getent passwd switchyard >/dev/null; then
  info "the switchyard system user and group stay after purge, as Debian policy recommends"
fi

finish
