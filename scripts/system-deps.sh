#!/usr/bin/env bash
# Install the system packages lensguard's tests use when they are missing
# (Debian): PostgreSQL and Redis servers, coturn (TURN), Chromium (browser tests), and
# the validators of `lensguard deploy render` (nginx, nft, fail2ban with its journal
# backend; systemd-analyze comes with systemd). Prints what it does; never fails the
# build when it cannot install (the test harness then says what is missing).
set -u
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v turnserver >/dev/null 2>&1 || missing+=(coturn)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || missing+=(nftables)
command -v fail2ban-regex >/dev/null 2>&1 || missing+=(fail2ban)
python3 -c 'import systemd.journal' >/dev/null 2>&1 || missing+=(python3-systemd)
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: missing ${missing[*]}; install them (Debian: apt-get install ${missing[*]})" >&2
  exit 0
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || \
  echo "system-deps: apt-get install ${missing[*]} failed" >&2
exit 0
