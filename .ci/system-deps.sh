#!/usr/bin/env bash
# Install the real servers the tests run against: Dovecot and PostgreSQL from Debian (and
# groff, which checks the generated man page).
# Radicale and aiosmtpd come from PyPI with the test extras. Idempotent; needs root or sudo.
set -euo pipefail
need=()
command -v /usr/sbin/dovecot >/dev/null 2>&1 || need+=(dovecot-imapd)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v groff >/dev/null 2>&1 || need+=(groff-base)  # renders the man page in a test
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing ${need[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d keeps the packages from starting system-wide daemons; the tests start their own.
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
